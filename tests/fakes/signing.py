"""Plays Slack sending signed HTTP requests to the app's `/slack/events` endpoint.

This module owns `SlackRequestClient`: it builds real-format bodies (from `tests.fakes.payloads`),
signs them with Slack's v0 scheme — `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}` keyed
with the signing secret, sent as `X-Slack-Signature` with `X-Slack-Request-Timestamp`, the same
algorithm `slack_sdk.signature.SignatureVerifier` checks — and POSTs them over real HTTP.
Signatures, timestamps and headers can be forged, skewed or left out to test verification.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp

from tests.fakes.payloads import (
    TEAM_ID,
    VERIFICATION_TOKEN,
    app_home_opened_event,
    app_mention_event,
    assistant_thread_context_changed_event,
    assistant_thread_started_event,
    block_actions_payload,
    bot_message_event,
    command_payload,
    event_callback,
    global_shortcut_payload,
    message_action_payload,
    message_event,
    message_im_event,
    next_id,
    text_input_values,
    url_verification_body,
    view_dict,
    view_submission_payload,
)

# Re-exported so tests can import every builder from here as well as from payloads.
__all__ = [
    "Response",
    "SlackRequestClient",
    "app_home_opened_event",
    "app_mention_event",
    "assistant_thread_context_changed_event",
    "assistant_thread_started_event",
    "block_actions_payload",
    "bot_message_event",
    "command_payload",
    "event_callback",
    "global_shortcut_payload",
    "message_action_payload",
    "message_event",
    "message_im_event",
    "sign",
    "text_input_values",
    "url_verification_body",
    "view_dict",
    "view_submission_payload",
]

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def sign(signing_secret: str, timestamp: str | int, body: bytes | str) -> str:
    """Slack's v0 request signature for `body` sent at `timestamp`."""
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass
class Response:
    """What the app answered."""

    status: int
    text: str
    headers: dict[str, str]

    @property
    def json(self) -> Any:
        """The body parsed as JSON, or None when it is empty or not JSON (Bolt often acks with "")."""
        try:
            return json.loads(self.text)
        except ValueError:
            return None


