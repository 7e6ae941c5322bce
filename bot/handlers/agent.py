"""Slack's agent messaging (`agent_view`): the Messages tab opening, what the person is viewing,
and questions about it ("summarize this").

Conversations themselves arrive as DMs (bot/handlers/messages.py: each top-level message is
answered in its own thread); apps still on `assistant_view` keep bot/handlers/assistant.py.
"""

from __future__ import annotations

import dataclasses
import logging

from slack_sdk.errors import SlackApiError

from bot.conversations import Ask
from bot.delivery import DeliveryPolicy
from bot.handlers.once import first_delivery
from bot.identity import Person
from bot.runtime import Runtime
from bot.viewing import (
    NOTHING_VIEWED,
    Reading,
    ViewMemory,
    ViewReader,
    parse_context,
    question_about,
    refers_to_view,
)
from bot.views.steps import reading as reading_step

log = logging.getLogger(__name__)

PROMPTS_TITLE = "Try one of these"
SUGGESTED_PROMPTS = [
    {"title": "Summarize this channel", "message": "Summarize this"},
    {"title": "Explain some code", "message": "Explain what this code does and spot any bugs:"},
    {"title": "Plan my week", "message": "Help me plan my week around these priorities:"},
    {"title": "Set up my keys", "message": "How do I add my AI provider key?"},
]
VIEWING_PROMPTS = [
    {"title": "Summarize this", "message": "Summarize this"},
    {"title": "What did I miss here?", "message": "What did I miss here?"},
]


def register(surface, runtime: Runtime, views: ViewMemory) -> None:
    surface.agent_view = True

    async def on_messages_tab(event) -> bool:
        return event.get("tab") == "messages"

    @surface.event("app_home_opened", matchers=[on_messages_tab])
    async def on_conversation_opened(body, context, set_suggested_prompts):
        """The person opened Atom's Messages tab: prompts at the top of the conversation."""
        if set_suggested_prompts is None or not await first_delivery(runtime, body, context):
            return
        async with runtime.inflight.hold():
            await _suggest(set_suggested_prompts, SUGGESTED_PROMPTS)

    @surface.event("app_context_changed")
    async def on_context_changed(event, client, context):
        """What the person views changed: kept for "summarize this"; no claim is trusted here
        (bot/viewing.py checks membership before reading anything)."""
        if not context.get("user_id"):
            return  # no verified person to keep it for
        person = Person.from_context(context)
        viewed = parse_context(event.get("context"))
        before = views.get(person)
        views.set(person, viewed)
        dm = event.get("channel")
        readable = ("channel", "thread")
        # Prompts change when a readable place comes into view, not on every move between places.
        if dm and viewed and viewed[0].kind in readable and not (before and before[0].kind in readable):
            try:
                await client.assistant_threads_setSuggestedPrompts(
                    channel_id=dm, prompts=VIEWING_PROMPTS, title=PROMPTS_TITLE
                )
            except SlackApiError as exc:  # prompts are a nicety
                log.info("could not set prompts for the viewed context: %s", exc.response.get("error"))


async def _suggest(set_suggested_prompts, prompts) -> None:
    try:
        await set_suggested_prompts(prompts=prompts, title=PROMPTS_TITLE)
    except SlackApiError as exc:
        log.info("could not set suggested prompts: %s", exc.response.get("error"))


async def about_view(
    ask: Ask, reply, views: ViewMemory, client, policy: DeliveryPolicy | None = None
) -> Ask | None:
    """A DM about what the person is viewing becomes a question with that conversation in it, or
    a clear refusal (then None). Anything else, or no context ever sent, is left as it is; a latest
    context with nothing usable in it is said plainly (never answered from an older one)."""
    viewed = views.get(ask.person)
    if viewed is None or not refers_to_view(ask.text):
        return ask
    if not viewed:
        await reply.post(NOTHING_VIEWED)
        return None
    result = await ViewReader(client, policy).read(ask.person, viewed[0])
    if not isinstance(result, Reading):
        await reply.post(result.text)
        return None
    title, details = reading_step(result.place, len(result.lines))
    await reply.step(title, details=details)
    return dataclasses.replace(
        ask, text=question_about(result, ask.text), top_level=False, notes=(*ask.notes, result.note)
    )
