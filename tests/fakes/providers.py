"""Fake LLM providers: one local aiohttp server speaking five providers' real wire formats.

Owns `FakeProviders`, `Behaviour` and `ProviderRequest`. Tests and benchmarks point litellm (or
Atom's settings) at the bases this server hands out, so every call goes over real HTTP through
litellm's real request and response code; nothing in litellm is patched.

Routes, as litellm 1.110 really calls them (checked with `litellm.acompletion`):

    openai     POST /v1/chat/completions                                   Authorization: Bearer
    deepseek   POST /deepseek/chat/completions  (and /deepseek/v1/...)     Authorization: Bearer
    anthropic  POST /anthropic/v1/messages                                 x-api-key, anthropic-version
    gemini     POST /gemini/v1beta/models/<m>:generateContent              x-goog-api-key (or ?key=)
               POST /gemini/v1beta/models/<m>:streamGenerateContent?alt=sse
    azure      POST /azure/openai/deployments/<d>/chat/completions?api-version=...   api-key

Anything else is recorded under provider "unknown" and gets a 404, so a wrong base shows up in
`requests` instead of vanishing.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

PROVIDERS = ("openai", "deepseek", "anthropic", "gemini", "azure")

ReplyFn = Callable[[str, dict[str, Any]], str]


@dataclass(frozen=True)
class Behaviour:
    """How the fake answers one request. The default answers normally.

    - `status`: answer with this HTTP error, in the provider's own error JSON shape.
    - `retry_after`: seconds, sent as a `Retry-After` header (with any status).
    - `delay`: seconds to wait before answering (or before the first streamed chunk).
    - `hang`: never answer, until the client disconnects or the server stops. With
      `drop_after_chunks` the stream stalls at that point instead of being cut.
    - `drop_after_chunks`: streaming only: after the opening events (OpenAI's role chunk,
      Azure's filter chunk, Anthropic's message_start/content_block_start/ping), send this many
      events, then abort the TCP connection. Text chunks come first, so N up to the number of
      text chunks means "N pieces of text arrived"; a larger N cuts among the closing events
      (finish, usage, [DONE] / message_stop); N past the end sends the whole stream.
    - `text`: reply text for this request.
    - `message`: error message instead of the provider's stock one (with `status`).
    """

    status: int | None = None
    retry_after: float | None = None
    delay: float = 0.0
    hang: bool = False
    drop_after_chunks: int | None = None
    text: str | None = None
    message: str | None = None


@dataclass
class ProviderRequest:
    """One request as the fake received it."""

    provider: str
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: dict[str, Any] | None
    body: str
    model: str | None

    @property
    def stream(self) -> bool:
        if self.provider == "gemini":
            return self.path.endswith(":streamGenerateContent")
        return bool((self.json or {}).get("stream"))

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup."""
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)


# --- request helpers ------------------------------------------------------------------------

_TEXT_KEYS = ("content", "text", "system", "parts")


def request_text(body: dict[str, Any] | None) -> str:
    """The conversation text of a request in any of the three formats (messages and system prompt).

    Only the message-bearing top-level fields are walked, so tool schemas and settings do not
    count towards prompt tokens.
    """
    if not body:
        return ""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for key in _TEXT_KEYS:
                if key in node:
                    walk(node[key])

    for key in ("system", "messages", "contents", "systemInstruction", "system_instruction"):
        if key in body:
            walk(body[key])
    return "\n".join(out)


def count_tokens(text: str) -> int:
    """Deterministic stand-in for a tokenizer: whitespace-separated words."""
    return len(text.split())


def split_text(text: str, size: int) -> list[str]:
    size = max(1, size)
    return [text[i : i + size] for i in range(0, len(text), size)]


# --- provider error bodies -------------------------------------------------------------------
# Stock messages are the providers' own wording, so code that pattern-matches error text (as
# litellm's exception mapping does) sees what it would see in production.

