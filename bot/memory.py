"""Atom's own conversation memory per Slack thread, encrypted at rest, kept for a limited time.

Slack's history methods are heavily rate-limited for apps outside the Marketplace, so Atom keeps
what was said to it. A thread's memory holds the people's questions and Atom's answers; `/atom
forget` deletes what a person said and what Atom answered them.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from bot.identity import Person
from bot.pending import PendingWrites
from bot.storage.encryption import Crypto, UndecryptableSecret
from bot.storage.models import utcnow
from bot.storage.repositories import Turns

DEFAULT_RETENTION_DAYS = 30


def thread_key(channel: str, thread_ts: str | None) -> str:
    return f"{channel}:{thread_ts or 'top'}"


class ConversationMemory:
    def __init__(
        self,
        sessions,
        crypto: Crypto,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        pending: PendingWrites | None = None,
    ):
        self._turns = Turns(sessions)
        self._crypto = crypto
        self.retention = timedelta(days=retention_days)
        # New turns are written in batches; every read below flushes first (see bot/pending.py).
        self.pending = pending or PendingWrites(sessions)

    async def history(self, person: Person, key: str, limit: int = 60) -> list[dict[str, str]]:
        await self.pending.flush()
        messages = []
        for turn in await self._turns.thread(person.enterprise_id, person.team_id, key, limit):
            try:
                messages.append({"role": turn.role, "content": self._crypto.decrypt(turn.content)})
            except UndecryptableSecret:
                continue  # a lost turn shortens the memory; it must not stop the answer
        return messages

    def remember(self, person: Person, key: str, question: str, answer: str) -> str:
        """Queue one exchange for storing (encrypted now); returns the id of the answer's turn."""
        now = utcnow()
        answer_id = str(uuid.uuid4())
        common = {
            "enterprise_id": person.enterprise_id,
            "team_id": person.team_id,
            "user_id": person.user_id,
            "thread_key": key,
        }
        self.pending.add(
            turns=[
                {
                    **common,
                    "id": str(uuid.uuid4()),
                    "role": "user",
                    "content": self._crypto.encrypt(question),
                    "created_at": now,
                },
                {
                    **common,
                    "id": answer_id,
                    "role": "assistant",
                    "content": self._crypto.encrypt(answer),
                    "created_at": now + timedelta(microseconds=1),
                },
            ]
        )
        return answer_id

    async def answer_for(self, person: Person, turn_id: str) -> str | None:
        """An answer's text, only for the person it was given to."""
        await self.pending.flush()
        turn = await self._turns.get(turn_id)
        if turn is None or (turn.enterprise_id, turn.team_id, turn.user_id) != (
            person.enterprise_id,
            person.team_id,
            person.user_id,
        ):
            return None
        try:
            return self._crypto.decrypt(turn.content)
        except UndecryptableSecret:
            return None

    async def knows_thread(self, person: Person, key: str) -> bool:
        await self.pending.flush()
        return await self._turns.thread_known(person.enterprise_id, person.team_id, key)

    async def forget(self, person: Person) -> int:
        await self.pending.flush()  # a queued turn must not come back after the forgetting
        return await self._turns.delete_for_user(person.enterprise_id, person.team_id, person.user_id)

    async def purge_expired(self, now=None) -> int:
        await self.pending.flush()
        return await self._turns.purge_older_than((now or utcnow()) - self.retention)
