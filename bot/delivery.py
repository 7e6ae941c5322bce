"""Delivery to Slack: every Web API call on an answer's path, retried as far as that call allows.

Slack fails too (429s, 5xxs, `ok:false`, answers that never come), and an answer the provider
gave must survive it. This module owns one rule per call: how often to try, how long to wait, and
whether trying again is safe.

* One layer retries, not two. The shared client carries slack_sdk's retry handlers (right for
  everything else Atom does); here a sibling client without them is used, so a 429 is never slept
  on by slack_sdk and then again here, and the total wait is this module's to bound.
* A wait honours Retry-After up to `max_wait`; otherwise it backs off exponentially from `backoff`.
  `attempts` bounds the tries of one call, `timeout` each try (slack_sdk enforces no timeout when
  it shares an aiohttp session, so it is enforced here).
* A failure that proves nothing happened (429, `ok:false`, no connection) may be retried blindly.
  A 500 or a timeout is *ambiguous*: Slack may have done the work and lost only the answer. Calls
  that are safe to repeat (update, delete, stop a stream, reactions) are retried anyway; calls that
  would duplicate text (post, start or append a stream) raise `DeliveryFailed(ambiguous=True)`
  and the caller decides: look for the message (`find_posted`) or rewrite it with `chat.update`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

# `ok:false` errors that mean "Slack had a problem, not your request": worth another try.
TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
# Asking to stop what is already stopped (after a stop whose answer was lost) is a success; the
# call's result then says which (`{"already": FINISHED_STREAM}`).
FINISHED_STREAM = "message_not_in_streaming_state"
ALREADY_DONE = {"chat.stopStream": {FINISHED_STREAM}, "chat.delete": {"message_not_found"}}


@dataclass(frozen=True)
class DeliveryPolicy:
    attempts: int = 3  # tries of one call
    timeout: float = 10.0  # seconds one try may take
    max_wait: float = 5.0  # the longest single wait between tries (Retry-After is honoured up to it)
    backoff: float = 0.5  # first wait without Retry-After; doubles each try


class DeliveryFailed(Exception):
    """A Slack call that did not succeed after every try it was allowed. No text of the answer."""

    def __init__(self, method: str, kind: str, error: str = "", *, ambiguous: bool = False):
        super().__init__(f"{method}: {kind}{f' ({error})' if error else ''}")
        self.method, self.kind, self.error, self.ambiguous = method, kind, error, ambiguous


def wait_before_retry(attempt: int, retry_after: float | None, policy: DeliveryPolicy) -> float:
    """Pure: seconds to wait before try `attempt + 1` (attempt counts from 1)."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), policy.max_wait)
    return min(policy.backoff * 2 ** (attempt - 1), policy.max_wait)


def _retry_after(response) -> float | None:
    headers = {k.lower(): v for k, v in (getattr(response, "headers", None) or {}).items()}
    raw = headers.get("retry-after")
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


def classify(exc: BaseException) -> tuple[str, str, bool, float | None]:
    """(kind, Slack's error, ambiguous, Retry-After) of a failed call."""
    if isinstance(exc, SlackApiError):
        status = getattr(exc.response, "status_code", 200)
        data = exc.response.data if isinstance(exc.response.data, dict) else {}
        error = str(data.get("error") or "")
        if status == 429:
            return "rate_limited", "ratelimited", False, _retry_after(exc.response)
        if status >= 500:
            return "server_error", f"HTTP {status}", True, None
        return "refused", error or f"HTTP {status}", False, _retry_after(exc.response)
    if isinstance(exc, TimeoutError):
        return "timeout", "", True, None
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "unreachable", "", False, None  # never connected: nothing was done
    return "unreachable", type(exc).__name__, True, None


def retrying_sibling(client: AsyncWebClient, timeout: float) -> AsyncWebClient:
    """The same token, base URL and session, without slack_sdk's own retry handlers."""
    return AsyncWebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=max(1, int(timeout + 1)),
        session=client.session,
        retry_handlers=[],
        logger=client.logger,
    )


class SlackDelivery:
    """Web API calls for one answer, each tried under `policy`."""

    def __init__(self, client: AsyncWebClient, policy: DeliveryPolicy | None = None, *, sleep=asyncio.sleep):
        self.policy = policy or DeliveryPolicy()
        self.client = retrying_sibling(client, self.policy.timeout)
        self._sleep = sleep

    async def call(self, method: str, *, repeatable: bool, attempts: int | None = None, **params) -> dict:
        """Call `method`; retry while it is safe. `repeatable`: doing it twice does no harm."""
        tries = attempts or self.policy.attempts
        for attempt in range(1, tries + 1):
            try:
                async with asyncio.timeout(self.policy.timeout):
                    response = await self.client.api_call(method, json=params)
                return response.data if isinstance(response.data, dict) else {}
            except (SlackApiError, TimeoutError, aiohttp.ClientError) as exc:
                kind, error, ambiguous, retry_after = classify(exc)
            if kind == "refused" and error in ALREADY_DONE.get(method, ()):
                return {"ok": True, "already": error}
            retryable = (
                kind in ("rate_limited", "server_error", "timeout", "unreachable")
                or error in TRANSIENT_ERRORS
            )
            if not retryable or (ambiguous and not repeatable) or attempt == tries:
                log.info("Slack %s failed: %s %s (try %d of %d)", method, kind, error, attempt, tries)
                raise DeliveryFailed(method, kind, error, ambiguous=ambiguous)
            await self._sleep(wait_before_retry(attempt, retry_after, self.policy))
        raise AssertionError("unreachable")  # pragma: no cover

    async def quietly(self, method: str, **params) -> dict | None:
        """A nicety (a reaction, a status): one try, a failure only logged."""
        try:
            return await self.call(method, repeatable=True, attempts=1, **params)
        except DeliveryFailed:
            return None

    async def find_posted(
        self, channel: str, thread_ts: str | None, text: str, known: set[str]
    ) -> str | None:
        """After an ambiguous post: the ts of a message of ours with this text that Slack did keep.

        One read of the thread (or the channel's latest messages); a failed read counts as "not
        there" (the answer is then posted again: a possible duplicate beats a lost answer).
        """
        params = {"channel": channel, "limit": 20}
        method = "conversations.history"
        if thread_ts:
            method, params["ts"] = "conversations.replies", thread_ts
        try:
            async with asyncio.timeout(self.policy.timeout):
                response = await self.client.api_call(method, http_verb="GET", params=params)
        except (SlackApiError, TimeoutError, aiohttp.ClientError) as exc:
            log.info("could not look for a message Slack may have kept: %s", classify(exc)[0])
            return None
        wanted = text.strip()
        for message in reversed(response.get("messages") or []):
            ts = message.get("ts")
            if message.get("bot_id") and ts not in known and ts != thread_ts:
                if (message.get("text") or "").strip() == wanted:
                    return ts
        return None
