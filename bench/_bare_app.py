"""The baseline for bench/ack_latency.py: a bare slack-bolt app whose only listener acks `message`.

Run as its own process, like Atom: `python bench/_bare_app.py <port>` with SLACK_API_URL,
SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET in the environment.
"""

from __future__ import annotations

import os
import sys

from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient


def main() -> None:
    port = int(sys.argv[1])
    client = AsyncWebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
    app = AsyncApp(client=client, signing_secret=os.environ["SLACK_SIGNING_SECRET"])

    @app.event("message")
    async def ack_only(ack):
        await ack()

    web_app = app.web_app(path="/slack/events")

    async def healthz(_request):
        return web.json_response({"status": "ok"})

    web_app.router.add_get("/healthz", healthz)
    web.run_app(web_app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    main()
