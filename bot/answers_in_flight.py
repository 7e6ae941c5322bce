"""Answers in flight, kept in the database: what a crash cut short and what Slack would not take.

An answer gets a row when it starts (the question encrypted, like conversation memory), learns
which Slack message shows it, and loses the row once delivered. So at start-up every row still
"answering" is an answer the previous process died in: `close_left_by_crash` stops its stream (or
posts in its thread) with a short note and a *Try again* button that re-asks the stored question.
An answer Slack refused keeps its row as "undelivered", with the answer encrypted, for *Retry*.

One process per database is assumed (as for the schedules): a second process starting would
close the first one's answers in flight.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update

from bot.delivery import DeliveryFailed, DeliveryPolicy, SlackDelivery
from bot.identity import Person
from bot.storage.encryption import Crypto, UndecryptableSecret
from bot.storage.models import AnswerInFlight, utcnow
from bot.views.delivery import INTERRUPTED_TEXT, interrupted_blocks

log = logging.getLogger(__name__)

KEEP_FOR = timedelta(days=7)  # an undelivered or interrupted answer waits this long for its button


@dataclass(frozen=True)
class StoredAnswer:
    id: str
    person: Person
    channel: str
    thread_ts: str | None
    surface: str
    state: str
    question: str
    answer: str | None
    footer: list[dict]


class AnswerTracker:
    """One answer's row, as `bot/handlers/replies.py` reports to it."""

    def __init__(self, store: AnswersInFlight, delivery_id: str):
        self.store, self.delivery_id = store, delivery_id

    async def message_started(self, ts: str, streaming: bool) -> None:
        await self.store._set(self.delivery_id, message_ts=ts, streaming=streaming)

    async def undelivered(self, text: str, footer: list[dict]) -> None:
        await self.store._set(
            self.delivery_id, state="undelivered", answer=self.store.crypto.encrypt(text), footer=footer
        )


class AnswersInFlight:
    def __init__(self, sessions, crypto: Crypto):
        self.sessions = sessions
        self.crypto = crypto

    async def begin(
        self, person: Person, question: str, channel: str, thread_ts: str | None, surface: str
    ) -> AnswerTracker:
        row = AnswerInFlight(
            id=uuid.uuid4().hex,
            enterprise_id=person.enterprise_id,
            team_id=person.team_id,
            user_id=person.user_id,
            channel=channel,
            thread_ts=thread_ts,
            surface=surface,
            question=self.crypto.encrypt(question),
        )
        async with self.sessions.begin() as session:
            session.add(row)
        return AnswerTracker(self, row.id)

    async def delivered(self, delivery_id: str) -> None:
        """The answer reached the person (or was never going to: nothing to recover)."""
        async with self.sessions.begin() as session:
            await session.execute(
                delete(AnswerInFlight).where(
                    AnswerInFlight.id == delivery_id, AnswerInFlight.state == "answering"
                )
            )

    async def forget(self, delivery_id: str) -> None:
        async with self.sessions.begin() as session:
            await session.execute(delete(AnswerInFlight).where(AnswerInFlight.id == delivery_id))

    async def exists(self, delivery_id: str) -> bool:
        async with self.sessions() as session:
            return bool(delivery_id) and await session.get(AnswerInFlight, delivery_id) is not None

    async def get(self, delivery_id: str, person: Person) -> StoredAnswer | None:
        """The row, only for the person who asked (anyone else gets None)."""
        async with self.sessions() as session:
            row = await session.get(AnswerInFlight, delivery_id) if delivery_id else None
        if row is None or (row.enterprise_id, row.team_id, row.user_id) != (
            person.enterprise_id,
            person.team_id,
            person.user_id,
        ):
            return None
        return self._stored(row)

    async def _set(self, delivery_id: str, **values) -> None:
        try:
            async with self.sessions.begin() as session:
                await session.execute(
                    update(AnswerInFlight).where(AnswerInFlight.id == delivery_id).values(**values)
                )
        except Exception:  # the record helps a restart; it must never cost the answer itself
            log.exception("could not record an answer in flight")

    def _stored(self, row: AnswerInFlight) -> StoredAnswer | None:
        try:
            question = self.crypto.decrypt(row.question)
            answer = self.crypto.decrypt(row.answer) if row.answer else None
        except UndecryptableSecret:
            return None
        return StoredAnswer(
            id=row.id,
            person=Person(enterprise_id=row.enterprise_id, team_id=row.team_id, user_id=row.user_id),
            channel=row.channel,
            thread_ts=row.thread_ts,
            surface=row.surface,
            state=row.state,
            question=question,
            answer=answer,
            footer=list(row.footer or []),
        )

    async def close_left_by_crash(
        self, client_for, policy: DeliveryPolicy | None = None, *, before=None
    ) -> int:
        """At start: every answer a crash cut short gets its note and *Try again*. Returns how many.

        `client_for(enterprise_id, team_id)` gives a Web API client for that workspace (or None);
        `before`: this process's start, so that an answer it has already begun is never closed.
        """
        before = before or utcnow()
        async with self.sessions.begin() as session:
            await session.execute(
                delete(AnswerInFlight).where(
                    AnswerInFlight.state != "answering", AnswerInFlight.created_at < utcnow() - KEEP_FOR
                )
            )
            rows = list(
                (
                    await session.execute(
                        select(AnswerInFlight).where(
                            AnswerInFlight.state == "answering", AnswerInFlight.created_at < before
                        )
                    )
                ).scalars()
            )
        closed = 0
        for row in rows:
            client = await client_for(row.enterprise_id, row.team_id)
            if client is None:
                continue
            slack = SlackDelivery(client, policy)
            blocks = interrupted_blocks(row.id)
            try:
                if row.message_ts and row.streaming:
                    await slack.call(
                        "chat.stopStream",
                        repeatable=True,
                        channel=row.channel,
                        ts=row.message_ts,
                        blocks=blocks,
                    )
                else:
                    params = {"channel": row.channel, "text": INTERRUPTED_TEXT, "blocks": blocks}
                    if row.thread_ts:
                        params["thread_ts"] = row.thread_ts
                    await slack.call("chat.postMessage", repeatable=False, **params)
            except DeliveryFailed as exc:
                log.warning("could not close an answer a crash cut short: %s", exc)
                continue
            await self._set(row.id, state="interrupted")
            closed += 1
        if closed:
            log.info("closed %d answer(s) cut short by the last stop", closed)
        return closed
