"""Answers in flight, kept in the database: what a crash cut short and what Slack would not take.

An answer gets a row when it starts (the question encrypted, like conversation memory), learns
which Slack message shows it, and loses the row once delivered. So at start-up every row still
"answering" is an answer the previous process died in: `close_left_by_crash` stops its stream (or
posts in its thread) with a short note and a *Try again* button that re-asks the stored question.
An answer Slack refused keeps its row as "undelivered", with the answer encrypted, for *Retry*.
Rows are written behind, in batches (`AnswersInFlight`): most answers never touch the database.

One process per database is assumed (as for the schedules): a second process starting would
close the first one's answers in flight.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, insert, select, update

from bot.delivery import FINISHED_STREAM, DeliveryFailed, DeliveryPolicy, SlackDelivery
from bot.identity import Person
from bot.pending import Flusher
from bot.storage.encryption import Crypto, UndecryptableSecret
from bot.storage.models import AnswerInFlight, new_id, utcnow
from bot.views.delivery import INTERRUPTED_TEXT, interrupted_blocks

log = logging.getLogger(__name__)

DEFAULT_DELAY_S = 0.2
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
        # Written now (not awaited): from here on a crash leaves a message that needs closing.
        self.store._set(self.delivery_id, message_ts=ts, streaming=streaming, now=True)

    async def undelivered(self, text: str, footer: list[dict]) -> None:
        self.store._set(
            self.delivery_id, state="undelivered", answer=self.store.crypto.encrypt(text), footer=footer
        )
        await self.store.flush()  # the Retry button may be pressed at once


class AnswersInFlight:
    """Written behind, like answers' turns (bot/pending.py): an answer that starts and ends within
    `delay` without showing a Slack message never touches the database; the rest are written in
    one transaction each `delay` (a new row once it is `delay` old, or at once when its message
    appears: from then on a crash leaves something to close). A crash loses at most the answers
    begun in its last `delay`; every reader flushes everything first."""

    def __init__(self, sessions, crypto: Crypto, *, delay: float = DEFAULT_DELAY_S, clock=time.monotonic):
        self.sessions = sessions
        self.crypto = crypto
        self._new: dict[str, dict] = {}  # rows not written yet
        self._due: dict[str, float] = {}  # new row -> `clock` time from which it is written
        self._delay = delay
        self._clock = clock  # seconds, monotonic (injected by tests)
        self._changes: dict[str, dict] = {}  # changes to rows already written
        self._gone: dict[str, bool] = {}  # rows to delete → only while still "answering"
        self._lock = asyncio.Lock()
        self._flusher = Flusher(self._flush_due, delay)

    async def begin(
        self, person: Person, question: str, channel: str, thread_ts: str | None, surface: str
    ) -> AnswerTracker:
        delivery_id = new_id().replace("-", "")
        self._new[delivery_id] = {
            "id": delivery_id,
            "enterprise_id": person.enterprise_id,
            "team_id": person.team_id,
            "user_id": person.user_id,
            "channel": channel,
            "thread_ts": thread_ts,
            "surface": surface,
            "state": "answering",
            # Encrypted when the row is written: most answers end within the batch window and
            # are never written, so their question is never encrypted for nothing.
            "question": question,
            "streaming": False,
            "message_ts": None,
            "answer": None,
            "footer": None,
            "created_at": utcnow(),
        }
        self._due[delivery_id] = self._clock() + self._delay
        self._flusher.soon()
        return AnswerTracker(self, delivery_id)

    def delivered(self, delivery_id: str) -> None:
        """The answer reached the person (or was never going to): nothing left to recover."""
        row = self._new.get(delivery_id)
        if row is not None:
            if row["state"] == "answering":
                del self._new[delivery_id]
                self._due.pop(delivery_id, None)
            return
        if self._changes.get(delivery_id, {}).get("state", "answering") == "answering":
            self._changes.pop(delivery_id, None)
            self._gone[delivery_id] = True
            self._flusher.soon()

    async def forget(self, delivery_id: str) -> None:
        self._new.pop(delivery_id, None)
        self._due.pop(delivery_id, None)
        self._changes.pop(delivery_id, None)
        self._gone[delivery_id] = False
        await self.flush()

    async def exists(self, delivery_id: str) -> bool:
        await self.flush()
        async with self.sessions() as session:
            return bool(delivery_id) and await session.get(AnswerInFlight, delivery_id) is not None

    async def get(self, delivery_id: str, person: Person) -> StoredAnswer | None:
        """The row, only for the person who asked (anyone else gets None)."""
        await self.flush()
        async with self.sessions() as session:
            row = await session.get(AnswerInFlight, delivery_id) if delivery_id else None
        if row is None or (row.enterprise_id, row.team_id, row.user_id) != (
            person.enterprise_id,
            person.team_id,
            person.user_id,
        ):
            return None
        return self._stored(row)

    def _set(self, delivery_id: str, *, now: bool = False, **values) -> None:
        if delivery_id in self._new:
            self._new[delivery_id].update(values)
        else:
            self._changes.setdefault(delivery_id, {}).update(values)
        if now:
            self._flusher.now()
        else:
            self._flusher.soon()

    async def _flush_due(self) -> None:
        await self.flush(due_only=True)

    async def flush(self, *, due_only: bool = False) -> None:
        """Write what is waiting, in one transaction. Never raises: the record helps a restart or
        a Retry; it must never cost the answer itself. `due_only` (the timer's flush): new rows
        only once `delay` old or showing a message; the others wait for their own time."""
        async with self._lock:
            new, changes, gone = self._new, self._changes, self._gone
            if not (new or changes or gone):
                return
            self._new, self._changes, self._gone = {}, {}, {}
            if due_only:
                now = self._clock()
                for delivery_id in [i for i, row in new.items() if self._due[i] > now and not row["message_ts"]]:
                    self._new[delivery_id] = new.pop(delivery_id)
                if self._new:
                    self._flusher.soon(max(0.0, min(self._due[i] for i in self._new) - now))
                if not (new or changes or gone):
                    return
            for delivery_id in new:
                self._due.pop(delivery_id, None)
            try:
                async with self.sessions.begin() as session:
                    if new:
                        rows = [{**row, "question": self.crypto.encrypt(row["question"])} for row in new.values()]
                        await session.execute(insert(AnswerInFlight), rows)
                    for delivery_id, values in changes.items():
                        await session.execute(
                            update(AnswerInFlight).where(AnswerInFlight.id == delivery_id).values(**values)
                        )
                    for delivery_id, only_answering in gone.items():
                        query = delete(AnswerInFlight).where(AnswerInFlight.id == delivery_id)
                        if only_answering:
                            query = query.where(AnswerInFlight.state == "answering")
                        await session.execute(query)
            except Exception:
                log.exception("could not record %d answer(s) in flight", len(new) + len(changes) + len(gone))

    async def close(self) -> None:
        await self._flusher.settle()
        await self.flush()

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
        await self.flush()
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
                    done = await slack.call(
                        "chat.stopStream",
                        repeatable=True,
                        channel=row.channel,
                        ts=row.message_ts,
                        blocks=blocks,
                    )
                    if done.get("already") == FINISHED_STREAM:
                        # Slack says the stream was already stopped: the answer had ended, and
                        # only the row's removal was lost with the process.
                        self._gone[row.id] = False
                        continue
                else:
                    params = {"channel": row.channel, "text": INTERRUPTED_TEXT, "blocks": blocks}
                    if row.thread_ts:
                        params["thread_ts"] = row.thread_ts
                    await slack.call("chat.postMessage", repeatable=False, **params)
            except DeliveryFailed as exc:
                log.warning("could not close an answer a crash cut short: %s", exc)
                continue
            self._set(row.id, state="interrupted")
            closed += 1
        await self.flush()
        if closed:
            log.info("closed %d answer(s) cut short by the last stop", closed)
        return closed
