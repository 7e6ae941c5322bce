"""Calling models: the ordered failover loop over `litellm.acompletion`, with cooldowns.

litellm's Router takes one key per deployment and a per-request key overrides them all, so the
per-person fallback across providers is this loop. Atom owns every retry: `max_retries=0` on
each call (the OpenAI SDK would otherwise retry twice, and litellm caches Azure clients with the
first call's setting), an explicit timeout, and errors told apart by status code (Azure's 500 is
an `APIError`, not an `InternalServerError`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.identity import Person
from bot.llm import endpoints
from bot.llm.caching import with_cache_breakpoints
from bot.llm.credentials import Credential, call_params
from bot.llm.models import ModelSpec
from bot.llm.pricing import cost
from bot.llm.providers import CATALOG
from bot.llm.routing import RoutePlan
from bot.llm.runtime import litellm_async

log = logging.getLogger(__name__)

DEFAULT_COOLDOWN = 30.0
COOLDOWN_CAUSES = {
    "server_error": "a server error",
    "timeout": "a timeout",
    "unreachable": "a connection failure",
}
MAX_COOLDOWN = 600.0
MAX_ANSWER_TOKENS = 4_096
AZURE_UNREACHABLE = "— Atom could not connect to your Azure endpoint"
AZURE_REFUSED = "— Atom did not connect to your Azure endpoint: it now points into a private network"

TextSink = Callable[[str], Awaitable[None]]
# Told of each failed attempt before the next is tried: (the attempt, the model tried next or None).
FailoverSink = Callable[["Attempt", "str | None"], Awaitable[None]]


@dataclass(frozen=True)
class Attempt:
    provider: str
    model: str
    outcome: (
        str  # ok | rate_limited | server_error | timeout | auth_failed | unreachable | rejected | cut_off
    )
    detail: str = ""

    @property
    def label(self) -> str:
        return CATALOG[self.provider].label if self.provider in CATALOG else self.provider


@dataclass
class CallResult:
    text: str = ""
    model: ModelSpec | None = None
    credential: Credential | None = field(default=None, repr=False)
    prompt_tokens: int = 0  # all of them, cached ones included
    completion_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens read from the provider's prompt cache
    cache_write_tokens: int = 0  # prompt tokens written to it (Anthropic)
    cost_usd: float = 0.0
    attempts: list[Attempt] = field(default_factory=list)
    cut_off: bool = False
    first_token_s: float | None = None
    latency_s: float = 0.0
    priced_at: datetime | None = None  # the moment `cost_usd` was priced at (off-peak rates)

    @property
    def answered(self) -> bool:
        return self.model is not None

    @property
    def failures(self) -> list[Attempt]:
        return [a for a in self.attempts if a.outcome not in ("ok", "cut_off")]


class Cooldowns:
    """Per person and provider: do not call again until Retry-After (or a default) has passed."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._until: dict[tuple[str, str, str, str], tuple[float, str]] = {}

    def cool(self, person: Person, provider: str, seconds: float, reason: str) -> None:
        seconds = min(max(seconds, 1.0), MAX_COOLDOWN)
        self._until[(person.enterprise_id, person.team_id, person.user_id, provider)] = (
            self._clock() + seconds,
            reason,
        )

    def active(self, person: Person) -> dict[str, str]:
        now = self._clock()
        cooling = {}
        for (ent, team, user, provider), (until, reason) in list(self._until.items()):
            if until <= now:
                del self._until[(ent, team, user, provider)]
            elif (ent, team, user) == (person.enterprise_id, person.team_id, person.user_id):
                cooling[provider] = f"cooling down for {until - now:.0f}s after {reason}"
        return cooling


