"""The Assistant side panel (slack_bolt's AsyncAssistant): prompts, status, title, answers.

Apps created before Slack's agent messaging keep `assistant_view` and its events
(`assistant_thread_started`, `assistant_thread_context_changed`). Under `agent_view` Bolt routes
replies in a DM thread here too: they get the same streamed answer, and a question about what the
person views (bot/handlers/agent.py) is answered from it."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncAssistant
from slack_bolt.request.payload_utils import (
    is_assistant_event,
    is_other_message_sub_event_in_assistant_thread,
)

from bot.conversations import Ask, ConversationService
from bot.handlers.agent import about_view
from bot.handlers.once import first_delivery
from bot.handlers.replies import ThreadReply
from bot.identity import Person
from bot.runtime import Runtime
from bot.viewing import ViewMemory

log = logging.getLogger(__name__)

GREETING = "Hi, I'm Atom. Ask me anything: I pick the most economical model that can do the job well."
SUGGESTED_PROMPTS = [
    {"title": "Summarise a document", "message": "Summarise this for me in five bullet points:"},
    {"title": "Explain some code", "message": "Explain what this code does and spot any bugs:"},
    {"title": "Plan my week", "message": "Help me plan my week around these priorities:"},
    {"title": "Set up my keys", "message": "How do I add my AI provider key?"},
]
TITLE_LIMIT = 60


class ThreadsOnlyAssistant(AsyncAssistant):
    """AsyncAssistant runs its listeners' matchers for every request; a request that is no
    assistant-thread event (a top-level DM, a command, a click…) goes straight on, by the same
    tests of Bolt's own that those matchers make."""

    async def async_process(self, *, req, resp, next):
        body = req.body
        if is_assistant_event(body) or is_other_message_sub_event_in_assistant_thread(body):
            return await super().async_process(req=req, resp=resp, next=next)
        return await next()


def register(surface, runtime: Runtime, conversations: ConversationService, views: ViewMemory) -> None:
    assistant = ThreadsOnlyAssistant()

    @assistant.thread_started
    async def on_thread_started(body, context, say, set_suggested_prompts):
        if not await first_delivery(runtime, body, context):
            return
        async with runtime.inflight.hold():
            await say(GREETING)
            await set_suggested_prompts(prompts=SUGGESTED_PROMPTS, title="Try one of these")

    @assistant.user_message
    async def on_user_message(body, payload, client, context, set_status, set_title):
        if not await first_delivery(runtime, body, context):
            return
        person = Person.from_context(context)
        channel, thread_ts = payload["channel"], payload.get("thread_ts")
        text = payload.get("text") or ""
        async with runtime.inflight.hold():
            # The thread is titled from its first question once the service has read the thread's
            # memory anyway (a pasted key is refused before that, so it never becomes a title).
            reply = ThreadReply(
                client,
                channel,
                thread_ts,
                team_id=person.team_id,
                user_id=person.user_id,
                set_status=set_status,
                set_title=lambda question: set_title(" ".join(question.split())[:TITLE_LIMIT] or "New chat"),
                policy=runtime.delivery_policy,
            )
            ask = await about_view(Ask(person, text, channel, thread_ts, "assistant"), reply, views, client, runtime.delivery_policy)
            if ask is not None:
                await reply.answer(conversations.respond, ask)

    surface.app.use(assistant)
    surface.assistant = True
    surface.legacy_events.update({"assistant_thread_started", "assistant_thread_context_changed"})
