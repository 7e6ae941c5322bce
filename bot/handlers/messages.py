"""Messages to Atom: DMs (`message.im`) and mentions in channels (`app_mention`)."""

from __future__ import annotations

import logging

from bot.handlers.once import first_delivery
from bot.runtime import Runtime
from bot.views.messages import NO_KEY_TEXT, no_key_blocks

log = logging.getLogger(__name__)

# Message subtypes that are a person talking to Atom; edits, joins and bot posts are not.
PERSON_SUBTYPES = (None, "file_share", "thread_broadcast")


def register(surface, runtime: Runtime) -> None:
    @surface.event("message.im", {"type": "message", "channel_type": "im"})
    async def on_dm(body, event, client):
        if event.get("subtype") not in PERSON_SUBTYPES or event.get("bot_id"):
            return
        if not await first_delivery(runtime, body):
            return
        async with runtime.inflight.hold():
            await client.chat_postMessage(
                channel=event["channel"],
                thread_ts=event.get("thread_ts"),
                text=NO_KEY_TEXT,
                blocks=no_key_blocks(),
                unfurl_links=False,
                unfurl_media=False,
            )

    @surface.event("app_mention")
    async def on_mention(body, event, client):
        if not await first_delivery(runtime, body):
            return
        async with runtime.inflight.hold():
            await client.chat_postMessage(
                channel=event["channel"],
                thread_ts=event.get("thread_ts") or event["ts"],
                text=NO_KEY_TEXT,
                blocks=no_key_blocks(),
                unfurl_links=False,
                unfurl_media=False,
            )