def cached_tokens(usage) -> tuple[int, int]:
    """(read from, written to) the prompt cache, from litellm's normalised usage: every provider's
    cache hits arrive as `prompt_tokens_details.cached_tokens`, Anthropic's writes as
    `cache_creation_input_tokens`."""
    if usage is None:
        return 0, 0
    details = getattr(usage, "prompt_tokens_details", None)
    read = getattr(details, "cached_tokens", None) or getattr(usage, "cache_read_input_tokens", None) or 0
    written = getattr(usage, "cache_creation_input_tokens", None) or getattr(
        details, "cache_creation_tokens", None
    )
    return int(read), int(written or 0)


def retry_after(exc: Exception) -> float | None:
    headers = getattr(exc, "litellm_response_headers", None)
    value = headers.get("retry-after") if headers is not None else None
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def classify_error(exc: Exception) -> tuple[str, str]:
    """(outcome, what to tell a person) for a failed call; never the exception's own text."""
    status = getattr(exc, "status_code", None)
    name = type(exc).__name__.lower()
    text = str(exc).lower()
    if "connection" in name:  # before the status: litellm gives connection failures a 500
        return "unreachable", "could not be reached"
    if status in (401, 403) or (status == 400 and "api key" in text):
        return "auth_failed", "rejected the key"
    if status == 429:
        return "rate_limited", "was rate-limited"
    if status == 408 or "timeout" in name:
        return "timeout", "did not answer in time"
    if status is not None and status >= 500:
        return "server_error", f"had a server error ({status})"
    if status == 400:
        return "rejected", "refused the request"
    return "unreachable", f"failed ({status or type(exc).__name__})"


