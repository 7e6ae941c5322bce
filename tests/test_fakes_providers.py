"""Tests for tests/fakes/providers.py, driven through litellm over real HTTP.

They pin two things at once: that the fake speaks each provider's wire format well enough for
litellm's real request/response code, and how litellm 1.110 reports each failure (exception
type, status, Retry-After), which Atom's error handling relies on. When a litellm upgrade
changes a mapping, the table here fails first; update it and /work/shared/FACTS.md together.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import aiohttp
import pytest

from bot.llm.runtime import load_litellm
from tests.fakes.providers import PROVIDERS, Behaviour, FakeProviders, count_tokens

litellm = load_litellm()
from litellm.exceptions import MidStreamFallbackError  # noqa: E402  (after the offline switches)

MODELS = {
    "openai": "openai/gpt-4o-mini",
    "deepseek": "deepseek/deepseek-chat",
    "anthropic": "anthropic/claude-haiku-4-5",
    "gemini": "gemini/gemini-2.5-flash",
    "azure": "azure/atom-deployment",
}
MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Say hello to the team"},
]
PROMPT_TOKENS = count_tokens("You are terse. Say hello to the team")  # 8 words
HANG_TIMEOUT = 0.5

# What litellm 1.110 sent, verified by these tests: path, query, header carrying the key.
WIRE = {
    "openai": ("/v1/chat/completions", {}, "Authorization", "Bearer {key}"),
    "deepseek": ("/deepseek/chat/completions", {}, "Authorization", "Bearer {key}"),
    "anthropic": ("/anthropic/v1/messages", {}, "x-api-key", "{key}"),
    "gemini": ("/gemini/v1beta/models/gemini-2.5-flash:generateContent", {}, "x-goog-api-key", "{key}"),
    "azure": (
        "/azure/openai/deployments/atom-deployment/chat/completions",
        {"api-version": "2024-10-21"},
        "api-key",
        "{key}",
    ),
}

_keys = itertools.count(1)


def fresh_key() -> str:
    # litellm caches OpenAI/Azure SDK clients per key and base (see the Azure test below):
    # a key of its own keeps one test's client settings out of the next.
    return f"sk-test-{next(_keys):06d}"


@pytest.fixture
async def fake():
    async with FakeProviders() as server:
        yield server


async def complete(
    fake: FakeProviders,
    provider: str,
    *,
    key: str | None = None,
    stream: bool = False,
    request_timeout: float = 5.0,
    retries: int | None = 0,
) -> Any:
    kwargs: dict[str, Any] = {}
    if provider == "azure":
        kwargs["api_version"] = "2024-10-21"
    if stream:
        kwargs["stream_options"] = {"include_usage": True}
    if retries is not None:
        kwargs["max_retries"] = retries
    return await litellm.acompletion(
        model=MODELS[provider],
        messages=MESSAGES,
        api_key=key or fresh_key(),
        api_base=fake.base_for(provider),
        timeout=request_timeout,
        max_tokens=50,
        stream=stream,
        **kwargs,
    )


async def drain(stream: Any, pieces: list[str]) -> Any:
    """Collect text pieces into `pieces` (kept on error) and return the last usage seen."""
    usage = None
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        usage = getattr(chunk, "usage", None) or usage
    return usage


# --- happy paths --------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_completion_returns_text_and_normalised_usage(fake, provider):
    response = await complete(fake, provider)

    assert response.choices[0].message.content == f"Hello from {provider}"
    assert response.usage.prompt_tokens == PROMPT_TOKENS
    assert response.usage.completion_tokens == 3
    assert response.usage.total_tokens == PROMPT_TOKENS + 3


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_wire_path_query_and_auth_header(fake, provider):
    key = fresh_key()
    await complete(fake, provider, key=key)

    [request] = fake.requests
    path, query, header, value = WIRE[provider]
    assert (request.provider, request.method, request.path, request.query) == (provider, "POST", path, query)
    assert request.header(header) == value.format(key=key)
    assert request.model == MODELS[provider].split("/", 1)[1]
    if provider == "anthropic":
        assert request.header("anthropic-version") == "2023-06-01"
    assert key in fake.all_text()


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_streaming_yields_text_in_chunks_and_usage_at_the_end(fake, provider):
    pieces: list[str] = []
    usage = await drain(await complete(fake, provider, stream=True), pieces)

    text = f"Hello from {provider}"
    assert "".join(pieces) == text
    assert len(pieces) == -(-len(text) // fake.chunk_size)  # one piece per chunk_size chars
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (
        PROMPT_TOKENS,
        3,
        PROMPT_TOKENS + 3,
    )
    [request] = fake.requests
    assert request.stream
    if provider == "gemini":
        assert (request.path, request.query) == (
            "/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent",
            {"alt": "sse"},
        )


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_reply_text_precedence(fake, provider):
    fake.reply[provider] = "from the dict"
    assert (await complete(fake, provider)).choices[0].message.content == "from the dict"

    fake.reply_fn = lambda name, body: f"{name} saw {len(str(body))} chars"
    assert (await complete(fake, provider)).choices[0].message.content.startswith(f"{provider} saw ")

    fake.script(provider, Behaviour(text="scripted words here now"))
    response = await complete(fake, provider)
    assert response.choices[0].message.content == "scripted words here now"
    assert response.usage.completion_tokens == 4


async def test_chunk_size_and_delay_are_settings(fake):
    fake.chunk_size = 1
    fake.chunk_delay = 0.001
    fake.reply["anthropic"] = "abc"
    pieces: list[str] = []
    await drain(await complete(fake, "anthropic", stream=True), pieces)
    assert pieces == ["a", "b", "c"]


# --- keys ---------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_valid_keys_reject_other_keys(fake, provider):
    fake.valid_keys[provider] = {"sk-good"}

    with pytest.raises(litellm.AuthenticationError) as caught:
        await complete(fake, provider, key="sk-bad")
    # Gemini's real answer to a bad key is 400 "API key not valid."; litellm still maps it to 401.
    assert caught.value.status_code == 401
    assert (await complete(fake, provider, key="sk-good")).choices[0].message.content


# --- errors -------------------------------------------------------------------------------

# (provider, scripted HTTP status) -> exact exception litellm 1.110 raises for a non-streaming call.
ERRORS = {
    **{(p, 401): litellm.AuthenticationError for p in PROVIDERS},
    **{(p, 429): litellm.RateLimitError for p in PROVIDERS},
    **{(p, 500): litellm.InternalServerError for p in PROVIDERS},
    # Azure 500 is a plain APIError, which is NOT an InternalServerError subclass.
    ("azure", 500): litellm.APIError,
    **{(p, 503): litellm.ServiceUnavailableError for p in PROVIDERS},
    # Gemini 503 comes back as InternalServerError with status_code 500.
    ("gemini", 503): litellm.InternalServerError,
}


@pytest.mark.parametrize(("provider", "status"), sorted(ERRORS))
async def test_error_status_maps_to_litellm_exception_with_one_request(fake, provider, status):
    fake.script(provider, Behaviour(status=status))

    with pytest.raises(Exception) as caught:  # noqa: B017  (exact type asserted below)
        await complete(fake, provider)

    assert type(caught.value) is ERRORS[(provider, status)]
    assert caught.value.llm_provider == provider
    assert caught.value.status_code == (500 if (provider, status) == ("gemini", 503) else status)
    # max_retries=0: exactly one request, so the OpenAI SDK's own retries (OpenAI, Azure) are off.
    assert len(fake.requests_for(provider)) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_rate_limit_exposes_retry_after(fake, provider):
    fake.script(provider, Behaviour(status=429, retry_after=7))

    with pytest.raises(litellm.RateLimitError) as caught:
        await complete(fake, provider)

    # httpx.Headers, case-insensitive, for all five. (`e.response.headers` has it only for OpenAI
    # and Azure, whose errors come from the OpenAI SDK; the others get a synthetic response.)
    assert caught.value.litellm_response_headers["retry-after"] == "7"


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_error_on_stream_request(fake, provider):
    fake.script(provider, Behaviour(status=429, retry_after=3))

    if provider == "gemini":
        # litellm opens Gemini streams lazily: the error surfaces on first iteration, wrapped.
        stream = await complete(fake, provider, stream=True)
        with pytest.raises(MidStreamFallbackError) as caught:
            await drain(stream, [])
        assert isinstance(caught.value.original_exception, litellm.RateLimitError)
    else:
        with pytest.raises(litellm.RateLimitError) as caught:
            await complete(fake, provider, stream=True)
    assert caught.value.status_code == 429
    assert caught.value.litellm_response_headers["retry-after"] == "3"


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_hang_times_out(fake, provider):
    fake.script(provider, Behaviour(hang=True))

    with pytest.raises(litellm.Timeout):
        await complete(fake, provider, request_timeout=HANG_TIMEOUT)
    assert len(fake.requests_for(provider)) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_mid_stream_drop_raises_after_some_text(fake, provider):
    fake.script(provider, Behaviour(drop_after_chunks=2))
    stream = await complete(fake, provider, stream=True)
    pieces: list[str] = []

    with pytest.raises(MidStreamFallbackError) as caught:
        await drain(stream, pieces)

    assert pieces == ["Hell", "o fr"]
    assert isinstance(caught.value.original_exception, litellm.APIConnectionError)
    assert len(fake.requests_for(provider)) == 1


async def test_deepseek_stream_cut_after_finish_chunk_ends_silently(fake):
    """A cut after all text but before the usage chunk is invisible with DeepSeek (litellm 1.110).

    No exception, the text is complete, and litellm makes up usage from its own token count
    (OpenAI and Azure raise MidStreamFallbackError for the same cut). Usage from such a stream is
    an estimate, not the provider's bill.
    """
    text_chunks = -(-len("Hello from deepseek") // fake.chunk_size)
    fake.script("deepseek", Behaviour(drop_after_chunks=text_chunks + 1))  # text + finish chunk
    pieces: list[str] = []

    usage = await drain(await complete(fake, "deepseek", stream=True), pieces)

    assert "".join(pieces) == "Hello from deepseek"
    assert usage is not None


# A stream that stalls after its first text chunk: OpenAI and Azure raise Timeout itself, the
# others wrap it in MidStreamFallbackError (status_code 408).
STALL_ERRORS = {"openai": litellm.Timeout, "azure": litellm.Timeout}


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_mid_stream_stall_times_out(fake, provider):
    fake.script(provider, Behaviour(drop_after_chunks=1, hang=True))
    stream = await complete(fake, provider, stream=True, request_timeout=HANG_TIMEOUT)
    pieces: list[str] = []

    with pytest.raises(Exception) as caught:  # noqa: B017  (exact type asserted below)
        await drain(stream, pieces)

    assert type(caught.value) is STALL_ERRORS.get(provider, MidStreamFallbackError)
    assert caught.value.status_code == 408
    assert pieces == ["Hell"]


# --- retries ------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["openai", "azure"])
async def test_sdk_retries_twice_unless_max_retries_is_zero(fake, provider):
    # Retry-After 0.01 s keeps the SDK's back-off short; the count is what matters.
    fake.fail_always(provider, Behaviour(status=500, retry_after=0.01))

    with pytest.raises(Exception):  # noqa: B017
        await complete(fake, provider, retries=None)
    assert len(fake.requests_for(provider)) == 3

    fake.requests.clear()
    with pytest.raises(Exception):  # noqa: B017
        await complete(fake, provider, retries=0)
    assert len(fake.requests_for(provider)) == 1


async def test_azure_client_cache_keeps_the_first_max_retries(fake):
    """litellm 1.110 caches Azure SDK clients by key, base and api_version but not max_retries.

    The first call for a key fixes its retries; a later `max_retries=` is ignored. Atom must pass
    the same max_retries on every call. If this starts failing, litellm fixed it: drop the note.
    """
    fake.fail_always("azure", Behaviour(status=500, retry_after=0.01))
    key = fresh_key()

    with pytest.raises(litellm.APIError):
        await complete(fake, "azure", key=key, retries=0)
    with pytest.raises(litellm.APIError):
        await complete(fake, "azure", key=key, retries=None)  # would be 3 requests on a new client
    assert len(fake.requests_for("azure")) == 2


# --- scripting and recording --------------------------------------------------------------


async def test_script_queue_then_fail_always_then_clear(fake):
    fake.script("deepseek", Behaviour(status=500), Behaviour(text="second", delay=0.01))
    with pytest.raises(litellm.InternalServerError):
        await complete(fake, "deepseek")
    assert (await complete(fake, "deepseek")).choices[0].message.content == "second"
    assert (await complete(fake, "deepseek")).choices[0].message.content == "Hello from deepseek"
    # Scripts are per provider: OpenAI was not affected.
    assert (await complete(fake, "openai")).choices[0].message.content == "Hello from openai"

    fake.fail_always("deepseek", Behaviour(status=503))
    for _ in range(2):
        with pytest.raises(litellm.ServiceUnavailableError):
            await complete(fake, "deepseek")

    fake.clear()
    assert fake.requests == []
    assert (await complete(fake, "deepseek")).choices[0].message.content == "Hello from deepseek"


async def test_unknown_route_is_recorded_and_404(fake):
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{fake.base_url}/nope/v1/chat?x=1", json={"secret": "s3cr3t"}) as response:
            assert response.status == 404

    [request] = fake.requests
    assert (request.provider, request.path, request.query) == ("unknown", "/nope/v1/chat", {"x": "1"})
    assert "s3cr3t" in fake.all_text()


async def test_stop_releases_a_hanging_request():
    fake = await FakeProviders().start()
    fake.script("openai", Behaviour(hang=True))

    async def call() -> int:
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{fake.openai_base}/chat/completions", json={}, headers={"Authorization": "Bearer k"}
            ) as r:
                return r.status

    task = asyncio.create_task(call())
    await fake.wait_for_requests(1, "openai")
    await fake.stop()
    # A guard against a regression that would hang the suite, not a timing assertion.
    assert await asyncio.wait_for(task, 10) == 503
