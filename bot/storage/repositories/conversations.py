"""Conversation turns, usage records and per-person settings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.storage.models import (
    ConversationTurn,
    PersonSettings,
    UsageRecord,
    WorkspacePolicy,
    utcnow,
)


class AnswerRecords:
    """What answers leave behind, written in batches (see bot/pending.py): turns, then usage."""

    def __init__(self, sessions: async_sessionmaker):
        self._sessions = sessions

    async def add(self, turns: list[dict], usage: list[dict]) -> None:
        async with self._sessions.kw["bind"].begin() as conn:
            if turns:
                await conn.execute(insert(ConversationTurn.__table__), turns)
            if usage:
                await conn.execute(insert(UsageRecord.__table__), usage)


class Turns:
    """Rows of conversation_turns (content already encrypted by the caller)."""

    def __init__(self, sessions: async_sessionmaker):
        self._sessions = sessions

    async def thread(
        self, enterprise_id: str, team_id: str, thread_key: str, limit: int = 200
    ) -> list[ConversationTurn]:
        """The thread's latest turns, oldest first."""
        async with self._sessions() as session:
            result = await session.execute(
                select(ConversationTurn)
                .where(
                    ConversationTurn.enterprise_id == enterprise_id,
                    ConversationTurn.team_id == team_id,
                    ConversationTurn.thread_key == thread_key,
                )
                .order_by(ConversationTurn.created_at.desc(), ConversationTurn.id.desc())
                .limit(limit)
            )
            return list(reversed(result.scalars().all()))

    async def get(self, turn_id: str) -> ConversationTurn | None:
        async with self._sessions() as session:
            return await session.get(ConversationTurn, turn_id)

    async def for_user(self, enterprise_id: str, team_id: str, user_id: str) -> list[ConversationTurn]:
        """Everything one person said to Atom and Atom answered them, oldest first (`/atom export`)."""
        async with self._sessions() as session:
            result = await session.execute(
                select(ConversationTurn)
                .where(
                    ConversationTurn.enterprise_id == enterprise_id,
                    ConversationTurn.team_id == team_id,
                    ConversationTurn.user_id == user_id,
                )
                .order_by(ConversationTurn.created_at, ConversationTurn.id)
            )
            return list(result.scalars())

    async def thread_known(self, enterprise_id: str, team_id: str, thread_key: str) -> bool:
        async with self._sessions() as session:
            result = await session.execute(
                select(ConversationTurn.id)
                .where(
                    ConversationTurn.enterprise_id == enterprise_id,
                    ConversationTurn.team_id == team_id,
                    ConversationTurn.thread_key == thread_key,
                )
                .limit(1)
            )
            return result.first() is not None

    async def delete_for_user(self, enterprise_id: str, team_id: str, user_id: str) -> int:
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                delete(ConversationTurn).where(
                    ConversationTurn.enterprise_id == enterprise_id,
                    ConversationTurn.team_id == team_id,
                    ConversationTurn.user_id == user_id,
                )
            )
            return result.rowcount or 0

    async def purge_older_than(self, cutoff: datetime) -> int:
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                delete(ConversationTurn).where(ConversationTurn.created_at < cutoff)
            )
            return result.rowcount or 0


class UsageLog:
    def __init__(self, sessions: async_sessionmaker):
        self._sessions = sessions

    async def get(self, record_id: str) -> UsageRecord | None:
        async with self._sessions() as session:
            return await session.get(UsageRecord, record_id)

    async def set_feedback(
        self, record_id: str, enterprise_id: str, team_id: str, user_id: str, feedback: str
    ) -> bool:
        """Only the person the answer was for can rate it."""
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(UsageRecord)
                .where(
                    UsageRecord.id == record_id,
                    UsageRecord.enterprise_id == enterprise_id,
                    UsageRecord.team_id == team_id,
                    UsageRecord.user_id == user_id,
                )
                .values(feedback=feedback)
            )
            return (result.rowcount or 0) > 0

    @staticmethod
    def _window(enterprise_id: str, team_id: str, since: datetime, user_id: str | None) -> list:
        """A workspace's records since a moment; one person's when `user_id` is given."""
        conditions = [
            UsageRecord.enterprise_id == enterprise_id,
            UsageRecord.team_id == team_id,
            UsageRecord.created_at >= since,
        ]
        if user_id is not None:
            conditions.append(UsageRecord.user_id == user_id)
        return conditions

    async def since(
        self, enterprise_id: str, team_id: str, since: datetime, user_id: str | None = None
    ) -> list[UsageRecord]:
        async with self._sessions() as session:
            result = await session.execute(
                select(UsageRecord).where(*self._window(enterprise_id, team_id, since, user_id))
            )
            return list(result.scalars())

    async def spent_since(
        self, enterprise_id: str, team_id: str, since: datetime, user_id: str | None = None
    ) -> float:
        async with self._sessions() as session:
            result = await session.execute(
                select(func.coalesce(func.sum(UsageRecord.cost_usd), 0.0)).where(
                    *self._window(enterprise_id, team_id, since, user_id)
                )
            )
            return float(result.scalar() or 0.0)


class PersonSettingsStore:
    def __init__(self, sessions: async_sessionmaker):
        self._sessions = sessions

    async def get(self, enterprise_id: str, team_id: str, user_id: str) -> PersonSettings | None:
        async with self._sessions() as session:
            return await session.get(PersonSettings, (enterprise_id, team_id, user_id))

    async def get_with_workspace_budget(
        self, enterprise_id: str, team_id: str, user_id: str
    ) -> tuple[PersonSettings | None, float | None]:
        """The person's settings and the workspace's monthly budget, on one connection (read per answer)."""
        async with self._sessions.kw["bind"].connect() as conn:
            row = (
                await conn.execute(
                    select(PersonSettings.__table__).where(
                        PersonSettings.enterprise_id == enterprise_id,
                        PersonSettings.team_id == team_id,
                        PersonSettings.user_id == user_id,
                    )
                )
            ).first()
            budget = (
                await conn.execute(
                    select(WorkspacePolicy.monthly_budget_usd).where(
                        WorkspacePolicy.enterprise_id == enterprise_id, WorkspacePolicy.team_id == team_id
                    )
                )
            ).scalar()
            return row, budget

    async def put(self, enterprise_id: str, team_id: str, user_id: str, **values) -> None:
        async with self._sessions() as session, session.begin():
            row = await session.get(PersonSettings, (enterprise_id, team_id, user_id), with_for_update=True)
            if row is None:
                row = PersonSettings(
                    enterprise_id=enterprise_id, team_id=team_id, user_id=user_id, overrides={}
                )
                session.add(row)
            for name, value in values.items():
                setattr(row, name, value)
            row.updated_at = utcnow()
