"""Messages to Atom: DMs (`message.im`) and mentions in channels (`app_mention`)."""

from __future__ import annotations

import logging

from bot.conversations import Ask, ConversationService
from bot.handlers.once import first_delivery
from bot.handlers.replies import ThreadReply
from bot.identity import Person
from bot.runtime import Runtime

log = logging.getLogger(__name__)

# Message subtypes that are a person talking to Atom; edits, joins and bot posts are not.
PERSON_SUBTYPES = (None, "file_share", "thread_broadcast")


def register(surface, runtime: Runtime, conversations: ConversationService) -> None:
    @surface.event("message.im", {"type": "message", "channel_type": "im"})
    async def on_dm(body, event, client, context):
        if event.get("subtype") not in PERSON_SUBTYPES or event.get("bot_id"):
            return
        if not await first_delivery(runtime, body):
            return
        ask = Ask(
            Person.from_context(context),
            event.get("text") or "",
            event["channel"],
            event.get("thread_ts"),
            "dm",
        )
        async with runtime.inflight.hold():
            await conversations.respond(ask, ThreadReply(client, event["channel"], event.get("thread_ts")))

    @surface.event("app_mention")
    async def on_mention(body, event, client, context):
        if not await first_delivery(runtime, body):
            return
        thread_ts = event.get("thread_ts") or event["ts"]
        ask = Ask(
            Person.from_context(context), event.get("text") or "", event["channel"], thread_ts, "mention"
        )
        async with runtime.inflight.hold():
            await conversations.respond(ask, ThreadReply(client, event["channel"], thread_ts))