class ModelCaller:
    def __init__(
        self,
        bases: Mapping[str, str],
        timeout: float,
        cooldowns: Cooldowns,
        allowed_networks: Iterable[endpoints.Network] = (),
    ):
        self.bases = bases
        self.timeout = timeout
        self.cooldowns = cooldowns
        self.allowed_networks = tuple(allowed_networks)

    async def run(
        self,
        plan: RoutePlan,
        credentials: Mapping[str, Credential],
        messages: list[dict],
        *,
        person: Person,
        on_text: TextSink,
        on_auth_failure: Callable[[Credential], Awaitable[None]],
        stream: bool = True,
        on_failover: FailoverSink | None = None,
        on_try: Callable[[ModelSpec], None] | None = None,
        extra: Mapping[str, object] | Callable[[ModelSpec], Mapping[str, object]] | None = None,
    ) -> CallResult:
        """Try each candidate in order until one answers. Text streams to `on_text`; a failure
        before the first token moves on to the next candidate, one after it cuts the answer.
        `extra`: more litellm parameters for each candidate, or a function of the candidate's model
        giving them (a workflow plan's `response_format` differs by provider)."""
        litellm = await litellm_async()
        result = CallResult()
        started = time.perf_counter()
        down: set[str] = set()  # providers that failed as a whole (key, rate limit, outage)
        for index, choice in enumerate(plan.candidates):
            model = choice.model
            credential = credentials.get(model.provider)
            if credential is None or model.provider in down:
                continue
            if (endpoint := credential.settings.get("endpoint")) and (
                problem := await endpoints.address_problem(endpoint, self.allowed_networks)
            ):
                # Resolved again before every call: a name that now points into a private network
                # (DNS rebinding) gets no request and no key.
                log.warning("refused to call %s: its endpoint is not a public address", model.provider)
                result.attempts.append(
                    Attempt(
                        model.provider,
                        model.litellm_name,
                        "unreachable",
                        AZURE_UNREACHABLE if problem.startswith(endpoints.NOT_FOUND) else AZURE_REFUSED,
                    )
                )
                self.cooldowns.cool(person, model.provider, DEFAULT_COOLDOWN, "a refused endpoint")
                down.add(model.provider)
                continue
            if on_try is not None:
                on_try(model)  # who is being waited for, should the wait grow long
            params = call_params(credential, self.bases, model.name)
            max_tokens = min(model.max_output_tokens or MAX_ANSWER_TOKENS, MAX_ANSWER_TOKENS)
            text_parts: list[str] = []
            usage = None
            common = {
                "messages": with_cache_breakpoints(model.provider, messages),
                "timeout": self.timeout,
                "max_retries": 0,
                "max_tokens": max_tokens,
                **((extra(model) if callable(extra) else extra) or {}),
            }
            try:
                if stream:
                    chunks = await litellm.acompletion(
                        stream=True, stream_options={"include_usage": True}, **common, **params
                    )
                    async for chunk in chunks:
                        if getattr(chunk, "usage", None):
                            usage = chunk.usage
                        delta = chunk.choices[0].delta.content if chunk.choices else None
                        if delta:
                            if result.first_token_s is None:
                                result.first_token_s = time.perf_counter() - started
                            text_parts.append(delta)
                            await on_text(delta)
                else:
                    response = await litellm.acompletion(**common, **params)
                    usage = response.usage
                    text = response.choices[0].message.content or ""
                    result.first_token_s = time.perf_counter() - started
                    text_parts.append(text)
                    await on_text(text)
            except Exception as exc:  # a provider failure is routed around, never raised to Slack
                outcome, detail = classify_error(exc)
                if outcome == "unreachable" and credential.settings.get("endpoint"):
                    detail = AZURE_UNREACHABLE
                if text_parts:
                    result.attempts.append(Attempt(model.provider, model.litellm_name, "cut_off", detail))
                    result.cut_off = True
                else:
                    result.attempts.append(Attempt(model.provider, model.litellm_name, outcome, detail))
                    await self._after_failure(person, credential, outcome, exc, on_auth_failure)
                    if outcome != "rejected":  # a refused request may suit another model of the same provider
                        down.add(model.provider)
                    log.info("call to %s failed: %s; trying the next model", model.litellm_name, outcome)
                    if on_failover is not None:
                        following = next(
                            (
                                c.model.litellm_name
                                for c in plan.candidates[index + 1 :]
                                if c.model.provider in credentials and c.model.provider not in down
                            ),
                            None,
                        )
                        await on_failover(result.attempts[-1], following)
                    continue
            result.text = "".join(text_parts)
            result.model, result.credential = model, credential
            if not result.cut_off:
                result.attempts.append(Attempt(model.provider, model.litellm_name, "ok"))
            result.prompt_tokens, result.completion_tokens = self._tokens(
                litellm, usage, model, messages, result.text
            )
            result.cached_tokens, result.cache_write_tokens = cached_tokens(usage)
            # Priced at the moment of the call: some providers bill off-peak hours at lower rates.
            result.priced_at = datetime.now(UTC)
            result.cost_usd = cost(
                model,
                result.prompt_tokens,
                result.completion_tokens,
                at=result.priced_at,
                cached=result.cached_tokens,
                cache_write=result.cache_write_tokens,
            )
            break
        result.latency_s = time.perf_counter() - started
        return result

    async def _after_failure(self, person, credential, outcome, exc, on_auth_failure) -> None:
        provider = credential.provider
        if outcome == "auth_failed":
            await on_auth_failure(credential)
        elif outcome == "rate_limited":
            self.cooldowns.cool(person, provider, retry_after(exc) or DEFAULT_COOLDOWN, "a rate limit")
        elif outcome in ("server_error", "timeout", "unreachable"):
            self.cooldowns.cool(person, provider, DEFAULT_COOLDOWN, COOLDOWN_CAUSES[outcome])

    @staticmethod
    def _tokens(litellm, usage, model: ModelSpec, messages: list[dict], text: str) -> tuple[int, int]:
        if usage is not None and getattr(usage, "prompt_tokens", None) is not None:
            return int(usage.prompt_tokens or 0), int(usage.completion_tokens or 0)
        # No usage (a cut-off stream): estimate with the model's tokenizer.
        prompt = litellm.token_counter(model=model.litellm_name, messages=messages)
        completion = litellm.token_counter(model=model.litellm_name, text=text) if text else 0
        return int(prompt), int(completion)
