"""A local fake of Google's side of the wire: OAuth (authorize, token, revoke, userinfo), Calendar
v3, Gmail v1 and Drive v3, at their real paths with their real JSON shapes.

This module owns `FakeGoogle`. Point ATOM_GOOGLE_OAUTH_URL and ATOM_GOOGLE_API_URL at `.url`;
google-api-python-client, google-auth-oauthlib and aiohttp talk to it over real HTTP.
The consent screen is played by `GET /o/oauth2/v2/auth`: it redirects straight back to the
`redirect_uri` with a code (or `error=access_denied` when `.deny` is set), as Google does after
the person clicks Allow. Codes check PKCE (S256) and the redirect URI; access tokens expire
(`.token_lifetime`), can be revoked, and carry their scopes (a call outside them is a 403).
Failures are scripted per path prefix (`fail`), `.delay` slows every API call and `hold` those
under one path.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import secrets
import ssl
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

CALENDAR_READ = "https://www.googleapis.com/auth/calendar.events.readonly"
CALENDAR_WRITE = "https://www.googleapis.com/auth/calendar.events"
GMAIL_READ = "https://www.googleapis.com/auth/gmail.readonly"
GMAIL_COMPOSE = "https://www.googleapis.com/auth/gmail.compose"
DRIVE_READ = "https://www.googleapis.com/auth/drive.readonly"
EMAIL = "https://www.googleapis.com/auth/userinfo.email"


@dataclass
class Failure:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    body: bytes | None = None


@dataclass
class Token:
    scopes: set[str]
    expires: float
    refresh: str
    revoked: bool = False


def google_error(status: int, message: str, reason: str = "") -> web.Response:
    names = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
             429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
    body = {"error": {"code": status, "message": message, "status": names.get(status, "UNKNOWN"),
                      "errors": [{"message": message, "domain": "global", "reason": reason or "error"}]}}
    return web.json_response(body, status=status)


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


class FakeGoogle:
    def __init__(self, client_id: str = "google-client-id", client_secret: str = "google-client-secret",
                 tls: ssl.SSLContext | None = None, host: str = "127.0.0.1"):
        """`tls`: serve HTTPS with this server context, at `https://{host}:port`."""
        self.client_id, self.client_secret = client_id, client_secret
        self.tls, self.host = tls, host
        self.account = "ann@example.com"
        self.deny = False
        self.token_prefix = ""  # e.g. a sentinel, for leak tests
        self.token_lifetime = 3600
        self.delay = 0.0
        self.codes: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, Token] = {}  # access token → grant
        self.refresh_tokens: dict[str, set[str]] = {}  # refresh token → scopes
        self.revoked: list[str] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # (method, path_qs, headers)
        self.token_requests: list[dict[str, str]] = []
        self.events: list[dict[str, Any]] = []
        self.inserted_events: list[dict[str, Any]] = []
        self.messages: dict[str, dict[str, Any]] = {}
        self.sent: list[dict[str, Any]] = []
        self.drafts: list[dict[str, Any]] = []
        self.files: dict[str, dict[str, Any]] = {}
        self.file_content: dict[str, bytes] = {}
        self._fail: dict[str, deque[Failure]] = defaultdict(deque)
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.in_flight = 0
        self.max_in_flight = 0
        # Wall time during which at least one handler was running (benchmarks subtract it): the
        # union, not the sum, so concurrent calls are not counted twice.
        self.server_seconds = 0.0
        self._handling = 0
        self._busy_since = 0.0
        self._holds: dict[str, float] = {}

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> FakeGoogle:
        app = web.Application(middlewares=[self._middleware], client_max_size=32 * 1024 * 1024)
        r = app.router
        r.add_get("/o/oauth2/v2/auth", self._authorize)
        r.add_post("/token", self._token)
        r.add_post("/revoke", self._revoke)
        r.add_get("/oauth2/v2/userinfo", self._userinfo)
        r.add_get("/calendar/v3/calendars/{cal}/events", self._events_list)
        r.add_post("/calendar/v3/calendars/{cal}/events", self._events_insert)
        r.add_get("/gmail/v1/users/{user}/messages", self._messages_list)
        r.add_get("/gmail/v1/users/{user}/messages/{id}", self._messages_get)
        r.add_post("/gmail/v1/users/{user}/messages/send", self._messages_send)
        r.add_post("/gmail/v1/users/{user}/drafts", self._drafts_create)
        r.add_get("/drive/v3/files", self._files_list)
        r.add_get("/drive/v3/files/{id}", self._files_get)
        r.add_get("/drive/v3/files/{id}/export", self._files_export)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.tls)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"{'https' if self.tls else 'http'}://{self.host}:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # ------------------------------------------------------------------ scripting

    def fail(self, path_prefix: str, *failures: Failure) -> None:
        """The next calls under `path_prefix` (e.g. "/calendar/v3") answer with these, in order."""
        self._fail[path_prefix].extend(failures)

    def hold(self, path_prefix: str, seconds: float) -> None:
        """Every API call under `path_prefix` waits `seconds` more, then is answered normally (and
        counted in `in_flight` meanwhile)."""
        self._holds[path_prefix] = seconds

    def issue_token(self, scopes: set[str], lifetime: float | None = None) -> tuple[str, str]:
        """An (access, refresh) pair as if the person had consented: for tests that skip the dance."""
        access = "ya29." + self.token_prefix + secrets.token_urlsafe(24)
        refresh = "1//" + self.token_prefix + secrets.token_urlsafe(24)
        self.refresh_tokens[refresh] = set(scopes)
        self.tokens[access] = Token(set(scopes), time.time() + (lifetime or self.token_lifetime), refresh)
        return access, refresh

    def api_calls(self, prefix: str) -> list[tuple[str, str, dict[str, str]]]:
        return [r for r in self.requests if r[1].startswith(prefix)]

    def add_message(self, subject: str, sender: str, body: str, *, unread: bool = True, html: bool = False) -> str:
        mid = f"m{next(self._ids)}"
        mime = "text/html" if html else "text/plain"
        self.messages[mid] = {
            "id": mid, "threadId": f"t{mid}", "labelIds": ["INBOX"] + (["UNREAD"] if unread else []),
            "snippet": body[:100], "internalDate": str(int(time.time() * 1000)),
            "payload": {
                "mimeType": "multipart/alternative",
                "headers": [{"name": "From", "value": sender}, {"name": "To", "value": self.account},
                            {"name": "Subject", "value": subject},
                            {"name": "Date", "value": "Tue, 1 Dec 2026 09:00:00 +0000"}],
                "body": {"size": 0},
                "parts": [{"partId": "0", "mimeType": mime, "body": {"size": len(body), "data": _b64(body)}}],
            },
        }
        return mid

    def add_file(self, name: str, mime: str, content: bytes | str) -> str:
        fid = f"f{next(self._ids)}x"
        raw = content.encode() if isinstance(content, str) else content
        self.files[fid] = {"kind": "drive#file", "id": fid, "name": name, "mimeType": mime,
                           "modifiedTime": "2026-11-30T10:00:00.000Z", "size": str(len(raw)),
                           "webViewLink": f"https://docs.example/{fid}"}
        self.file_content[fid] = raw
        return fid

    # ------------------------------------------------------------------ plumbing

    @web.middleware
    async def _middleware(self, request: web.Request, handler):
        if self._handling == 0:
            self._busy_since = time.perf_counter()
        self._handling += 1
        try:
            return await self._serve(request, handler)
        finally:
            self._handling -= 1
            if self._handling == 0:
                self.server_seconds += time.perf_counter() - self._busy_since

    async def _serve(self, request: web.Request, handler):
        self.requests.append((request.method, request.path_qs, dict(request.headers)))
        api = not request.path.startswith(("/o/oauth2", "/token", "/revoke"))
        delay = self.delay + max((s for p, s in self._holds.items() if request.path.startswith(p)), default=0.0)
        if api and delay:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                await asyncio.sleep(delay)
            finally:
                self.in_flight -= 1
        for prefix, queue in self._fail.items():
            if request.path.startswith(prefix) and queue:
                failure = queue.popleft()
                if failure.delay:
                    await asyncio.sleep(failure.delay)
                if failure.body is not None:
                    return web.Response(body=failure.body, status=failure.status, headers=failure.headers,
                                        content_type="application/json")
                response = google_error(failure.status, "scripted failure", "rateLimitExceeded" if failure.status == 429 else "")
                response.headers.update(failure.headers)
                return response
        return await handler(request)

    def _auth(self, request: web.Request, *scopes: str) -> web.Response | None:
        """None when the bearer token is live and holds one of `scopes`, else Google's error."""
        header = request.headers.get("Authorization", "")
        token = self.tokens.get(header.removeprefix("Bearer "))
        if token is None or token.revoked or token.expires < time.time():
            return google_error(401, "Request had invalid authentication credentials.", "authError")
        if scopes and not token.scopes & set(scopes):
            return google_error(403, "Request had insufficient authentication scopes.", "insufficientPermissions")
        return None

    # ------------------------------------------------------------------ OAuth

    async def _authorize(self, request: web.Request) -> web.Response:
        q = request.query
        redirect = q.get("redirect_uri", "")
        if q.get("client_id") != self.client_id or not redirect:
            return web.Response(status=400, text="Error 401: invalid_client")
        if self.deny:
            raise web.HTTPFound(f"{redirect}?{urlencode({'error': 'access_denied', 'state': q.get('state', '')})}")
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return web.Response(status=400, text="PKCE required by this fake")
        code = "4/" + secrets.token_urlsafe(16)
        scopes = set(q.get("scope", "").split())
        if q.get("include_granted_scopes") == "true":
            for granted in self.refresh_tokens.values():
                scopes |= granted  # incremental authorization returns everything granted so far
        self.codes[code] = {"challenge": q["code_challenge"], "redirect": redirect, "scopes": scopes,
                            "offline": q.get("access_type") == "offline"}
        raise web.HTTPFound(f"{redirect}?{urlencode({'state': q.get('state', ''), 'code': code, 'scope': ' '.join(sorted(scopes))})}")

    async def _token(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        self.token_requests.append(form)
        basic = request.headers.get("Authorization", "")
        if basic.startswith("Basic "):  # client_secret_basic, as requests-oauthlib sends it
            from urllib.parse import unquote

            client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
            form.setdefault("client_id", unquote(client_id))
            form.setdefault("client_secret", unquote(secret))
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return web.json_response({"error": "invalid_client", "error_description": "Unauthorized"}, status=401)
        if form.get("grant_type") == "authorization_code":
            grant = self.codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if grant is None or grant["challenge"] != challenge or grant["redirect"] != form.get("redirect_uri"):
                return web.json_response({"error": "invalid_grant", "error_description": "Bad Request"}, status=400)
            access, refresh = self.issue_token(grant["scopes"])
            body = {"access_token": access, "expires_in": self.token_lifetime, "token_type": "Bearer",
                    "scope": " ".join(sorted(grant["scopes"]))}
            if grant["offline"]:
                body["refresh_token"] = refresh
            return web.json_response(body)
        if form.get("grant_type") == "refresh_token":
            scopes = self.refresh_tokens.get(form.get("refresh_token", ""))
            if scopes is None:
                return web.json_response({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}, status=400)
            access = "ya29." + self.token_prefix + secrets.token_urlsafe(24)
            self.tokens[access] = Token(set(scopes), time.time() + self.token_lifetime, form["refresh_token"])
            # Google's refresh response carries no new refresh token.
            return web.json_response({"access_token": access, "expires_in": self.token_lifetime,
                                      "token_type": "Bearer", "scope": " ".join(sorted(scopes))})
        return web.json_response({"error": "unsupported_grant_type"}, status=400)

    async def _revoke(self, request: web.Request) -> web.Response:
        form = await request.post()
        token = form.get("token") or request.query.get("token", "")
        self.revoked.append(token)
        found = False
        if token in self.refresh_tokens:
            del self.refresh_tokens[token]
            found = True
        for access, grant in self.tokens.items():
            if access == token or grant.refresh == token:
                grant.revoked = found = True
        if not found:
            return web.json_response({"error": "invalid_token", "error_description": "Token expired or revoked"}, status=400)
        return web.Response(status=200)

    async def _userinfo(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request, EMAIL)) is not None:
            return denied
        return web.json_response({"id": "1234567890", "email": self.account, "verified_email": True})

    # ------------------------------------------------------------------ Calendar

    async def _events_list(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request, CALENDAR_READ, CALENDAR_WRITE)) is not None:
            return denied
        q = request.query
        lo, hi = q.get("timeMin", ""), q.get("timeMax", "")
        from datetime import datetime

        def inside(event):
            start = event.get("start", {})
            if "dateTime" not in start:
                return True
            moment = datetime.fromisoformat(start["dateTime"])
            return (not lo or moment >= datetime.fromisoformat(lo)) and (not hi or moment < datetime.fromisoformat(hi))

        items = [e for e in self.events + self.inserted_events if inside(e)]
        return web.json_response({"kind": "calendar#events", "summary": self.account,
                                  "timeZone": q.get("timeZone", "UTC"), "items": items})

    async def _events_insert(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request, CALENDAR_WRITE)) is not None:
            return denied
        body = await request.json()
        event = {"kind": "calendar#event", "id": f"e{next(self._ids)}", "status": "confirmed",
                 "htmlLink": "https://calendar.example/e", **body}
        self.inserted_events.append(event)
        return web.json_response(event)

    # ------------------------------------------------------------------ Gmail

    async def _messages_list(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request, GMAIL_READ)) is not None:
            return denied
        q = request.query.get("q", "")
        limit = int(request.query.get("maxResults", "100"))
        found = [m for m in self.messages.values() if "is:unread" not in q or "UNREAD" in m["labelIds"]]
        words = [w for w in q.split() if ":" not in w]
        found = [m for m in found if all(w.lower() in json.dumps(m).lower() for w in words)]
        refs = [{"id": m["id"], "threadId": m["threadId"]} for m in found[:limit]]
        body: dict[str, Any] = {"resultSizeEstimate": len(refs)}
        if refs:
            body["messages"] = refs
        return web.json_response(body)

    async def _messages_get(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request, GMAIL_READ)) is not None:
            return denied
        message = self.messages.get(request.match_info["id"])
        if message is None:
            return google_error(404, "Requested entity was not found.", "notFound")
        if request.query.get("format") == "metadata":
            wanted = {h.lower() for h in request.query.getall("metadataHeaders", [])}
            payload = {"mimeType": message["payload"]["mimeType"],
                       "headers": [h for h in message["payload"]["headers"] if h["name"].lower() in wanted]}
            return web.json_response({**{k: v for k, v in message.items() if k != "payload"}, "payload": payload})
        return web.json_response(message)

    async def _messages_send(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request, GMAIL_COMPOSE)) is not None:
            return denied
        body = await request.json()
        self.sent.append(body)
        return web.json_response({"id": f"s{next(self._ids)}", "threadId": "t", "labelIds": ["SENT"]})

    async def _drafts_create(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request, GMAIL_COMPOSE)) is not None:
            return denied
        body = await request.json()
        self.drafts.append(body)
        draft_id = f"r{next(self._ids)}"
        return web.json_response({"id": draft_id, "message": {"id": f"m{draft_id}", "labelIds": ["DRAFT"]}})

    # ------------------------------------------------------------------ Drive

    async def _files_list(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request, DRIVE_READ)) is not None:
            return denied
        q = request.query.get("q", "")
        term = q.split("'")[1].lower() if "'" in q else ""
        files = [f for fid, f in self.files.items()
                 if term in f["name"].lower() or term in self.file_content[fid].decode("utf-8", "ignore").lower()]
        return web.json_response({"kind": "drive#fileList", "files": files[: int(request.query.get("pageSize", "100"))]})

    async def _files_get(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request, DRIVE_READ)) is not None:
            return denied
        meta = self.files.get(request.match_info["id"])
        if meta is None:
            return google_error(404, f"File not found: {request.match_info['id']}.", "notFound")
        if request.query.get("alt") == "media":
            if meta["mimeType"].startswith("application/vnd.google-apps"):
                return google_error(403, "Only files with binary content can be downloaded. Use Export with Docs Editors files.", "fileNotDownloadable")
            return web.Response(body=self.file_content[meta["id"]], content_type=meta["mimeType"])
        return web.json_response(meta)

    async def _files_export(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request, DRIVE_READ)) is not None:
            return denied
        meta = self.files.get(request.match_info["id"])
        if meta is None:
            return google_error(404, "File not found.", "notFound")
        mime = request.query.get("mimeType", "")
        content = self.file_content[meta["id"]]
        if mime == "text/plain":
            content = "\ufeff".encode() + content  # Docs' text export starts with a byte-order mark
        return web.Response(body=content, content_type=mime or "text/plain")
