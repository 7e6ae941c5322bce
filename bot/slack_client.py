"""The Slack Web API client, built from SLACK_API_URL with every retry handler attached."""

from __future__ import annotations

from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient


def retry_handlers() -> list:
    # slack_sdk attaches only the connection-error handler by default; 429s and 5xxs need their own.
    return [
        AsyncConnectionErrorRetryHandler(max_retry_count=2),
        AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        AsyncServerErrorRetryHandler(max_retry_count=2),
    ]


def build_client(base_url: str, token: str | None = None, timeout: int = 30, session=None) -> AsyncWebClient:
    """`session`: one aiohttp session for every call (slack_sdk opens a new one per call otherwise,
    with a new TCP and TLS handshake each time)."""
    return AsyncWebClient(
        token=token, base_url=base_url, timeout=timeout, retry_handlers=retry_handlers(), session=session
    )
