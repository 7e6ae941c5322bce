"""Calling Google APIs through google-api-python-client, off the event loop.

The client is synchronous (httplib2), so every call runs in a worker thread (its own pool) with a fresh
`httplib2.Http` (it is not thread-safe) wrapped in `AuthorizedHttp` around a token-only credential:
the library never refreshes by itself, Atom's `TokenKeeper` does (once, for every caller). Services
are built once from the bundled discovery documents (`static_discovery=True`, no network) with
`api_endpoint` set to the whole base, because it replaces both root URL and service path.
Errors become `ConnectorError`s by status; Google's response bodies are never passed on.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import google_auth_httplib2
import httplib2
from google.auth.exceptions import RefreshError
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from bot.connectors.base import ActionContext, ConnectorError, status_error

# api → (version, path under ATOM_GOOGLE_API_URL that the discovery paths are relative to)
APIS = {
    "calendar": ("v3", "/calendar/v3/"),
    "drive": ("v3", "/drive/v3/"),
    "gmail": ("v1", "/"),  # Gmail's discovery paths already start with gmail/v1/
}


# Google calls wait on the network, not the CPU: their own pool, so twenty slow calls neither queue
# behind the default executor's few threads (min(32, cores + 4)) nor take them from everything else.
GOOGLE_THREADS = 32


@functools.cache
def _threads() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=GOOGLE_THREADS, thread_name_prefix="atom-google")


class Resources:
    """One built service and its sub-resources, each made once: `service.events()` regenerates
    every method's docstring from the discovery document (~15 ms here), while a request built from
    a kept resource costs ~0.2 ms. Requests carry no shared state (each executes with its own
    Http), so threads share these."""

    def __init__(self, service):
        self._service = service
        self._made: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __call__(self, path: str):
        """`"events"`, `"users.messages"`: the sub-resource at that path."""
        with self._lock:
            if path not in self._made:
                node = self._service
                for part in path.split("."):
                    node = getattr(node, part)()
                self._made[path] = node
            return self._made[path]


@functools.lru_cache(maxsize=16)
def _service(api: str, base: str) -> Resources:
    version, path = APIS[api]
    # The Http given here is never used to send: every request is executed with its own.
    return Resources(build(
        api,
        version,
        http=httplib2.Http(),
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": base.rstrip("/") + path},
    ))


async def call_google(ctx: ActionContext, api: str, work: Callable[[Any, Any], Any]) -> Any:
    """Run `work(resource, http)` in a worker thread; `work` builds requests on `resource("events")`
    and the like and calls `.execute(http=http)` (as often as it needs). Returns what it returns."""
    service = _service(api, ctx.settings.connector_urls["google_api"])
    token = ctx.token.reveal() if ctx.token is not None else ""
    timeout = ctx.timeout

    def in_thread():
        # No refresh on 401 here: TokenKeeper refreshes, and a 401 means the grant is gone.
        http = google_auth_httplib2.AuthorizedHttp(
            Credentials(token), http=httplib2.Http(timeout=timeout), refresh_status_codes=()
        )
        try:
            return work(service, http)
        except HttpError as exc:
            # Only the status and Retry-After leave this thread: the exception text has the URL.
            raise status_error(exc.resp.status, exc.resp.get("retry-after")) from None
        except RefreshError:
            raise ConnectorError("unauthorized") from None
        except TimeoutError:
            raise ConnectorError("timeout") from None
        except (OSError, httplib2.HttpLib2Error):
            raise ConnectorError("unreachable") from None

    try:
        # The thread cannot be stopped; the wait for it can. A little over httplib2's own timeout.
        async with asyncio.timeout(timeout + 2):  # no extra task, unlike wait_for
            return await asyncio.get_running_loop().run_in_executor(_threads(), in_thread)
    except TimeoutError:
        raise ConnectorError("timeout") from None
