"""Answering people: the steps from a message to a reply, whatever the Slack surface.

Handlers build an `Ask` from the verified request and a `Reply` that knows how to post on their
surface; this module decides what to say.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.identity import Person
from bot.llm.providers import find_pasted_key
from bot.runtime import Runtime
from bot.views.keys import pasted_key_text
from bot.views.messages import NO_KEY_TEXT, no_key_blocks, pasted_key_blocks

MAX_QUESTION_CHARS = 40_000


@dataclass(frozen=True)
class Ask:
    person: Person
    text: str
    channel: str
    thread_ts: str | None  # the thread the answer belongs to
    surface: str  # dm | mention | assistant | command


class Reply(Protocol):
    async def post(self, text: str, blocks: list[dict] | None = None) -> None: ...


class ConversationService:
    def __init__(self, runtime: Runtime):
        self.runtime = runtime

    async def respond(self, ask: Ask, reply: Reply) -> None:
        pasted = find_pasted_key(ask.text)
        if pasted:
            # Never sent to a model, never stored: only a warning goes back.
            from bot.llm.providers import CATALOG

            await reply.post(pasted_key_text(CATALOG.get(pasted)), pasted_key_blocks(pasted))
            return
        if not await self.runtime.vault.usable(ask.person):
            await reply.post(NO_KEY_TEXT, no_key_blocks())
            return
        await reply.post("Your keys are set. Answers arrive with the next version of Atom.")