_OPENAI_ERRORS = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: (
        "invalid_request_error",
        "invalid_api_key",
        "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
    ),
    403: (
        "invalid_request_error",
        "unsupported_country_region_territory",
        "Country, region, or territory not supported",
    ),
    404: (
        "invalid_request_error",
        "model_not_found",
        "The model does not exist or you do not have access to it.",
    ),
    429: (
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached for requests per min (RPM). Please try again in 20s.",
    ),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}

_DEEPSEEK_ERRORS = {
    400: ("invalid_request_error", "invalid_request_error", "Invalid Format"),
    401: ("authentication_error", "invalid_request_error", "Authentication Fails, Your api key is invalid"),
    402: ("unknown_error", "invalid_request_error", "Insufficient Balance"),
    422: ("invalid_request_error", "invalid_request_error", "Invalid Parameters"),
    429: ("rate_limit_error", "invalid_request_error", "Rate Limit Reached"),
    500: ("server_error", "internal_error", "Server Error"),
    503: ("server_error", "service_unavailable", "Server Overloaded"),
}

_ANTHROPIC_ERRORS = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "The requested resource could not be found."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: (
        "rate_limit_error",
        "This request would exceed the rate limit for your organization of 50 requests per minute.",
    ),
    500: ("api_error", "Internal server error"),
    529: ("overloaded_error", "Overloaded"),
}

_GEMINI_ERRORS = {
    400: ("INVALID_ARGUMENT", "Request contains an invalid argument."),
    401: (
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
        "or other valid authentication credential.",
    ),
    403: ("PERMISSION_DENIED", "The caller does not have permission"),
    404: ("NOT_FOUND", "models/unknown is not found for API version v1beta."),
    429: (
        "RESOURCE_EXHAUSTED",
        "You exceeded your current quota, please check your plan and billing details.",
    ),
    500: (
        "INTERNAL",
        "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
    ),
    503: ("UNAVAILABLE", "The model is overloaded. Please try again later."),
    504: ("DEADLINE_EXCEEDED", "The request timed out. Please try again."),
}

_AZURE_ERRORS = {
    400: ("BadRequest", "Invalid request."),
    401: (
        "401",
        "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid "
        "key for an active subscription and use a correct regional API endpoint for your resource.",
    ),
    404: ("DeploymentNotFound", "The API deployment for this resource does not exist."),
    429: (
        "429",
        "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have "
        "exceeded call rate limit of your current OpenAI S0 pricing tier. Please retry after 1 second.",
    ),
    500: ("InternalServerError", "The server had an error while processing your request. Sorry about that!"),
    503: (
        "ServiceUnavailable",
        "The service is temporarily unable to process your request. Please try again later.",
    ),
}


def error_body(provider: str, status: int, message: str | None = None) -> dict[str, Any]:
    """The JSON body `provider` sends with an HTTP `status` error."""
    if provider in ("openai", "deepseek"):
        table = _OPENAI_ERRORS if provider == "openai" else _DEEPSEEK_ERRORS
        kind, code, stock = table.get(
            status, ("server_error" if status >= 500 else "invalid_request_error", None, f"HTTP {status}")
        )
        return {"error": {"message": message or stock, "type": kind, "param": None, "code": code}}
    if provider == "anthropic":
        kind, stock = _ANTHROPIC_ERRORS.get(
            status, ("api_error" if status >= 500 else "invalid_request_error", f"HTTP {status}")
        )
        return {
            "type": "error",
            "error": {"type": kind, "message": message or stock},
            "request_id": "req_fake000000000000000000",
        }
    if provider == "gemini":
        kind, stock = _GEMINI_ERRORS.get(
            status, ("INTERNAL" if status >= 500 else "FAILED_PRECONDITION", f"HTTP {status}")
        )
        return {"error": {"code": status, "message": message or stock, "status": kind}}
    if provider == "azure":
        code, stock = _AZURE_ERRORS.get(status, (str(status), f"HTTP {status}"))
        return {"error": {"code": code, "message": message or stock}}
    return {"error": {"message": message or "Not found", "code": status}}


