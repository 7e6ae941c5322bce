"""The Socket Mode connection of `atom run`: slack_sdk's aiohttp client with Atom's reconnect policy.

slack_sdk 3.48's `SocketModeClient.connect()` retries a failed connection every `ping_interval`
seconds for ever, logs each failure with a full traceback, and retries a WebSocket URL that
failed instead of asking Slack for a new one; a failure to get a URL while reconnecting is logged
by whichever task noticed the drop. Here every failure, getting the URL or opening the socket, is
one log line and a wait of 1, 2, 4 … 60 seconds (±20%) before a fresh URL is asked for; the
client stops retrying as soon as it is closed, so a shutdown before the first connection is
clean. Handling of envelopes, pings and Slack's own `disconnect` messages is slack_sdk's.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.response import SocketModeResponse

from bot import request_shapes

log = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 60.0
REFUSED_APP_TOKEN_ERRORS = frozenset({"invalid_auth", "not_authed", "not_allowed_token_type", "token_revoked"})
JITTER = 0.2  # many Atoms restarted together do not knock on Slack's door in step


def retry_delay(failures: int, rng: random.Random | None = None) -> float:
    """Seconds to wait after the `failures`-th failure in a row: doubling from 1 s up to 60 s."""
    base = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** (failures - 1))
    return base * (1 + JITTER * (2 * (rng or random).random() - 1))


def describe(exc: BaseException) -> str:
    """What went wrong, in a few words: Slack's error code, or the exception's type and message."""
    if isinstance(exc, SlackApiError):
        error = exc.response.get("error") or exc.response.status_code
        if error in REFUSED_APP_TOKEN_ERRORS:
            return f"Slack answered {error}: check SLACK_APP_TOKEN (an app-level token with connections:write)"
        return f"Slack answered {error}"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class ClientClosed(Exception):
    """The client was closed while it was waiting to retry."""


class ReconnectingSocketModeClient(SocketModeClient):
    _failures = 0

    async def issue_new_wss_url(self) -> str:
        while True:
            try:
                response = await self.web_client.apps_connections_open(app_token=self.app_token)
                return response["url"]
            except Exception as exc:
                await self._wait_after_failure("could not get a Socket Mode URL from Slack", exc)

    async def connect(self) -> None:
        while not self.closed:
            try:
                if self.wss_uri is None:
                    self.wss_uri = await self.issue_new_wss_url()
                await self._open_session()
            except ClientClosed:
                return
            except Exception as exc:
                self.wss_uri = None  # the next attempt asks Slack for a new URL
                try:
                    await self._wait_after_failure("could not open the Socket Mode connection", exc)
                except ClientClosed:
                    return
                continue
            if self._failures:
                log.info("Socket Mode: connected to Slack after %d failed attempt(s)", self._failures)
            else:
                log.info("Socket Mode: connected to Slack")
            self._failures = 0
            return

    async def _wait_after_failure(self, what: str, exc: Exception) -> None:
        if self.closed:
            raise ClientClosed from None
        self._failures += 1
        delay = retry_delay(self._failures)
        log.warning(
            "Socket Mode: %s (attempt %d: %s); retrying in %.1fs", what, self._failures, describe(exc), delay
        )
        await asyncio.sleep(delay)
        if self.closed:
            raise ClientClosed from None

    async def _open_session(self) -> None:
        """One connection attempt: slack_sdk 3.48's `connect()` body, without its retry loop."""
        old_session = self.current_session
        self.auto_reconnect_enabled = False
        if old_session is not None:
            try:  # a broken old session may fail to close; that must not stop the new one
                await old_session.close()
            except Exception as exc:
                log.debug("Socket Mode: closing the old session failed: %s", describe(exc))
        if self.aiohttp_client_session.closed and not self.closed:
            self.aiohttp_client_session = aiohttp.ClientSession()
        self.current_session = await self.aiohttp_client_session.ws_connect(
            self.wss_uri,
            autoping=False,
            heartbeat=self.ping_interval,
            proxy=self.proxy,
            ssl=self.web_client.ssl if self.web_client.ssl is not None else True,
        )
        self.auto_reconnect_enabled = self.default_auto_reconnect_enabled
        self.stale = False
        await self.current_session.ping(f"sdk-ping-pong:{time.time()}".encode())
        if self.current_session_monitor is not None:
            self.current_session_monitor.cancel()
        self.current_session_monitor = asyncio.ensure_future(self.monitor_current_session())
        if self.message_receiver is not None:
            self.message_receiver.cancel()
        self.message_receiver = asyncio.ensure_future(self.receive_messages())


class SocketModeConnection(AsyncSocketModeHandler):
    """Bolt's Socket Mode handler over `ReconnectingSocketModeClient`."""

    def __init__(self, app: AsyncApp, app_token: str, ping_interval: float = 10):
        self.app = app
        self.app_token = app_token
        self.client = ReconnectingSocketModeClient(
            app_token=app_token, logger=app.logger, web_client=app.client, ping_interval=ping_interval
        )
        self.client.socket_mode_request_listeners.append(self.handle)

    async def handle(self, client, req) -> None:
        """The same shape checks as HTTP's /slack/events (bot/request_shapes.py): an envelope whose
        payload Atom's listeners could not read is acknowledged (Slack must not resend it) and
        dropped with one log line, instead of crashing a listener."""
        check = {"events_api": request_shapes.event_problem, "interactive": request_shapes.interaction_problem}.get(
            req.type
        )
        if check is not None and (problem := check(req.payload)):
            log.info("dropped a malformed Socket Mode %s envelope: %s", req.type, problem)
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        await super().handle(client, req)

    @property
    def connected(self) -> bool:
        session = self.client.current_session
        return session is not None and not session.closed
