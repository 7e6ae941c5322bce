"""The fake Google (tests/fakes/google.py, unchanged) in a process of its own, for bench/connectors.py.

A real Google is remote: it does not share Atom's interpreter lock. In the bench's own process the
fake's HTTP parsing and serving, and the lock hand-offs between its thread and Atom's worker
threads, would land in what the bench calls Atom's own time.

Run: `python bench/_fake_google.py CLIENT_ID CLIENT_SECRET`. It prints one JSON line once both servers listen:
{"url": the fake Google's base URL, "control": the control server's base URL}, then serves until
SIGTERM or SIGINT.

The control server is a second aiohttp app on its own port, so its requests never pass through
the fake's middleware and never count in its handler time:

    GET  /healthz
    GET  /state                  {"server_seconds", "cpu_seconds", "in_flight", "max_in_flight",
                                 "requests"}. server_seconds: the fake's own counter of wall time
                                 during which at least one of its handlers was running (concurrent
                                 calls once); cpu_seconds: this process's CPU time so far
    POST /issue_token            {"scopes": [...], "lifetime": s|null} -> {"access", "refresh",
                                 "account", "token_lifetime"}
    POST /messages               {"subject", "sender", "body"} -> {"id"}
    POST /events                 one Calendar event, appended to the fake's calendar
    POST /delay                  {"seconds"}: every API call is held that long
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp import web  # noqa: E402

from tests.fakes.google import FakeGoogle  # noqa: E402


def control_app(google: FakeGoogle) -> web.Application:
    async def healthz(_request):
        return web.json_response({"status": "ok"})

    async def state(_request):
        return web.json_response({"server_seconds": google.server_seconds, "cpu_seconds": time.process_time(),
                                  "in_flight": google.in_flight,
                                  "max_in_flight": google.max_in_flight, "requests": len(google.requests)})

    async def issue_token(request):
        body = await request.json()
        access, refresh = google.issue_token(set(body["scopes"]), body.get("lifetime"))
        return web.json_response({"access": access, "refresh": refresh, "account": google.account,
                                  "token_lifetime": google.token_lifetime})

    async def messages(request):
        body = await request.json()
        return web.json_response({"id": google.add_message(body["subject"], body["sender"], body["body"])})

    async def events(request):
        google.events.append(await request.json())
        return web.json_response({"ok": True})

    async def delay(request):
        google.delay = float((await request.json())["seconds"])
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/state", state)
    app.router.add_post("/issue_token", issue_token)
    app.router.add_post("/messages", messages)
    app.router.add_post("/events", events)
    app.router.add_post("/delay", delay)
    return app


async def serve() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with FakeGoogle(sys.argv[1], sys.argv[2]) as google:
        runner = web.AppRunner(control_app(google), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        control = f"http://127.0.0.1:{runner.addresses[0][1]}"
        print(json.dumps({"url": google.url, "control": control}), flush=True)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(serve())
