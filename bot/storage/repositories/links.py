"""Which conversation a Slack thread belongs to, and where a person's last answer was given."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.storage.models import ConversationLink, ConversationTurn


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite drops the zone


class ConversationLinks:
    def __init__(self, sessions: async_sessionmaker):
        self._sessions = sessions

    async def target(self, enterprise_id: str, team_id: str, thread_key: str) -> str | None:
        async with self._sessions() as session:
            row = await session.get(ConversationLink, (enterprise_id, team_id, thread_key))
            return row.conversation_key if row else None

    async def link(
        self, enterprise_id: str, team_id: str, user_id: str, thread_key: str, conversation_key: str, now: datetime
    ) -> None:
        row = dict(
            enterprise_id=enterprise_id,
            team_id=team_id,
            thread_key=thread_key,
            user_id=user_id,
            conversation_key=conversation_key,
            created_at=now,
        )
        for attempt in (1, 2):
            try:
                async with self._sessions() as session, session.begin():
                    await session.merge(ConversationLink(**row))
                return
            except IntegrityError:
                # Two answers in the same thread at once both found no link and both inserted:
                # the second merge finds the first's row and updates it.
                if attempt == 2:
                    raise

    async def last_answer(
        self, enterprise_id: str, team_id: str, user_id: str, key_prefix: str
    ) -> tuple[str, datetime] | None:
        """(conversation key, when) of the newest answer Atom gave this person under `key_prefix`."""
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(ConversationTurn.thread_key, ConversationTurn.created_at)
                    .where(
                        ConversationTurn.enterprise_id == enterprise_id,
                        ConversationTurn.team_id == team_id,
                        ConversationTurn.user_id == user_id,
                        ConversationTurn.role == "assistant",
                        ConversationTurn.thread_key.startswith(key_prefix, autoescape=True),
                    )
                    .order_by(ConversationTurn.created_at.desc())
                    .limit(1)
                )
            ).first()
            return (row[0], _aware(row[1])) if row else None

    async def delete_for_user(self, enterprise_id: str, team_id: str, user_id: str) -> int:
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                delete(ConversationLink).where(
                    ConversationLink.enterprise_id == enterprise_id,
                    ConversationLink.team_id == team_id,
                    ConversationLink.user_id == user_id,
                )
            )
            return result.rowcount or 0

    async def purge_older_than(self, cutoff: datetime) -> int:
        async with self._sessions() as session, session.begin():
            result = await session.execute(delete(ConversationLink).where(ConversationLink.created_at < cutoff))
            return result.rowcount or 0
