"""The Assistant side panel (slack_bolt's AsyncAssistant)."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncAssistant

from bot.handlers.once import first_delivery
from bot.runtime import Runtime
from bot.views.messages import NO_KEY_TEXT, no_key_blocks

log = logging.getLogger(__name__)

GREETING = "Hi, I'm Atom. Ask me anything: I pick the most economical model that can do the job well."
SUGGESTED_PROMPTS = [
    {"title": "Summarise a document", "message": "Summarise this for me in five bullet points:"},
    {"title": "Explain some code", "message": "Explain what this code does and spot any bugs:"},
    {"title": "Plan my week", "message": "Help me plan my week around these priorities:"},
    {"title": "Set up my keys", "message": "How do I add my AI provider key?"},
]


def register(surface, runtime: Runtime) -> None:
    assistant = AsyncAssistant()

    @assistant.thread_started
    async def on_thread_started(body, say, set_suggested_prompts):
        if not await first_delivery(runtime, body):
            return
        async with runtime.inflight.hold():
            await say(GREETING)
            await set_suggested_prompts(prompts=SUGGESTED_PROMPTS, title="Try one of these")

    @assistant.user_message
    async def on_user_message(body, say):
        if not await first_delivery(runtime, body):
            return
        async with runtime.inflight.hold():
            await say(text=NO_KEY_TEXT, blocks=no_key_blocks())

    surface.app.use(assistant)
    surface.assistant = True
    surface.events.update({"assistant_thread_started", "assistant_thread_context_changed"})
