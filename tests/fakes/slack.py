"""A local fake of Slack's side of the wire: the Web API and the Socket Mode WebSocket.

This module owns `FakeSlack`, an aiohttp server on 127.0.0.1 that the real slack_sdk / slack_bolt
code talks to over real HTTP (point `AsyncWebClient(base_url=slack.url)` or `SLACK_API_URL` at it).
It records every call, answers with realistic default bodies, can be scripted to fail (429, 5xx,
Slack errors, slow answers), and plays the Socket Mode server (`apps.connections.open` + `/socket`).

How slack_sdk 3.48's AsyncWebClient puts parameters on the wire (all merged into `Call.params`):
  * `json=` methods (chat.postMessage, chat.update, chat.*Stream, views.*,
    assistant.threads.setStatus, …) → POST with a JSON body;
  * `params=` methods (auth.test, reactions.add, conversations.open, apps.connections.open, …)
    → POST with the parameters in the *query string* and an empty form body;
  * `http_verb="GET"` methods (users.info, conversations.info/history/replies,
    chat.getPermalink) → GET query string;
  * `data=` (form body) only when the caller passes it, e.g. `api_call(..., data={...})`.
The token travels as `Authorization: Bearer …` (slack_sdk moves a `token=` argument there);
a raw `token` parameter is honoured too and is removed from `params` (it is in `Call.token`).

Deliberately realistic checks (so product bugs show up here rather than in production):
missing token → `not_authed`; `apps.connections.open` needs an `xapp-` token; `chat.postMessage`
needs a channel and text/blocks (`channel_not_found`, `no_text`), refuses text over 40,000
characters (`msg_too_long`) and more than 50 blocks (`invalid_blocks`). The streaming methods
check their `chunks` (`markdown_text` with text, `task_update` with id, title and a known status;
a type outside `chunk_types` → `invalid_chunks`) and `task_display_mode` (timeline | plan).
Channels Atom is not in answer history/replies with `not_in_channel`; channels in `hidden` (a
private channel or someone else's DM) are `channel_not_found` everywhere. `conversations.members`
pages through `members` (default: Atom and U1).

What a person sees: every message Atom posts, streams, updates or deletes is kept in `messages`
(per channel, the same store conversations.history/replies serve), so `visible(channel)` is the
conversation as Slack would show it — a streaming message keeps `"streaming": True` until
chat.stopStream. Ephemeral messages land in `ephemerals`.

Fault injection (`inject(method, Fault(...), times=n)`): per method, a queue of faults served before
anything else — 429 with Retry-After, a 500, an `ok:false`, or a timeout (the answer held back
longer than the client waits). A 500 or timeout can be `applied`: Slack did the work and only the
answer was lost, the case that turns a blind retry into a duplicate.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from tests.fakes.payloads import APP_ID, BOT_ID, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID, next_id, next_ts

# Parameters whose value is a JSON document; slack_sdk form-encodes them as JSON strings for
# non-JSON methods, so they are decoded back to objects in `Call.params` for easy assertions.
JSON_VALUED_PARAMS = frozenset(
    {"blocks", "view", "attachments", "metadata", "chunks", "prompts", "unfurls", "user_auth_blocks", "files"}
)
# Methods Slack serves without a bearer token (OAuth exchanges authenticate with client id/secret).
TOKENLESS_METHODS = frozenset({"oauth.v2.access", "oauth.v2.exchange", "oauth.access", "api.test"})
MAX_MESSAGE_TEXT = 40_000
MAX_MESSAGE_BLOCKS = 50
CHUNK_TYPES = frozenset({"markdown_text", "task_update", "plan_update", "blocks"})
TASK_STATUSES = frozenset({"pending", "in_progress", "complete", "error"})
MAX_SUGGESTED_PROMPTS = 4
SOCKET_WAIT = 5.0


@dataclass
class Call:
    """One request Slack received. `headers` keys are lower-case; `params` excludes `token`."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    token: str | None
    http_verb: str = "POST"
    path: str = ""


@dataclass
class Scripted:
    """A scripted answer. `body=None` with status 200 means "the normal answer, after `delay`"."""

    status: int = 200
    body: dict[str, Any] | str | None = None
    headers: dict[str, str] | None = None
    delay: float = 0.0


