"""Slack event claims (at-least-once delivery).

Slack marks every redelivery (`X-Slack-Retry-Num`, or `retry_attempt` in Socket Mode), so a
delivery without that mark is a first delivery: its claim is made in memory and written to the
database shortly after, in a group with the others of that moment, with nobody waiting for the
write. A redelivery is checked against memory and then the database, and waits for that answer
(it may come after a restart, or to another process). Claims that are waited for are written in
groups too: the ones asked for while one write is in flight go together in the next (one
transaction, one multi-row INSERT ... ON CONFLICT DO NOTHING RETURNING). Claiming every event
one awaited row at a time was most of what an event cost Atom's process (bench/ack_latency.py).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from datetime import datetime, timedelta

from cachetools import TTLCache
from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.storage.models import (
    EventClaim,
    utcnow,
)


@functools.cache
def _claim_statement(dialect_name: str):
    """Built once per dialect and reused: this runs for every event, and building it cost more
    than running it."""
    insert = pg_insert if dialect_name == "postgresql" else sqlite_insert
    table = EventClaim.__table__
    return insert(table).on_conflict_do_nothing(index_elements=["event_id"]).returning(table.c.event_id)


log = logging.getLogger(__name__)
MAX_GROUP = 500  # rows per INSERT: well under SQLite's and asyncpg's parameter limits
WRITE_DELAY_S = 0.02  # first deliveries' claims gather this long before their write
RECENT_TTL_S = 3600.0  # Slack retries within minutes; remembered in memory for an hour
RECENT_MAX = 200_000


class EventClaims:
    """Claims Slack event ids so a redelivered event is handled once, across processes and restarts."""

    def __init__(self, sessions: async_sessionmaker):
        self._sessions = sessions
        self._recent: TTLCache = TTLCache(maxsize=RECENT_MAX, ttl=RECENT_TTL_S)
        self._waiting: dict[str, tuple[str, list[asyncio.Future]]] = {}
        self._unwritten: dict[str, str] = {}
        self._writer: asyncio.Task | None = None

    async def claim(self, event_id: str, team_id: str = "", *, first: bool = False) -> bool:
        """True the first time an event id is claimed, False for every redelivery. `first`: Slack
        did not mark this delivery as a retry, so memory decides and the write follows."""
        if event_id in self._recent:
            return False
        self._recent[event_id] = utcnow()
        loop = asyncio.get_running_loop()
        if first:
            self._unwritten[event_id] = team_id or ""
            self._start_writer(loop)
            return True
        answer = loop.create_future()
        self._waiting[event_id] = (team_id or "", [answer])
        self._start_writer(loop)
        return await answer

    def _start_writer(self, loop) -> None:
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._write_all())

    async def close(self) -> None:
        """Write what is still in memory (at shutdown, before the engine goes)."""
        if self._writer is not None and not self._writer.done():
            await self._writer
        if self._unwritten or self._waiting:
            await self._write_all(delay=0)

    async def _write_all(self, delay: float = WRITE_DELAY_S) -> None:
        while self._waiting or self._unwritten:
            if not self._waiting and delay:
                await asyncio.sleep(delay)  # nobody waits for these: let the moment's others join
            group = dict(list(self._waiting.items())[:MAX_GROUP])
            for event_id in group:
                del self._waiting[event_id]
            behind = dict(list(self._unwritten.items())[: MAX_GROUP - len(group)])
            for event_id in behind:
                del self._unwritten[event_id]
            rows = {event_id: team for event_id, (team, _) in group.items()} | behind
            try:
                claimed = await self._write(rows)
            except BaseException as exc:  # every waiter hears it; the next group tries afresh
                for event_id, (_, answers) in group.items():
                    self._recent.pop(event_id, None)  # not claimed: a redelivery may try again
                    for answer in answers:
                        if not answer.done():
                            answer.set_exception(exc if isinstance(exc, Exception) else asyncio.CancelledError())
                if behind:  # answered already; only a redelivery after a restart could repeat them
                    log.warning("could not record %d event claims: %s", len(behind), type(exc).__name__)
                if not isinstance(exc, Exception):
                    raise
                continue
            for event_id, (_, answers) in group.items():
                for answer in answers:
                    if not answer.done():
                        answer.set_result(event_id in claimed)

    async def _write(self, teams: dict[str, str]) -> set[str]:
        """Insert these claims (event id → team); the ids that were not claimed before."""
        now = utcnow()
        rows = [{"event_id": event_id, "team_id": team, "claimed_at": now} for event_id, team in teams.items()]
        # Core on a connection: this runs for every event, and the ORM session costs more than the write.
        async with self._sessions.kw["bind"].begin() as conn:
            result = await conn.execute(_claim_statement(conn.dialect.name), rows)
            return {row[0] for row in result}

    async def purge_older_than(self, age: timedelta, now: datetime | None = None) -> int:
        cutoff = (now or utcnow()) - age
        for event_id in [e for e, claimed_at in list(self._recent.items()) if claimed_at < cutoff]:
            self._recent.pop(event_id, None)  # forgotten as the database forgets it
        async with self._sessions() as session:
            result = await session.execute(delete(EventClaim).where(EventClaim.claimed_at < cutoff))
            await session.commit()
            return result.rowcount or 0
