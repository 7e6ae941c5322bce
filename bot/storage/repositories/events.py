"""Slack event claims (at-least-once delivery)."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

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
    return insert(EventClaim.__table__).on_conflict_do_nothing(index_elements=["event_id"])


class EventClaims:
    """Claims Slack event ids so a redelivered event is handled once, across processes and restarts."""

    def __init__(self, sessions: async_sessionmaker):
        self._sessions = sessions

    async def claim(self, event_id: str, team_id: str = "") -> bool:
        """True the first time an event id is claimed, False for every redelivery."""
        # Core on a connection: this runs for every event, and the ORM session costs more than the write.
        async with self._sessions.kw["bind"].begin() as conn:
            result = await conn.execute(
                _claim_statement(conn.dialect.name),
                {"event_id": event_id, "team_id": team_id or "", "claimed_at": utcnow()},
            )
            return result.rowcount == 1

    async def purge_older_than(self, age: timedelta, now: datetime | None = None) -> int:
        cutoff = (now or utcnow()) - age
        async with self._sessions() as session:
            result = await session.execute(delete(EventClaim).where(EventClaim.claimed_at < cutoff))
            await session.commit()
            return result.rowcount or 0