@dataclass
class Fault:
    """One injected failure. `kind`: "429" | "500" | "ok_false" | "timeout"."""

    kind: str
    retry_after: int = 1
    error: str = "internal_error"
    applied: bool | None = None  # default: True for 500 and timeout (the harsher case), else False
    delay: float = 2.0  # timeout: how long the answer is held back

    def __post_init__(self) -> None:
        if self.kind not in ("429", "500", "ok_false", "timeout"):
            raise ValueError(f"unknown fault kind {self.kind!r}")
        if self.applied is None:
            self.applied = self.kind in ("500", "timeout")


Handler = Callable[[Call], "dict[str, Any] | Scripted"]

_envelope_counter = itertools.count(1)


class FakeSlack:
    """Slack's Web API and Socket Mode server on a random loopback port.

    Test-tunable state: `users` (user id → fields merged over a default member), `channels`
    (channel id → fields for conversations.info), `messages` (channel id → messages, oldest first,
    served by conversations.history/replies), `dm_channels` (users param → DM id),
    `bad_tokens` (token → error such as "invalid_auth" or "token_revoked"), `members` (channel id →
    member ids for conversations.members), `hidden` (channel ids Atom cannot see at all),
    `chunk_types` (the streaming chunk types this Slack accepts).
    """

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.dm_channels: dict[str, str] = {}
        self.bad_tokens: dict[str, str] = {}
        self.members: dict[str, list[str]] = {}
        self.hidden: set[str] = set()
        self.chunk_types: set[str] = set(CHUNK_TYPES)
        # Last view published to each user's Home tab (views.publish), for "what does U1 see".
        self.home_views: dict[str, dict[str, Any]] = {}
        self.socket_connected = asyncio.Event()
        self.socket_connections = 0  # connections ever accepted, to observe reconnects

        self.ephemerals: list[dict[str, Any]] = []
        # File uploads (files_upload_v2): started by files.getUploadURLExternal, bytes POSTed to the
        # returned upload_url (recorded as method "file_upload"), shared by files.completeUploadExternal.
        self.uploads: dict[str, dict[str, Any]] = {}  # file id → {filename, length, data}
        self.files: list[dict[str, Any]] = []  # completed: {id, title, filename, data, channel_id, initial_comment}
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._scripts: dict[str, deque[Scripted]] = defaultdict(deque)
        self._always: dict[str, Scripted] = {}
        self._handlers: dict[str, Handler] = {}
        self._transcript: list[str] = []
        self._changed = asyncio.Condition()
        self._sockets: list[web.WebSocketResponse] = []
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._defaults: dict[str, Handler] = {
            "api.test": lambda call: {"ok": True, "args": call.params},
            "auth.test": self._auth_test,
            "apps.connections.open": self._apps_connections_open,
            "oauth.v2.access": self._oauth_v2_access,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.getPermalink": self._chat_get_permalink,
            "chat.startStream": self._chat_start_stream,
            "chat.appendStream": self._chat_append_stream,
            "chat.stopStream": self._chat_stop_stream,
            "views.open": self._views,
            "views.update": self._views,
            "views.push": self._views,
            "views.publish": self._views,
            "users.info": self._users_info,
            "conversations.info": self._conversations_info,
            "conversations.open": self._conversations_open,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "conversations.members": self._conversations_members,
            "assistant.threads.setStatus": lambda call: {"ok": True},
            "assistant.threads.setTitle": lambda call: {"ok": True},
            "assistant.threads.setSuggestedPrompts": self._set_suggested_prompts,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
            "reactions.add": lambda call: {"ok": True},
            "reactions.remove": lambda call: {"ok": True},
        }

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> FakeSlack:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_route("*", "/respond/{tail:.*}", self._handle_response_url)
        app.router.add_get("/socket", self._handle_socket)
        app.router.add_post("/upload/v1/{file_id}", self._handle_upload)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        # Bind the socket ourselves so the port is known without reaching into aiohttp internals.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        return self

    async def stop(self) -> None:
        await self.disconnect_sockets()
        for fut in self._acks.values():
            fut.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSlack:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeSlack is not started")
        return self._port

    @property
    def url(self) -> str:
        """Web API base URL with the trailing slash slack_sdk expects (`base_url`, `SLACK_API_URL`)."""
        return f"http://127.0.0.1:{self.port}/api/"

    @property
    def response_url_base(self) -> str:
        """Prefix for response_url values; POSTs there are recorded as method "response_url"."""
        return f"http://127.0.0.1:{self.port}/respond/"

    # ------------------------------------------------------------------ inspection

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    # The timeout parameters below (ASYNC109) are deliberate: a test failure should be an
    # AssertionError saying what did arrive, which a bare asyncio.timeout around the call cannot say.
    async def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:  # noqa: ASYNC109
        """Wait until `count` calls to `method` have arrived; AssertionError lists what did arrive."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: len(self.calls_to(method)) >= count)
        except TimeoutError:
            got = len(self.calls_to(method))
            raise AssertionError(
                f"expected {count} call(s) to {method} within {timeout}s, got {got}; "
                f"calls so far: {[c.method for c in self.calls]}"
            ) from None
        return self.calls_to(method)

    def reset(self) -> None:
        """Forget recorded calls. `all_text()` keeps everything, so leak checks cover a whole test."""
        self.calls.clear()

    def all_text(self) -> str:
        """Every request line, header, body and WebSocket message ever received, as one string."""
        return "\n".join(self._transcript)

    # ------------------------------------------------------------------ scripting

    def script(self, method: str, *responses: Scripted) -> None:
        """Serve `responses` in order for the next calls to `method`, then fall back to normal."""
        self._scripts[method].extend(responses)

    def fail_always(self, method: str, response: Scripted) -> None:
        """Serve `response` for every call to `method` (after any queued scripts) until cleared."""
        self._always[method] = response

    def clear_scripts(self) -> None:
        self._scripts.clear()
        self._always.clear()
        self._faults.clear()

    def inject(self, method: str, fault: Fault, times: int = 1) -> None:
        """Serve `fault` for the next `times` calls to `method` (before scripts and handlers)."""
        self._faults[method].extend([fault] * times)

    def faults_left(self, method: str) -> int:
        return len(self._faults[method])

    def visible(self, channel: str) -> list[dict[str, Any]]:
        """The messages a person sees in `channel` now (posted, streamed, updated; not deleted)."""
        return [m for m in self.messages.get(channel, []) if m.get("bot_id")]

    def find_message(self, channel: str, ts: str) -> dict[str, Any] | None:
        return next((m for m in self.messages.get(channel, []) if m.get("ts") == ts), None)

    def set_handler(self, method: str, handler: Handler) -> None:
        """Replace the default answer of `method` (also for unknown methods) with `handler(call)`."""
        self._handlers[method] = handler

    # ------------------------------------------------------------------ Socket Mode

    async def send_envelope(
        self,
        type: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool = False,
        retry_attempt: int | None = None,
        retry_reason: str | None = None,
    ) -> str:
        """Push an envelope (events_api, slash_commands, interactive) to the newest socket client.

        Waits up to 5 s for a client to be connected (e.g. while it reconnects).
        """
        try:
            async with asyncio.timeout(SOCKET_WAIT):
                await self.socket_connected.wait()
        except TimeoutError:
            raise AssertionError(f"no Socket Mode client connected within {SOCKET_WAIT}s") from None
        n = next(_envelope_counter)
        envelope_id = f"00000000-0000-4000-8000-{n:012d}"
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "payload": payload,
            "type": type,
            "accepts_response_payload": accepts_response_payload,
        }
        if type == "events_api":
            envelope["retry_attempt"] = retry_attempt or 0
            envelope["retry_reason"] = retry_reason or ""
        self._ack_future(envelope_id)
        await self._sockets[-1].send_str(json.dumps(envelope))  # Slack also picks one connection
        return envelope_id

    async def wait_ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:  # noqa: ASYNC109
        """The message the client sent back for `envelope_id`: {"envelope_id", "payload"?}."""
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.shield(self._ack_future(envelope_id))
        except TimeoutError:
            raise AssertionError(f"no ack for envelope {envelope_id} within {timeout}s") from None

    async def send_disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask connected clients to reconnect, as Slack does every few hours."""
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}}
        for ws in list(self._sockets):
            await ws.send_str(json.dumps(message))

    async def disconnect_sockets(self) -> None:
        """Close every Socket Mode connection from the server side (clients then reconnect).

        The sockets are forgotten *before* the close handshake, so once this returns
        `socket_connected` is clear until a client connects again and `send_envelope` waits for it.
        """
        sockets, self._sockets = self._sockets, []
        self.socket_connected.clear()
        for ws in sockets:
            await ws.close()

    def _ack_future(self, envelope_id: str) -> asyncio.Future[dict[str, Any]]:
        if envelope_id not in self._acks:
            self._acks[envelope_id] = asyncio.get_running_loop().create_future()
        return self._acks[envelope_id]

    async def _handle_socket(self, request: web.Request) -> web.WebSocketResponse:
        # autoping answers the SDK's own `sdk-ping-pong:<time>` pings with pongs, which is how
        # slack_sdk decides the connection is alive (it reconnects after 4 missed intervals).
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._transcript.append(f"WS {request.path_qs}\n{_headers_text(request)}")
        self._sockets.append(ws)
        self.socket_connections += 1
        await ws.send_str(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": len(self._sockets),
                    "debug_info": {
                        "host": "applink-fake",
                        "build_number": 1,
                        "approximate_connection_time": 18060,
                    },
                    "connection_info": {"app_id": APP_ID},
                }
            )
        )
        self.socket_connected.set()
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                self._transcript.append(f"WS message\n{msg.data}")
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    continue
                envelope_id = data.get("envelope_id") if isinstance(data, dict) else None
                if envelope_id:
                    fut = self._ack_future(envelope_id)
                    if not fut.done():
                        fut.set_result(data)
        finally:
            if ws in self._sockets:  # disconnect_sockets() may have dropped it already
                self._sockets.remove(ws)
            if not self._sockets:
                self.socket_connected.clear()
        return ws

    # ------------------------------------------------------------------ HTTP plumbing

    async def _record(self, request: web.Request, method: str) -> Call:
        params: dict[str, Any] = dict(request.query)
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            body_text = "\n".join(f"{k}={_field_text(v)}" for k, v in form.items())
            params.update({k: _field_text(v) for k, v in form.items()})
        else:
            raw = await request.read()
            body_text = raw.decode("utf-8", errors="replace")
            if request.content_type == "application/json" and raw.strip():
                decoded = json.loads(raw)
                if isinstance(decoded, dict):
                    params.update(decoded)
            elif request.content_type == "application/x-www-form-urlencoded":
                params.update(parse_qsl(body_text, keep_blank_values=True))
        request_line = f"{request.method} {request.path_qs}"
        self._transcript.append(f"{request_line}\n{_headers_text(request)}\n\n{body_text}")

        for key in JSON_VALUED_PARAMS & params.keys():
            if isinstance(params[key], str) and params[key][:1] in ("[", "{"):
                try:
                    params[key] = json.loads(params[key])
                except ValueError:
                    pass  # leave malformed JSON as sent, so a test can see exactly what arrived
        token = params.pop("token", None) or None
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            token = auth.removeprefix("Bearer ").strip() or token

        call = Call(
            method=method,
            params=params,
            headers={k.lower(): v for k, v in request.headers.items()},
            token=token,
            http_verb=request.method,
            path=request.path,
        )
        self.calls.append(call)
        async with self._changed:
            self._changed.notify_all()
        return call

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        call = await self._record(request, method)
        if self._faults[method]:
            return await self._serve_fault(call, self._faults[method].popleft())
        scripted = self._scripts[method].popleft() if self._scripts[method] else self._always.get(method)
        if scripted is None:
            return _to_response(self._answer(call))
        if scripted.delay:
            await asyncio.sleep(scripted.delay)
        if scripted.status == 200 and scripted.body is None:
            return _to_response(self._answer(call), extra_headers=scripted.headers)
        return _to_response(scripted)

    async def _serve_fault(self, call: Call, fault: Fault) -> web.StreamResponse:
        answer = self._answer(call) if fault.applied else None
        if fault.kind == "timeout":
            await asyncio.sleep(fault.delay)  # the client gave up long ago
            return _to_response(answer if answer is not None else {"ok": True})
        if fault.kind == "429":
            return _to_response(
                Scripted(status=429, body={"ok": False, "error": "ratelimited"},
                         headers={"Retry-After": str(fault.retry_after)})
            )
        if fault.kind == "500":
            return _to_response(Scripted(status=500, body="<html>Internal Server Error</html>"))
        return _to_response({"ok": False, "error": fault.error})

    async def _handle_response_url(self, request: web.Request) -> web.StreamResponse:
        call = await self._record(request, "response_url")
        if self._faults["response_url"]:
            fault = self._faults["response_url"].popleft()
            if fault.kind == "timeout":
                await asyncio.sleep(fault.delay)
            elif fault.kind == "429":
                return web.Response(status=429, text="rate_limited", headers={"Retry-After": str(fault.retry_after)})
            elif fault.kind == "500":
                return web.Response(status=500, text="internal_error")
            else:  # a response_url that is no longer valid
                return web.Response(status=404, text="expired_url")
        del call
        # Slack answers response_url POSTs with a bare "ok".
        return web.Response(text="ok", content_type="text/html")

    async def _handle_upload(self, request: web.Request) -> web.StreamResponse:
        """The pre-signed upload URL (files.slack.com/upload/v1/… in real Slack): no token, raw
        bytes in the body; answers 200 "OK - <bytes>" as Slack does."""
        data = await request.read()
        call = await self._record(request, "file_upload")
        file_id = request.match_info["file_id"]
        if self._faults["file_upload"]:
            fault = self._faults["file_upload"].popleft()
            if fault.kind == "timeout":
                await asyncio.sleep(fault.delay)
            else:
                return web.Response(status=500 if fault.kind != "429" else 429, text="upload failed")
        del call
        upload = self.uploads.get(file_id)
        if upload is None:
            return web.Response(status=404, text="unknown upload")
        upload["data"] = data
        return web.Response(text=f"OK - {len(data)}", content_type="text/plain")

    def _files_get_upload_url(self, call: Call) -> dict[str, Any]:
        filename, length = call.params.get("filename"), call.params.get("length")
        if not filename or not str(length or "").isdigit() or int(length) <= 0:
            return {"ok": False, "error": "invalid_arguments"}
        file_id = next_id("F")
        self.uploads[file_id] = {"filename": filename, "length": int(length), "data": None}
        return {"ok": True, "file_id": file_id, "upload_url": f"http://127.0.0.1:{self.port}/upload/v1/{file_id}"}

    def _files_complete_upload(self, call: Call) -> dict[str, Any]:
        files = call.params.get("files")
        if not isinstance(files, list) or not files:
            return {"ok": False, "error": "invalid_arguments"}
        done = []
        for item in files:
            upload = self.uploads.get(item.get("id", ""))
            if upload is None or upload["data"] is None or len(upload["data"]) != upload["length"]:
                return {"ok": False, "error": "file_not_found"}
            done.append({"id": item["id"], "title": item.get("title") or upload["filename"], **upload})
        channel = call.params.get("channel_id")
        if channel and channel in self.hidden:
            return {"ok": False, "error": "channel_not_found"}
        for f in done:
            self.uploads.pop(f["id"], None)
            self.files.append({**f, "channel_id": channel, "initial_comment": call.params.get("initial_comment")})
        return {"ok": True, "files": [{"id": f["id"], "title": f["title"], "name": f["filename"]} for f in done]}

    def _answer(self, call: Call) -> dict[str, Any] | Scripted:
        if call.method not in TOKENLESS_METHODS:
            if not call.token:
                return {"ok": False, "error": "not_authed"}
            if call.token in self.bad_tokens:
                return {"ok": False, "error": self.bad_tokens[call.token]}
        handler = self._handlers.get(call.method) or self._defaults.get(call.method)
        if handler is None:
            return {"ok": False, "error": "unknown_method", "req_method": call.method}
        return handler(call)

    # ------------------------------------------------------------------ default answers

    def _auth_test(self, call: Call) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": "Atom Test",
            "user": "atom",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _apps_connections_open(self, call: Call) -> dict[str, Any]:
        if not (call.token or "").startswith("xapp-"):
            return {"ok": False, "error": "not_allowed_token_type"}
        ticket = next_id("")
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket?ticket={ticket}&app_id={APP_ID}"}

    def _oauth_v2_access(self, call: Call) -> dict[str, Any]:
        if not call.params.get("code"):
            return {"ok": False, "error": "invalid_code"}
        return {
            "ok": True,
            "app_id": APP_ID,
            "authed_user": {"id": "U1"},
            "scope": "chat:write,commands,im:history,app_mentions:read,assistant:write",
            "token_type": "bot",
            "access_token": f"xoxb-{TEAM_ID}-fake-bot-token",
            "bot_user_id": BOT_USER_ID,
            "team": {"id": TEAM_ID, "name": "Atom Test"},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def _bot_message(self, params: dict[str, Any], ts: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "text": params.get("text", ""),
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "ts": ts,
            "team": TEAM_ID,
        }
        for key in ("blocks", "attachments", "metadata", "thread_ts"):
            if key in params:
                message[key] = params[key]
        return message

    def _channel_and_ts(self, call: Call) -> dict[str, Any]:
        return {"ok": True, "channel": call.params.get("channel"), "ts": call.params.get("ts")}

    def _chat_post_message(self, call: Call) -> dict[str, Any]:
        p = call.params
        if not p.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not (p.get("text") or p.get("blocks") or p.get("attachments")):
            return {"ok": False, "error": "no_text"}
        if len(p.get("text") or "") > MAX_MESSAGE_TEXT:
            return {"ok": False, "error": "msg_too_long"}
        if isinstance(p.get("blocks"), list) and len(p["blocks"]) > MAX_MESSAGE_BLOCKS:
            return {"ok": False, "error": "invalid_blocks"}
        ts = next_ts()
        message = self._bot_message(p, ts)
        self.messages.setdefault(p["channel"], []).append(message)
        return {"ok": True, "channel": p["channel"], "ts": ts, "message": message}

    def _chat_post_ephemeral(self, call: Call) -> dict[str, Any]:
        # Real Slack answers with `message_ts` only (no `ts`, no message echo).
        if not call.params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        ts = next_ts()
        self.ephemerals.append({**call.params, "ts": ts})
        return {"ok": True, "message_ts": ts}

    def _chat_update(self, call: Call) -> dict[str, Any]:
        p = call.params
        if not p.get("ts"):
            return {"ok": False, "error": "message_not_found"}
        stored = self.find_message(p.get("channel", ""), p["ts"])
        if stored is not None:
            stored["text"] = p.get("text", "")
            stored.pop("blocks", None)
            if "blocks" in p:
                stored["blocks"] = p["blocks"]
        return {
            "ok": True,
            "channel": p.get("channel"),
            "ts": p["ts"],
            "text": p.get("text", ""),
            "message": self._bot_message(p, p["ts"]),
        }

    def _chat_get_permalink(self, call: Call) -> dict[str, Any]:
        channel, ts = call.params.get("channel", ""), call.params.get("message_ts", "")
        return {
            "ok": True,
            "channel": channel,
            "permalink": f"https://{TEAM_DOMAIN}.slack.com/archives/{channel}/p{ts.replace('.', '')}",
        }

    def _chat_delete(self, call: Call) -> dict[str, Any]:
        p = call.params
        stored = self.find_message(p.get("channel", ""), p.get("ts", ""))
        if stored is not None:
            self.messages[p["channel"]].remove(stored)
        return self._channel_and_ts(call)

    @staticmethod
    def _stream_text(params: dict[str, Any]) -> str:
        text = params.get("markdown_text") or ""
        for chunk in params.get("chunks") or []:
            if isinstance(chunk, dict) and chunk.get("type") == "markdown_text":
                text += chunk.get("text", "")
        return text

    def _chunks_problem(self, call: Call) -> dict[str, Any] | None:
        chunks = call.params.get("chunks")
        if chunks is None:
            return None
        if not isinstance(chunks, list):
            return {"ok": False, "error": "invalid_chunks"}
        for chunk in chunks:
            kind = chunk.get("type") if isinstance(chunk, dict) else None
            if kind not in self.chunk_types:
                return {"ok": False, "error": "invalid_chunks"}
            if kind == "markdown_text" and not isinstance(chunk.get("text"), str):
                return {"ok": False, "error": "invalid_chunks"}
            if kind == "task_update" and not (
                chunk.get("id") and chunk.get("title") and chunk.get("status") in TASK_STATUSES
            ):
                return {"ok": False, "error": "invalid_chunks"}
        return None

    def _chat_start_stream(self, call: Call) -> dict[str, Any]:
        p = call.params
        if not p.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not p.get("thread_ts"):
            return {"ok": False, "error": "invalid_arguments"}
        if call.params.get("task_display_mode") not in (None, "timeline", "plan"):
            return {"ok": False, "error": "invalid_arguments"}
        problem = self._chunks_problem(call)
        if problem:
            return problem
        ts = next_ts()
        message = self._bot_message({"thread_ts": p["thread_ts"], "text": self._stream_text(p)}, ts)
        message["streaming"] = True
        self.messages.setdefault(p["channel"], []).append(message)
        return {"ok": True, "channel": p["channel"], "ts": ts}

    def _streaming_message(self, call: Call) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(the stored stream, None) or (None, the error Slack gives for a stream that is over)."""
        p = call.params
        stored = self.find_message(p.get("channel", ""), p.get("ts", ""))
        if stored is not None and not stored.get("streaming"):
            return None, {"ok": False, "error": "message_not_in_streaming_state"}
        return stored, None

    def _chat_append_stream(self, call: Call) -> dict[str, Any]:
        problem = self._chunks_problem(call)
        if problem:
            return problem
        stored, error = self._streaming_message(call)
        if error:
            return error
        if stored is not None:
            stored["text"] += self._stream_text(call.params)
        return self._channel_and_ts(call)

    def _chat_stop_stream(self, call: Call) -> dict[str, Any]:
        p = call.params
        problem = self._chunks_problem(call)
        if problem:
            return problem
        stored, error = self._streaming_message(call)
        if error:
            return error
        if stored is not None:
            stored["text"] += self._stream_text(p)
            stored["streaming"] = False
            if "blocks" in p:
                stored["blocks"] = p["blocks"]
        message = self._bot_message(p, p.get("ts", ""))
        return {"ok": True, "channel": p.get("channel"), "ts": p.get("ts"), "message": message}

    def _views(self, call: Call) -> dict[str, Any]:
        p = call.params
        view = p.get("view") if isinstance(p.get("view"), dict) else {}
        view_id = p.get("view_id")
        user_id = p.get("user_id")
        if call.method == "views.publish" and user_id in self.home_views:
            view_id = self.home_views[user_id]["id"]  # a user's Home tab keeps its view id
        view_id = view_id or next_id("V")
        answered = {
            "id": view_id,
            "team_id": TEAM_ID,
            "type": view.get("type"),
            "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{next_ts()}.{view_id}",
            "title": view.get("title"),
            "clear_on_close": view.get("clear_on_close", False),
            "notify_on_close": view.get("notify_on_close", False),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": APP_ID,
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": TEAM_ID,
            "bot_id": BOT_ID,
        }
        if call.method == "views.publish" and user_id:
            self.home_views[user_id] = answered
        return {"ok": True, "view": answered}

    def _users_info(self, call: Call) -> dict[str, Any]:
        uid = call.params.get("user", "")
        if not uid:
            return {"ok": False, "error": "user_not_found"}
        name = "atom" if uid == BOT_USER_ID else f"user-{uid.lower()}"
        real_name = "Atom" if uid == BOT_USER_ID else f"User {uid}"
        user: dict[str, Any] = {
            "id": uid,
            "team_id": TEAM_ID,
            "name": name,
            "real_name": real_name,
            "deleted": False,
            "is_admin": False,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": uid == BOT_USER_ID,
            "is_app_user": False,
            "tz": "Europe/London",
            "tz_label": "Greenwich Mean Time",
            "tz_offset": 0,
            "profile": {"real_name": real_name, "display_name": name, "team": TEAM_ID},
        }
        user.update(self.users.get(uid, {}))
        return {"ok": True, "user": user}

    def _set_suggested_prompts(self, call: Call) -> dict[str, Any]:
        prompts = call.params.get("prompts")
        if not call.params.get("channel_id"):
            return {"ok": False, "error": "channel_not_found"}
        if not isinstance(prompts, list) or not 0 < len(prompts) <= MAX_SUGGESTED_PROMPTS:
            return {"ok": False, "error": "invalid_arguments"}
        if any(not (isinstance(p, dict) and p.get("title") and p.get("message")) for p in prompts):
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True}

    def _bot_is_member(self, cid: str) -> bool:
        return bool(self.channels.get(cid, {}).get("is_member", True))

    def _conversations_members(self, call: Call) -> dict[str, Any]:
        cid = call.params.get("channel", "")
        if not cid or cid in self.hidden:
            return {"ok": False, "error": "channel_not_found"}
        members = self.members.get(cid, [BOT_USER_ID, "U1"])
        start = int(call.params.get("cursor") or 0)
        limit = int(call.params.get("limit") or 100)
        page = members[start : start + limit]
        more = start + limit < len(members)
        return {
            "ok": True,
            "members": page,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _conversations_info(self, call: Call) -> dict[str, Any]:
        cid = call.params.get("channel", "")
        if not cid or cid in self.hidden:
            return {"ok": False, "error": "channel_not_found"}
        is_im = cid.startswith("D")
        channel: dict[str, Any] = {
            "id": cid,
            "is_channel": cid.startswith("C"),
            "is_group": cid.startswith("G"),
            "is_im": is_im,
            "is_mpim": False,
            "is_private": not cid.startswith("C"),
            "is_archived": False,
            "is_general": False,
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "is_member": True,
            "context_team_id": TEAM_ID,
            "created": 1_700_000_000,
        }
        if is_im:
            channel["user"] = next((u for u, d in self.dm_channels.items() if d == cid), "U1")
        else:
            channel["name"] = f"channel-{cid.lower()}"
        channel.update(self.channels.get(cid, {}))
        return {"ok": True, "channel": channel}

    def _conversations_open(self, call: Call) -> dict[str, Any]:
        if call.params.get("channel"):
            return {"ok": True, "channel": {"id": call.params["channel"]}}
        users = call.params.get("users", "")
        if not users:
            return {"ok": False, "error": "users_list_not_supplied"}
        # Stable per user set, like Slack: opening a DM twice yields the same channel.
        channel_id = self.dm_channels.setdefault(users, "D" + users.replace(",", ""))
        return {"ok": True, "channel": {"id": channel_id}}

    def _unreadable(self, channel: str) -> dict[str, Any] | None:
        if not channel or channel in self.hidden:
            return {"ok": False, "error": "channel_not_found"}
        if not self._bot_is_member(channel):
            return {"ok": False, "error": "not_in_channel"}
        return None

    def _conversations_history(self, call: Call) -> dict[str, Any]:
        channel = call.params.get("channel", "")
        if problem := self._unreadable(channel):
            return problem
        messages = sorted(self.messages.get(channel, []), key=_ts_key, reverse=True)  # newest first
        limit = int(call.params.get("limit") or 100)
        return {
            "ok": True,
            "messages": messages[:limit],
            "has_more": len(messages) > limit,
            "response_metadata": {"next_cursor": ""},
        }

    def _conversations_replies(self, call: Call) -> dict[str, Any]:
        if problem := self._unreadable(call.params.get("channel", "")):
            return problem
        ts = call.params.get("ts", "")
        thread = [
            m
            for m in self.messages.get(call.params.get("channel", ""), [])
            if m.get("ts") == ts or m.get("thread_ts") == ts
        ]
        thread.sort(key=_ts_key)
        limit = int(call.params.get("limit") or 1000)
        return {
            "ok": True,
            "messages": thread[:limit],
            "has_more": len(thread) > limit,
            "response_metadata": {"next_cursor": ""},
        }


def _ts_key(message: dict[str, Any]) -> tuple[int, int]:
    seconds, _, micros = str(message.get("ts", "0.0")).partition(".")
    return int(seconds), int(micros or 0)


def _headers_text(request: web.Request) -> str:
    return "\n".join(f"{k}: {v}" for k, v in request.headers.items())


def _field_text(value: Any) -> str:
    if isinstance(value, web.FileField):
        return value.file.read().decode("utf-8", errors="replace")
    return str(value)


def _to_response(
    answer: dict[str, Any] | Scripted, extra_headers: dict[str, str] | None = None
) -> web.StreamResponse:
    if not isinstance(answer, Scripted):
        answer = Scripted(body=answer, headers=extra_headers)
    headers = dict(answer.headers or {})
    if isinstance(answer.body, dict):
        headers.setdefault("Content-Type", "application/json; charset=utf-8")
        return web.Response(status=answer.status, text=json.dumps(answer.body), headers=headers)
    if isinstance(answer.body, str):
        # A str body (e.g. an HTML error page) keeps any Content-Type the script set.
        headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        return web.Response(status=answer.status, text=answer.body, headers=headers)
    # No body: what a bare 5xx from a load balancer looks like.
    return web.Response(status=answer.status, headers=headers)