def _gemini_bad_key_body() -> dict[str, Any]:
    # Gemini rejects a wrong API key with 400 INVALID_ARGUMENT (not 401); litellm maps it to
    # AuthenticationError by the "API key not valid." text.
    return {
        "error": {
            "code": 400,
            "message": "API key not valid. Please pass a valid API key.",
            "status": "INVALID_ARGUMENT",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                    "metadata": {"service": "generativelanguage.googleapis.com"},
                }
            ],
        }
    }


# --- the server ------------------------------------------------------------------------------


class FakeProviders:
    """Local fake of OpenAI, DeepSeek, Anthropic, Gemini and Azure OpenAI, on one random port.

    Configure by attribute at any time: `valid_keys[provider]` (empty set = any non-empty key),
    `reply[provider]`, `reply_fn(provider, request_json) -> str`, `chunk_size`, `chunk_delay`,
    `cache[provider] = (read, written)`: prompt tokens to report as read from / written to the
    provider's prompt cache, in its own usage shape (OpenAI and Azure `prompt_tokens_details.
    cached_tokens`, DeepSeek `prompt_cache_hit_tokens`, Gemini `cachedContentTokenCount`, Anthropic
    `cache_read_input_tokens` / `cache_creation_input_tokens` — only for a request that marks a
    prefix with `cache_control`, as Anthropic's API does).
    Reply text precedence: `Behaviour.text` > `reply_fn` > `reply[provider]` > "Hello from <provider>".
    """

    def __init__(
        self,
        *,
        chunk_size: int = 4,
        chunk_delay: float = 0.0,
        reply_fn: ReplyFn | None = None,
        valid_keys: dict[str, Iterable[str]] | None = None,
    ) -> None:
        self.chunk_size = chunk_size
        self.chunk_delay = chunk_delay
        self.reply_fn = reply_fn
        self.reply: dict[str, str] = {}
        self.cache: dict[str, tuple[int, int]] = {}
        self.valid_keys: dict[str, set[str]] = {p: set() for p in PROVIDERS}
        for provider, keys in (valid_keys or {}).items():
            self.valid_keys[provider] = set(keys)
        self.requests: list[ProviderRequest] = []
        self._arrived = asyncio.Condition()
        self._scripts: dict[str, deque[Behaviour]] = {p: deque() for p in PROVIDERS}
        self._always: dict[str, Behaviour] = {}
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        # Set on stop() so that hanging handlers return and shutdown is prompt.
        self._stopping = asyncio.Event()

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> FakeProviders:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._openai_like("openai"))
        app.router.add_post("/deepseek/chat/completions", self._openai_like("deepseek"))
        app.router.add_post("/deepseek/v1/chat/completions", self._openai_like("deepseek"))
        app.router.add_post("/anthropic/v1/messages", self._anthropic)
        app.router.add_post("/gemini/v1beta/models/{target}", self._gemini)
        app.router.add_post(
            "/azure/openai/deployments/{deployment}/chat/completions", self._openai_like("azure")
        )
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        # handler_cancellation: a hanging handler is cancelled when the client gives up, like a
        # real server's request would be; a short shutdown_timeout keeps stop() fast.
        self._stopping = asyncio.Event()
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeProviders:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- addresses ------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeProviders is not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base(self) -> str:
        return f"{self.base_url}/v1"

    @property
    def deepseek_base(self) -> str:
        return f"{self.base_url}/deepseek"

    @property
    def anthropic_base(self) -> str:
        return f"{self.base_url}/anthropic"

    @property
    def gemini_base(self) -> str:
        return f"{self.base_url}/gemini/v1beta"

    @property
    def azure_endpoint(self) -> str:
        return f"{self.base_url}/azure"

    def base_for(self, provider: str) -> str:
        """The `api_base` for a provider name."""
        return {
            "openai": self.openai_base,
            "deepseek": self.deepseek_base,
            "anthropic": self.anthropic_base,
            "gemini": self.gemini_base,
            "azure": self.azure_endpoint,
        }[provider]

    # -- scripting ------------------------------------------------------------------------

    def script(self, provider: str, *behaviours: Behaviour) -> None:
        """Queue behaviours for the next requests to `provider`, one per request, in order."""
        self._scripts[provider].extend(behaviours)

    def fail_always(self, provider: str, behaviour: Behaviour) -> None:
        """Answer every request to `provider` with `behaviour` once its script is used up."""
        self._always[provider] = behaviour

    def clear(self) -> None:
        """Forget scripts, `fail_always` and recorded requests; keys and reply settings stay."""
        for queue in self._scripts.values():
            queue.clear()
        self._always.clear()
        self.requests.clear()

    def _next_behaviour(self, provider: str) -> Behaviour:
        queue = self._scripts[provider]
        if queue:
            return queue.popleft()
        return self._always.get(provider, Behaviour())

    # -- inspection -----------------------------------------------------------------------

    def requests_for(self, provider: str) -> list[ProviderRequest]:
        return [r for r in self.requests if r.provider == provider]

    async def wait_for_requests(self, count: int = 1, provider: str | None = None) -> list[ProviderRequest]:
        """Wait until `count` requests (to `provider`, or to any) have arrived; returns them.

        For tests that must act while a call is in flight (a `hang`), without polling.
        """

        def matching() -> list[ProviderRequest]:
            return self.requests if provider is None else self.requests_for(provider)

        async with self._arrived:
            await self._arrived.wait_for(lambda: len(matching()) >= count)
        return matching()

    def all_text(self) -> str:
        """Everything received (request lines, headers, bodies), for secret-leak searches."""
        parts = []
        for r in self.requests:
            query = "&".join(f"{k}={v}" for k, v in r.query.items())
            parts.append(f"{r.method} {r.path}{'?' + query if query else ''}")
            parts.extend(f"{k}: {v}" for k, v in r.headers.items())
            parts.append(r.body)
        return "\n".join(parts)

    # -- request plumbing -----------------------------------------------------------------

    async def _record(self, provider: str, request: web.Request, model: str | None) -> ProviderRequest:
        raw = await request.text()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        if model is None and isinstance(body, dict):
            model = body.get("model")
        record = ProviderRequest(
            provider=provider,
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=dict(request.headers),
            json=body if isinstance(body, dict) else None,
            body=raw,
            model=model,
        )
        self.requests.append(record)
        async with self._arrived:
            self._arrived.notify_all()
        return record

    def _key_ok(self, provider: str, key: str | None) -> bool:
        if not key:
            return False
        allowed = self.valid_keys.get(provider)
        return not allowed or key in allowed

    def _reply_text(self, provider: str, record: ProviderRequest, behaviour: Behaviour) -> str:
        if behaviour.text is not None:
            return behaviour.text
        if self.reply_fn is not None:
            return self.reply_fn(provider, record.json or {})
        return self.reply.get(provider, f"Hello from {provider}")

    async def _hold(self) -> None:
        """Hang until the server stops; a client disconnect cancels this task first."""
        await self._stopping.wait()

    @staticmethod
    def _extra_headers(behaviour: Behaviour) -> dict[str, str]:
        if behaviour.retry_after is None:
            return {}
        value = behaviour.retry_after
        return {"Retry-After": str(int(value)) if float(value).is_integer() else str(value)}

    def _error(
        self, provider: str, behaviour: Behaviour, status: int, body: dict[str, Any] | None = None
    ) -> web.Response:
        if body is None:
            body = error_body(provider, status, behaviour.message)
            if provider == "gemini" and status == 429 and behaviour.retry_after is not None:
                # Real Gemini says when to retry inside the body, as google.rpc.RetryInfo.
                body["error"]["details"] = [
                    {
                        "@type": "type.googleapis.com/google.rpc.RetryInfo",
                        "retryDelay": f"{int(behaviour.retry_after)}s",
                    }
                ]
        return web.json_response(body, status=status, headers=self._extra_headers(behaviour))

    async def _pre_answer(self, provider: str, behaviour: Behaviour) -> web.Response | None:
        """Delay, hang or scripted error shared by all providers; None means answer normally."""
        if behaviour.delay:
            await asyncio.sleep(behaviour.delay)
        if behaviour.hang and behaviour.drop_after_chunks is None:
            await self._hold()
            return web.Response(status=503, text="fake provider stopped")
        if behaviour.status is not None and behaviour.status >= 300:
            return self._error(provider, behaviour, behaviour.status)
        return None

    async def _stream(
        self, request: web.Request, behaviour: Behaviour, events: Iterable[bytes], n_preamble: int
    ) -> web.StreamResponse:
        """Send SSE events; the first `n_preamble` (no text) do not count towards `drop_after_chunks`."""
        response = web.StreamResponse(
            status=200,
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                **self._extra_headers(behaviour),
            },
        )
        await response.prepare(request)
        sent = 0
        for index, event in enumerate(events):
            counted = index >= n_preamble
            if counted and behaviour.drop_after_chunks is not None and sent >= behaviour.drop_after_chunks:
                if behaviour.hang:
                    await self._hold()
                    return response
                # Abort (not close) so the client sees a broken chunked body, as with a reset.
                # aiohttp's own write_eof afterwards fails with ConnectionError, which it handles.
                if request.transport is not None:
                    request.transport.abort()
                return response
            if counted and sent and self.chunk_delay:
                await asyncio.sleep(self.chunk_delay)
            await response.write(event)
            if counted:
                sent += 1
        await response.write_eof()
        return response

    def _id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):024d}"

    # -- unknown --------------------------------------------------------------------------

    async def _unknown(self, request: web.Request) -> web.Response:
        await self._record("unknown", request, None)
        return web.json_response(
            {"error": {"message": f"fake providers: no route {request.path}"}}, status=404
        )

    # -- OpenAI, DeepSeek, Azure ----------------------------------------------------------

    def _openai_like(self, provider: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handler(request: web.Request) -> web.StreamResponse:
            return await self._handle_openai_like(provider, request)

        return handler

    async def _handle_openai_like(self, provider: str, request: web.Request) -> web.StreamResponse:
        deployment = request.match_info.get("deployment")
        record = await self._record(provider, request, deployment)
        behaviour = self._next_behaviour(provider)
        if early := await self._pre_answer(provider, behaviour):
            return early
        if provider == "azure":
            if "api-version" not in request.query:
                return self._error(
                    provider, behaviour, 404, {"error": {"code": "404", "message": "Resource not found"}}
                )
            key = request.headers.get("api-key") or _bearer(request)
        else:
            key = _bearer(request)
        if not self._key_ok(provider, key):
            return self._error(provider, behaviour, 401)

        body = record.json or {}
        model = record.model or body.get("model") or "unknown"
        text = self._reply_text(provider, record, behaviour)
        usage = self._openai_usage(provider, body, text, self.cache.get(provider, (0, 0))[0])
        completion_id = self._id("chatcmpl-")
        created = int(time.time())
        fingerprint = None if provider == "azure" else "fp_fake"

        if not body.get("stream"):
            choice: dict[str, Any] = {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
            payload: dict[str, Any] = {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [choice],
                "usage": usage,
                "system_fingerprint": fingerprint,
            }
            if provider == "azure":
                # Azure adds content-filter annotations to every answer.
                payload["prompt_filter_results"] = [
                    {"prompt_index": 0, "content_filter_results": _AZURE_FILTERS}
                ]
                choice["content_filter_results"] = _AZURE_FILTERS
            return web.json_response(payload, headers=self._extra_headers(behaviour))

        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        def chunk(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> bytes:
            data: dict[str, Any] = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": fingerprint,
                "choices": []
                if delta is None
                else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            }
            if include_usage:
                data["usage"] = None  # OpenAI sends null usage on every chunk but the last
            data.update(extra)
            return _sse_data(data)

        preamble: list[bytes] = []
        if provider == "azure":
            # Azure's stream opens with a choice-less chunk holding the prompt filter results.
            preamble.append(
                _sse_data(
                    {
                        "id": "",
                        "object": "",
                        "created": 0,
                        "model": "",
                        "choices": [],
                        "prompt_filter_results": [
                            {"prompt_index": 0, "content_filter_results": _AZURE_FILTERS}
                        ],
                    }
                )
            )
        preamble.append(chunk({"role": "assistant", "content": "", "refusal": None}))
        events = [*preamble, *(chunk({"content": piece}) for piece in split_text(text, self.chunk_size))]
        events.append(chunk({}, "stop"))
        if include_usage:
            events.append(chunk(None, usage=usage))
        events.append(b"data: [DONE]\n\n")
        return await self._stream(request, behaviour, events, len(preamble))

    @staticmethod
    def _openai_usage(provider: str, body: dict[str, Any], text: str, cached: int = 0) -> dict[str, Any]:
        prompt = count_tokens(request_text(body))
        cached = min(cached, prompt)
        completion = count_tokens(text)
        usage: dict[str, Any] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        if provider == "deepseek":
            usage.update(prompt_cache_hit_tokens=cached, prompt_cache_miss_tokens=prompt - cached)
        else:
            usage.update(
                prompt_tokens_details={"cached_tokens": cached, "audio_tokens": 0},
                completion_tokens_details={"reasoning_tokens": 0, "audio_tokens": 0},
            )
        return usage

    # -- Anthropic ------------------------------------------------------------------------

    async def _anthropic(self, request: web.Request) -> web.StreamResponse:
        provider = "anthropic"
        record = await self._record(provider, request, None)
        behaviour = self._next_behaviour(provider)
        if early := await self._pre_answer(provider, behaviour):
            return early
        if not self._key_ok(provider, request.headers.get("x-api-key")):
            return self._error(provider, behaviour, 401)
        if not request.headers.get("anthropic-version"):
            body = error_body(provider, 400, "anthropic-version: header is required")
            return self._error(provider, behaviour, 400, body)

        body = record.json or {}
        model = record.model or "unknown"
        text = self._reply_text(provider, record, behaviour)
        prompt_tokens = count_tokens(request_text(body))
        output_tokens = count_tokens(text)
        message_id = self._id("msg_fake")
        read, written = self.cache.get(provider, (0, 0)) if "cache_control" in record.body else (0, 0)
        read = min(read, prompt_tokens)
        written = min(written, prompt_tokens - read)
        usage = {
            # Anthropic's input_tokens are the ones after the last cache breakpoint only.
            "input_tokens": prompt_tokens - read - written,
            "output_tokens": output_tokens,
            "cache_creation_input_tokens": written,
            "cache_read_input_tokens": read,
        }
        if not body.get("stream"):
            return web.json_response(
                {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [{"type": "text", "text": text}],
                    "stop_reason": "end_turn",
                    "stop_sequence": None,
                    "usage": usage,
                },
                headers=self._extra_headers(behaviour),
            )

        def event(name: str, data: dict[str, Any]) -> bytes:
            return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()

        preamble = [
            event(
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": message_id,
                        "type": "message",
                        "role": "assistant",
                        "model": model,
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        # Anthropic reports input tokens up front, output tokens in message_delta.
                        "usage": {**usage, "output_tokens": 1},
                    },
                },
            ),
            event(
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            ),
            event("ping", {"type": "ping"}),
        ]
        deltas = [
            event(
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}},
            )
            for piece in split_text(text, self.chunk_size)
        ]
        tail = [
            event("content_block_stop", {"type": "content_block_stop", "index": 0}),
            event(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": output_tokens},
                },
            ),
            event("message_stop", {"type": "message_stop"}),
        ]
        return await self._stream(request, behaviour, [*preamble, *deltas, *tail], len(preamble))

    # -- Gemini ---------------------------------------------------------------------------

    async def _gemini(self, request: web.Request) -> web.StreamResponse:
        provider = "gemini"
        model, _, method = request.match_info["target"].partition(":")
        record = await self._record(provider, request, model)
        if method not in ("generateContent", "streamGenerateContent"):
            return self._error(
                provider, Behaviour(), 404, error_body(provider, 404, f"Method {method!r} not found")
            )
        behaviour = self._next_behaviour(provider)
        if early := await self._pre_answer(provider, behaviour):
            return early
        key = request.headers.get("x-goog-api-key") or request.query.get("key")
        if not key:
            body = error_body(
                provider,
                403,
                "Method doesn't allow unregistered callers (callers without established identity). "
                "Please use API Key or other form of API consumer identity to call this API.",
            )
            return self._error(provider, behaviour, 403, body)
        if not self._key_ok(provider, key):
            return self._error(provider, behaviour, 400, _gemini_bad_key_body())

        body = record.json or {}
        text = self._reply_text(provider, record, behaviour)
        prompt = count_tokens(request_text(body))
        completion = count_tokens(text)
        response_id = self._id("fake")
        final_usage = {
            "promptTokenCount": prompt,
            "candidatesTokenCount": completion,
            "totalTokenCount": prompt + completion,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
        }
        if cached := min(self.cache.get(provider, (0, 0))[0], prompt):
            final_usage["cachedContentTokenCount"] = cached

        def payload(parts_text: str, finish: str | None, usage: dict[str, Any]) -> dict[str, Any]:
            candidate: dict[str, Any] = {
                "content": {"parts": [{"text": parts_text}], "role": "model"},
                "index": 0,
            }
            if finish:
                candidate["finishReason"] = finish
            return {
                "candidates": [candidate],
                "usageMetadata": usage,
                "modelVersion": model,
                "responseId": response_id,
            }

        if method == "generateContent":
            return web.json_response(
                payload(text, "STOP", final_usage), headers=self._extra_headers(behaviour)
            )

        if request.query.get("alt") != "sse":
            # Without alt=sse Gemini streams one JSON array; litellm always asks for SSE.
            return self._error(
                provider,
                behaviour,
                400,
                error_body(provider, 400, "fake providers: only alt=sse is supported"),
            )
        pieces = split_text(text, self.chunk_size) or [""]
        events = []
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            # Gemini repeats usageMetadata on every chunk; candidatesTokenCount is final on the last.
            usage = final_usage if last else {"promptTokenCount": prompt, "totalTokenCount": prompt}
            events.append(_sse_data(payload(piece, "STOP" if last else None, usage), sep=b"\r\n\r\n"))
        return await self._stream(request, behaviour, events, 0)


_AZURE_FILTERS = {
    "hate": {"filtered": False, "severity": "safe"},
    "self_harm": {"filtered": False, "severity": "safe"},
    "sexual": {"filtered": False, "severity": "safe"},
    "violence": {"filtered": False, "severity": "safe"},
}


def _bearer(request: web.Request) -> str | None:
    value = request.headers.get("Authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _sse_data(data: dict[str, Any], sep: bytes = b"\n\n") -> bytes:
    return b"data: " + json.dumps(data, separators=(",", ":")).encode() + sep


__all__ = [
    "PROVIDERS",
    "Behaviour",
    "FakeProviders",
    "ProviderRequest",
    "count_tokens",
    "error_body",
    "request_text",
]
