"""A local fake of Asana: OAuth (authorize with PKCE, token, revoke) and the REST API at
`/api/1.0` (users/me, tasks: list, create, update), with Asana's JSON shapes
(`{"data": …}`, errors as `{"errors": [{"message": …}]}`).

This module owns `FakeAsana`. Point ATOM_ASANA_OAUTH_URL at `.url` and ATOM_ASANA_API_URL at
`.api_url`. Failures are scripted per path prefix (`fail`), as in the fake Google.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import secrets
import time
from collections import defaultdict, deque
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from tests.fakes.google import Failure, Token

WORKSPACE = "1200000000000001"


def asana_error(status: int, message: str) -> web.Response:
    return web.json_response({"errors": [{"message": message, "help": "See https://developers.asana.com"}]}, status=status)


class FakeAsana:
    def __init__(self, client_id: str = "asana-client-id", client_secret: str = "asana-client-secret"):
        self.client_id, self.client_secret = client_id, client_secret
        self.email = "ann@asana.example"
        self.deny = False
        self.token_prefix = ""  # e.g. a sentinel, for leak tests
        self.delay = 0.0
        self.codes: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, Token] = {}
        self.refresh_tokens: dict[str, set[str]] = {}
        self.revoked: list[str] = []
        self.requests: list[tuple[str, str]] = []
        self.tasks: dict[str, dict[str, Any]] = {}
        self._fail: dict[str, deque[Failure]] = defaultdict(deque)
        self._ids = itertools.count(1300000000000001)
        self._runner: web.AppRunner | None = None
        self.url = ""

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/1.0"

    async def __aenter__(self) -> FakeAsana:
        app = web.Application(middlewares=[self._middleware])
        r = app.router
        r.add_get("/-/oauth_authorize", self._authorize)
        r.add_post("/-/oauth_token", self._token)
        r.add_post("/-/oauth_revoke", self._revoke)
        r.add_get("/api/1.0/users/me", self._me)
        r.add_get("/api/1.0/tasks", self._tasks_list)
        r.add_post("/api/1.0/tasks", self._tasks_create)
        r.add_put("/api/1.0/tasks/{gid}", self._tasks_update)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def fail(self, path_prefix: str, *failures: Failure) -> None:
        self._fail[path_prefix].extend(failures)

    def issue_token(self, scopes: set[str], lifetime: float | None = None) -> tuple[str, str]:
        access = "2/" + self.token_prefix + secrets.token_urlsafe(24)
        refresh = "2/r" + self.token_prefix + secrets.token_urlsafe(24)
        self.refresh_tokens[refresh] = set(scopes)
        self.tokens[access] = Token(set(scopes), time.time() + (lifetime or 3600), refresh)
        return access, refresh

    def add_task(self, name: str, due_on: str | None = None, project: str | None = None, completed: bool = False) -> str:
        gid = str(next(self._ids))
        self.tasks[gid] = {"gid": gid, "resource_type": "task", "name": name, "due_on": due_on, "completed": completed,
                           "permalink_url": f"https://app.asana.com/0/0/{gid}",
                           "projects": [{"gid": "1", "name": project, "resource_type": "project"}] if project else []}
        return gid

    @web.middleware
    async def _middleware(self, request: web.Request, handler):
        self.requests.append((request.method, request.path_qs))
        if self.delay and request.path.startswith("/api/"):
            await asyncio.sleep(self.delay)
        for prefix, queue in self._fail.items():
            if request.path.startswith(prefix) and queue:
                failure = queue.popleft()
                if failure.delay:
                    await asyncio.sleep(failure.delay)
                response = asana_error(failure.status, "scripted failure")
                response.headers.update(failure.headers)
                return response
        return await handler(request)

    def _auth(self, request: web.Request, scope: str | None = None) -> web.Response | None:
        token = self.tokens.get(request.headers.get("Authorization", "").removeprefix("Bearer "))
        if token is None or token.revoked or token.expires < time.time():
            return asana_error(401, "Not Authorized")
        if scope and scope not in token.scopes:
            return asana_error(403, f"Your token does not have the required scope: {scope}")
        return None

    async def _authorize(self, request: web.Request) -> web.Response:
        q = request.query
        redirect = q.get("redirect_uri", "")
        if q.get("client_id") != self.client_id:
            return web.Response(status=400, text="invalid_client")
        if self.deny:
            raise web.HTTPFound(f"{redirect}?{urlencode({'error': 'access_denied', 'state': q.get('state', '')})}")
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"challenge": q.get("code_challenge"), "redirect": redirect, "scopes": set(q.get("scope", "").split())}
        raise web.HTTPFound(f"{redirect}?{urlencode({'code': code, 'state': q.get('state', '')})}")

    async def _token(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return web.json_response({"error": "invalid_client"}, status=401)
        if form.get("grant_type") == "authorization_code":
            grant = self.codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if grant is None or grant["challenge"] != challenge or grant["redirect"] != form.get("redirect_uri"):
                return web.json_response({"error": "invalid_grant"}, status=400)
            access, refresh = self.issue_token(grant["scopes"])
            return web.json_response({"access_token": access, "token_type": "bearer", "expires_in": 3600,
                                      "refresh_token": refresh,
                                      "data": {"id": 4242, "gid": "4242", "name": "Ann", "email": self.email}})
        if form.get("grant_type") == "refresh_token":
            scopes = self.refresh_tokens.get(form.get("refresh_token", ""))
            if scopes is None:
                return web.json_response({"error": "invalid_grant"}, status=400)
            access = "2/" + self.token_prefix + secrets.token_urlsafe(24)
            self.tokens[access] = Token(set(scopes), time.time() + 3600, form["refresh_token"])
            return web.json_response({"access_token": access, "token_type": "bearer", "expires_in": 3600})
        return web.json_response({"error": "unsupported_grant_type"}, status=400)

    async def _revoke(self, request: web.Request) -> web.Response:
        form = await request.post()
        token = form.get("token", "")
        self.revoked.append(token)
        self.refresh_tokens.pop(token, None)
        for access, grant in self.tokens.items():
            if access == token or grant.refresh == token:
                grant.revoked = True
        return web.Response(status=200)

    async def _me(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request, "users:read")) is not None:
            return denied
        return web.json_response({"data": {"gid": "4242", "name": "Ann", "email": self.email, "resource_type": "user",
                                           "workspaces": [{"gid": WORKSPACE, "name": "Acme", "resource_type": "workspace"}]}})

    async def _tasks_list(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request, "tasks:read")) is not None:
            return denied
        q = request.query
        if q.get("assignee") and not q.get("workspace"):
            return asana_error(400, "workspace: Missing input")
        tasks = [t for t in self.tasks.values() if not (q.get("completed_since") == "now" and t["completed"])]
        return web.json_response({"data": tasks[: int(q.get("limit", "100"))], "next_page": None})

    async def _tasks_create(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request, "tasks:write")) is not None:
            return denied
        data = (await request.json()).get("data") or {}
        if not data.get("name") or not data.get("workspace"):
            return asana_error(400, "name: Missing input")
        gid = self.add_task(data["name"], data.get("due_on"))
        self.tasks[gid]["notes"] = data.get("notes", "")
        return web.json_response({"data": self.tasks[gid]}, status=201)

    async def _tasks_update(self, request: web.Request) -> web.Response:
        if (denied := self._auth(request, "tasks:write")) is not None:
            return denied
        task = self.tasks.get(request.match_info["gid"])
        if task is None:
            return asana_error(404, "task: Not a recognized ID")
        task.update((await request.json()).get("data") or {})
        return web.json_response({"data": task})