class SlackRequestClient:
    """Sends Slack-signed requests to `{base_url}{path}` (path defaults to `/slack/events`).

    Set `response_url_base` (e.g. to `FakeSlack.response_url_base`) so response_url values in
    commands, message actions and message-borne block actions lead to the fake and get recorded.
    """

    def __init__(
        self,
        base_url: str,
        signing_secret: str,
        *,
        path: str = "/slack/events",
        response_url_base: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.signing_secret = signing_secret
        self.path = path
        self.response_url_base = response_url_base
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> SlackRequestClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _response_url(self, kind: str, team_id: str) -> str | None:
        if self.response_url_base is None:
            return None  # payload builders fall back to a dead loopback URL
        return f"{self.response_url_base.rstrip('/')}/{kind}/{team_id}/{next_id('')}/fake"

    async def post(
        self,
        body: bytes | str,
        content_type: str,
        *,
        timestamp: int | str | None = None,
        signature: str | None = None,
        extra_headers: dict[str, str] | None = None,
        sign: bool = True,
    ) -> Response:
        """POST `body` signed as Slack would; override `timestamp`/`signature`, or `sign=False` to omit.

        With sign=False neither header is sent unless passed explicitly. (The keyword is named `sign`
        as the harness API asks; it shadows the module's `sign()` only inside this method.)
        """
        raw = body.encode() if isinstance(body, str) else body
        headers = {"Content-Type": content_type, "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)"}
        if sign or timestamp is not None:
            # The real wall clock: Bolt rejects timestamps more than 5 minutes away from it.
            ts = str(timestamp if timestamp is not None else int(time.time()))
            headers["X-Slack-Request-Timestamp"] = ts
        if sign or signature is not None:
            headers["X-Slack-Signature"] = signature or _sign_for(self.signing_secret, headers, raw)
        headers.update(extra_headers or {})
        if self._session is None:
            self._session = aiohttp.ClientSession()
        async with self._session.post(f"{self.base_url}{self.path}", data=raw, headers=headers) as resp:
            text = await resp.text()
            return Response(status=resp.status, text=text, headers=dict(resp.headers))

    async def post_json(self, body: dict[str, Any], **kwargs: Any) -> Response:
        return await self.post(json.dumps(body), JSON, **kwargs)

    async def post_form(self, fields: dict[str, str], **kwargs: Any) -> Response:
        return await self.post(urlencode(fields), FORM, **kwargs)

    async def post_payload(self, payload: dict[str, Any], **kwargs: Any) -> Response:
        """Interactivity: Slack form-encodes the JSON under a single `payload` field."""
        return await self.post_form({"payload": json.dumps(payload)}, **kwargs)

    # ------------------------------------------------------------------ Events API

    async def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        team_id: str = TEAM_ID,
        enterprise_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str | None = None,
        authorizations: list[dict[str, Any]] | None = None,
    ) -> Response:
        """Deliver `event` in an event_callback; retry_num/retry_reason mark it as Slack's redelivery."""
        body = event_callback(
            event,
            event_id=event_id,
            team_id=team_id,
            enterprise_id=enterprise_id,
            authorizations=authorizations,
            event_time=int(time.time()),
        )
        headers: dict[str, str] = {}
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
        return await self.post_json(body, extra_headers=headers)

    async def url_verification(self, challenge: str) -> Response:
        return await self.post_json(url_verification_body(challenge))

    async def ssl_check(self) -> Response:
        return await self.post_form({"ssl_check": "1", "token": VERIFICATION_TOKEN})

    # ------------------------------------------------------------------ commands and interactivity

    async def command(
        self,
        text: str,
        *,
        user_id: str = "U1",
        team_id: str = TEAM_ID,
        channel_id: str = "C1",
        command: str = "/atom",
        enterprise_id: str | None = None,
        trigger_id: str | None = None,
    ) -> Response:
        fields = command_payload(
            text,
            user_id=user_id,
            team_id=team_id,
            channel_id=channel_id,
            command=command,
            enterprise_id=enterprise_id,
            trigger_id=trigger_id,
            response_url=self._response_url("commands", team_id),
        )
        return await self.post_form(fields)

    async def block_action(
        self,
        action_id: str,
        *,
        value: str | None = None,
        user_id: str = "U1",
        team_id: str = TEAM_ID,
        view: dict[str, Any] | None = None,
        container: dict[str, Any] | None = None,
        channel_id: str | None = None,
        message: dict[str, Any] | None = None,
        block_id: str = "b1",
        enterprise_id: str | None = None,
        action_type: str = "button",
        action_extra: dict[str, Any] | None = None,
    ) -> Response:
        payload = block_actions_payload(
            action_id,
            value=value,
            user_id=user_id,
            team_id=team_id,
            view=view,
            container=container,
            channel_id=channel_id,
            message=message,
            block_id=block_id,
            enterprise_id=enterprise_id,
            action_type=action_type,
            action_extra=action_extra,
            response_url=self._response_url("actions", team_id),
        )
        return await self.post_payload(payload)

    async def view_submission(
        self,
        callback_id: str,
        values: dict[str, Any],
        *,
        private_metadata: str = "",
        user_id: str = "U1",
        team_id: str = TEAM_ID,
        view_id: str = "V1",
        enterprise_id: str | None = None,
    ) -> Response:
        payload = view_submission_payload(
            callback_id,
            values,
            private_metadata=private_metadata,
            user_id=user_id,
            team_id=team_id,
            view_id=view_id,
            enterprise_id=enterprise_id,
        )
        return await self.post_payload(payload)

    async def shortcut_message(
        self,
        callback_id: str,
        *,
        message: dict[str, Any],
        channel_id: str = "C1",
        user_id: str = "U1",
        team_id: str = TEAM_ID,
    ) -> Response:
        payload = message_action_payload(
            callback_id,
            message=message,
            channel_id=channel_id,
            user_id=user_id,
            team_id=team_id,
            response_url=self._response_url("actions", team_id),
        )
        return await self.post_payload(payload)

    async def shortcut_global(
        self, callback_id: str, *, user_id: str = "U1", team_id: str = TEAM_ID
    ) -> Response:
        return await self.post_payload(global_shortcut_payload(callback_id, user_id=user_id, team_id=team_id))


def _sign_for(signing_secret: str, headers: dict[str, str], raw: bytes) -> str:
    # A signature needs a timestamp; when the caller dropped the header, sign with "now" anyway so
    # the request is rejected for the missing header and not for the signature.
    ts = headers.get("X-Slack-Request-Timestamp") or str(int(time.time()))
    return sign(signing_secret, ts, raw)
