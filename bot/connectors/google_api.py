"""Calling Google APIs through google-api-python-client, off the event loop.

The client is synchronous (httplib2), so every call runs in a worker thread (its own pool) with a fresh
`httplib2.Http` (it is not thread-safe) wrapped in `AuthorizedHttp` around a token-only credential:
the library never refreshes by itself, Atom's `TokenKeeper` does (once, for every caller). Services
are built once from the bundled discovery documents (`static_discovery=True`, no network) with
`api_endpoint` set to the whole base, because it replaces both root URL and service path.
Errors become `ConnectorError`s by status; Google's response bodies are never passed on.

TLS: httplib2 builds a new `SSLContext` for every HTTPS connection and loads the whole CA bundle
into it (~30 ms of CPU here, per request, since every call has a fresh Http and so a new
connection). Atom's `Http` hands httplib2 (through `Http.request`'s `connection_type`) a connection
class that uses one verified context, made once from the same CA bundle httplib2 would load
(`HTTPLIB2_CA_CERTS`, else certifi, else its own): same verification, hostname check included.
An `SSLContext` is safe to share between threads; connections and Http objects still are not shared.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
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


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying client context for every Google connection (see the module's docstring)."""
    return ssl.create_default_context(cafile=httplib2.certs.where())


class _SharedContextHTTPS(httplib2.HTTPSConnectionWithTimeout):
    """httplib2's HTTPS connection on the shared context. Its own constructor is asked for no
    verification only so that it skips loading the CA bundle; the context it would have used is
    then replaced by the shared one, which verifies (tests/test_connectors_security.py proves an
    untrusted certificate and a wrong host name are refused)."""

    def __init__(self, host, port=None, key_file=None, cert_file=None, timeout=None, proxy_info=None,
                 ca_certs=None, disable_ssl_certificate_validation=False, tls_maximum_version=None,
                 tls_minimum_version=None, key_password=None):
        if disable_ssl_certificate_validation or cert_file or ca_certs or tls_maximum_version or tls_minimum_version:
            raise ValueError("Atom's Google connections use only the shared, verifying TLS context")
        super().__init__(host, port=port, timeout=timeout, proxy_info=proxy_info,
                         disable_ssl_certificate_validation=True)
        self.disable_ssl_certificate_validation = False
        self._context = tls_context()


class Http(httplib2.Http):
    """A fresh one per call, as before (httplib2 is not thread-safe); HTTPS on the shared context."""

    def request(self, uri, method="GET", body=None, headers=None, redirections=httplib2.DEFAULT_MAX_REDIRECTS,
                connection_type=None):
        if connection_type is None and uri.startswith("https:"):
            connection_type = _SharedContextHTTPS
        return super().request(uri, method, body, headers, redirections, connection_type)


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
            Credentials(token), http=Http(timeout=timeout), refresh_status_codes=()
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
