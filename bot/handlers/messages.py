"""Messages to Atom: DMs (`message.im`), mentions (`app_mention`) and follow-ups in threads Atom
was asked into (`message.channels` / `message.groups`); elsewhere it stays quiet.

A top-level DM is answered in its own thread (Slack's agent messaging: each message starts a
conversation); replies in that thread reach bot/handlers/assistant.py through Bolt's Assistant."""

from __future__ import annotations

import logging

from bot.conversations import Ask, ConversationService
from bot.handlers.agent import about_view
from bot.handlers.once import first_delivery
from bot.handlers.replies import ThreadReply
from bot.identity import Person
from bot.memory import thread_key
from bot.runtime import Runtime
from bot.viewing import ViewMemory

log = logging.getLogger(__name__)

# Message subtypes that are a person talking to Atom; edits, joins and bot posts are not.
PERSON_SUBTYPES = (None, "file_share", "thread_broadcast")


def _from_a_person(event: dict) -> bool:
    return event.get("subtype") in PERSON_SUBTYPES and not event.get("bot_id")


def register(
    surface, runtime: Runtime, conversations: ConversationService, views: ViewMemory, scheduled=None
) -> None:
    """`scheduled`: (text) → bool and (person, event, client) → plan, for DMs that clearly ask for a
    workflow (bot/handlers/workflows.py); None leaves every DM to the assistant."""

    async def answer(client, context, event, thread_ts: str | None, where: str, top_level=False) -> None:
        person = Person.from_context(context)
        ask = Ask(person, event.get("text") or "", event["channel"], thread_ts, where, top_level=top_level)
        reply = ThreadReply(
            client,
            event["channel"],
            thread_ts,
            team_id=person.team_id,
            user_id=person.user_id,
            policy=runtime.delivery_policy,
            message_ts=event.get("ts") if where == "dm" else None,  # 👀 on DMs
        )
        async with runtime.inflight.hold():
            if where == "dm":
                ask = await about_view(ask, reply, views, client, runtime.delivery_policy)
            if ask is not None:
                await reply.answer(conversations.respond, ask)

    @surface.event("message.im")
    async def on_dm(body, event, client, context):
        if _from_a_person(event) and await first_delivery(runtime, body, context):
            if scheduled is not None and scheduled[0](event.get("text") or ""):
                async with runtime.inflight.hold():
                    await scheduled[1](Person.from_context(context), event, client)
                return
            thread_ts = event.get("thread_ts")
            await answer(client, context, event, thread_ts or event["ts"], "dm", top_level=thread_ts is None)

    @surface.event("app_mention")
    async def on_mention(body, event, client, context):
        if await first_delivery(runtime, body, context):
            await answer(client, context, event, event.get("thread_ts") or event["ts"], "mention")

    async def on_thread_message(body, event, client, context):
        thread_ts = event.get("thread_ts")
        if not thread_ts or not _from_a_person(event):
            return
        bot_user = context.get("bot_user_id")
        if bot_user and f"<@{bot_user}>" in (event.get("text") or ""):
            return  # app_mention answers this one
        person = Person.from_context(context)
        if not await conversations.memory.knows_thread(person, thread_key(event["channel"], thread_ts)):
            return  # not a thread Atom was asked into
        if await first_delivery(runtime, body, context):
            await answer(client, context, event, thread_ts, "thread")

    surface.event("message.channels")(on_thread_message)
    surface.event("message.groups")(on_thread_message)
