"""Provider keys, workspace policy and budgets, the audit log, process-wide values."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.storage.models import (
    AuditEvent,
    Meta,
    ProviderCredential,
    WorkspacePolicy,
    utcnow,
)

_UPDATED_ON_REPLACE = ("secret", "settings", "hint", "status", "status_detail", "updated_at", "checked_at")
_AUDIT_INSERT = AuditEvent.__table__.insert()


@functools.cache
def _credential_upsert(dialect_name: str):
    """Built once per dialect and reused: constructing the statement cost more than running it."""
    insert = pg_insert if dialect_name == "postgresql" else sqlite_insert
    stmt = insert(ProviderCredential.__table__)
    return stmt.on_conflict_do_update(
        index_elements=["enterprise_id", "team_id", "user_id", "provider"],
        set_={name: stmt.excluded[name] for name in _UPDATED_ON_REPLACE},
    ).returning(ProviderCredential.id)


class Credentials:
    """Rows of provider_credentials. Tokens in, tokens out: encryption is the vault's job."""

    def __init__(self, sessions: async_sessionmaker):
        self._sessions = sessions

    @staticmethod
    def _owner(enterprise_id: str, team_id: str, user_id: str):
        return (
            ProviderCredential.enterprise_id == enterprise_id,
            ProviderCredential.team_id == team_id,
            ProviderCredential.user_id == user_id,
        )

    async def for_owner(self, enterprise_id: str, team_id: str, user_id: str) -> list[ProviderCredential]:
        async with self._sessions() as session:
            result = await session.execute(
                select(ProviderCredential).where(*self._owner(enterprise_id, team_id, user_id))
            )
            return list(result.scalars())

    async def for_person_and_workspace(
        self, enterprise_id: str, team_id: str, user_id: str
    ) -> tuple[list[ProviderCredential], set[str]]:
        """The person's and the workspace's keys, and the workspace's blocked providers, on one
        connection. Read before every answer: Core rows (same attribute names), no ORM identity map."""
        async with self._sessions.kw["bind"].connect() as conn:
            rows = (
                await conn.execute(
                    select(ProviderCredential.__table__).where(
                        ProviderCredential.enterprise_id == enterprise_id,
                        ProviderCredential.team_id == team_id,
                        ProviderCredential.user_id.in_([user_id, ""]),
                    )
                )
            ).all()
            blocked = (
                await conn.execute(
                    select(WorkspacePolicy.blocked_providers).where(
                        WorkspacePolicy.enterprise_id == enterprise_id, WorkspacePolicy.team_id == team_id
                    )
                )
            ).scalar()
            return list(rows), set(blocked or [])

    async def get(
        self, enterprise_id: str, team_id: str, user_id: str, provider: str
    ) -> ProviderCredential | None:
        async with self._sessions() as session:
            result = await session.execute(
                select(ProviderCredential).where(
                    *self._owner(enterprise_id, team_id, user_id), ProviderCredential.provider == provider
                )
            )
            return result.scalar_one_or_none()

    async def upsert(
        self,
        *,
        enterprise_id: str,
        team_id: str,
        user_id: str,
        provider: str,
        secret: str,
        settings: dict,
        hint: str,
        status: str,
        status_detail: str,
        checked: bool,
        audit_for: Callable[[bool], list[dict]] | None = None,
    ) -> bool:
        """Insert or replace the owner's credential for a provider, and write its audit rows in
        the same transaction (a key change is never left unaudited). `audit_for(replaced)` gives
        those rows. True when it replaced one.

        One `INSERT … ON CONFLICT DO UPDATE … RETURNING id` rather than select-then-flush: the
        ORM round-trips cost more than the write itself."""
        now = utcnow()
        new_id = str(uuid.uuid4())
        values = {
            "secret": secret,
            "settings": settings,
            "hint": hint,
            "status": status,
            "status_detail": status_detail[:300],
            "updated_at": now,
            "checked_at": now if checked else None,
        }
        row = {
            "id": new_id,
            "enterprise_id": enterprise_id,
            "team_id": team_id,
            "user_id": user_id,
            "provider": provider,
            "created_at": now,
            **values,
        }
        engine = self._sessions.kw["bind"]
        async with engine.begin() as conn:  # Core on a connection: no unit-of-work overhead
            upsert = _credential_upsert(conn.dialect.name)
            replaced = (await conn.execute(upsert, row)).scalar_one() != new_id
            audit = audit_for(replaced) if audit_for else []
            if audit:
                common = {"enterprise_id": enterprise_id, "team_id": team_id, "created_at": now}
                await conn.execute(_AUDIT_INSERT, [{**common, **entry} for entry in audit])
        return replaced

    async def set_status(self, credential_id: str, status: str, detail: str, checked: bool = True) -> None:
        values = {"status": status, "status_detail": detail[:300]}
        if checked:
            values["checked_at"] = utcnow()
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(ProviderCredential).where(ProviderCredential.id == credential_id).values(**values)
            )

    async def delete(self, enterprise_id: str, team_id: str, user_id: str, provider: str) -> bool:
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                delete(ProviderCredential).where(
                    *self._owner(enterprise_id, team_id, user_id), ProviderCredential.provider == provider
                )
            )
            return (result.rowcount or 0) > 0

    async def all_rows(self) -> list[ProviderCredential]:
        async with self._sessions() as session:
            return list((await session.execute(select(ProviderCredential))).scalars())

    async def all_tokens(self) -> list[tuple[str, str]]:
        """(id, token) of every stored secret, for start-up checks and rotation."""
        async with self._sessions() as session:
            result = await session.execute(select(ProviderCredential.id, ProviderCredential.secret))
            return [(row.id, row.secret) for row in result]

    async def replace_tokens(self, tokens: dict[str, str]) -> None:
        async with self._sessions() as session, session.begin():
            for credential_id, token in tokens.items():
                await session.execute(
                    update(ProviderCredential)
                    .where(ProviderCredential.id == credential_id)
                    .values(secret=token)
                )


class WorkspacePolicies:
    def __init__(self, sessions: async_sessionmaker):
        self._sessions = sessions

    async def blocked(self, enterprise_id: str, team_id: str) -> set[str]:
        async with self._sessions() as session:
            row = await session.get(WorkspacePolicy, (enterprise_id, team_id))
            return set(row.blocked_providers) if row else set()

    async def set_blocked(self, enterprise_id: str, team_id: str, provider: str, blocked: bool) -> bool:
        """Block or unblock; True when that changed anything."""
        async with self._sessions() as session, session.begin():
            row = await session.get(WorkspacePolicy, (enterprise_id, team_id), with_for_update=True)
            if row is None:
                row = WorkspacePolicy(enterprise_id=enterprise_id, team_id=team_id, blocked_providers=[])
                session.add(row)
            current = set(row.blocked_providers or [])
            wanted = current | {provider} if blocked else current - {provider}
            if wanted == current:
                return False
            row.blocked_providers, row.updated_at = sorted(wanted), utcnow()
            return True


    async def allows_external(self, enterprise_id: str, team_id: str) -> bool:
        async with self._sessions() as session:
            row = await session.get(WorkspacePolicy, (enterprise_id, team_id))
            return bool(row and row.allow_external_keys)

    async def set_allow_external(self, enterprise_id: str, team_id: str, allowed: bool) -> bool:
        """True when that changed anything."""
        async with self._sessions() as session, session.begin():
            row = await session.get(WorkspacePolicy, (enterprise_id, team_id), with_for_update=True)
            if row is None:
                row = WorkspacePolicy(enterprise_id=enterprise_id, team_id=team_id, blocked_providers=[])
                session.add(row)
            if bool(row.allow_external_keys) == allowed:
                return False
            row.allow_external_keys, row.updated_at = allowed, utcnow()
            return True


class WorkspaceBudgets:
    def __init__(self, sessions: async_sessionmaker):
        self._sessions = sessions

    async def get(self, enterprise_id: str, team_id: str) -> float | None:
        async with self._sessions() as session:
            row = await session.get(WorkspacePolicy, (enterprise_id, team_id))
            return row.monthly_budget_usd if row else None

    async def set(self, enterprise_id: str, team_id: str, budget: float | None) -> None:
        async with self._sessions() as session, session.begin():
            row = await session.get(WorkspacePolicy, (enterprise_id, team_id), with_for_update=True)
            if row is None:
                row = WorkspacePolicy(enterprise_id=enterprise_id, team_id=team_id, blocked_providers=[])
                session.add(row)
            row.monthly_budget_usd, row.updated_at = budget, utcnow()


class AuditLog:
    def __init__(self, sessions: async_sessionmaker):
        self._sessions = sessions

    async def record(
        self,
        *,
        enterprise_id: str,
        team_id: str,
        actor: str,
        action: str,
        provider: str = "",
        scope: str = "personal",
        detail: str = "",
    ) -> None:
        async with self._sessions() as session, session.begin():
            session.add(
                AuditEvent(
                    enterprise_id=enterprise_id,
                    team_id=team_id,
                    actor_user_id=actor,
                    action=action,
                    provider=provider,
                    scope=scope,
                    detail=detail[:300],
                    created_at=utcnow(),
                )
            )

    async def recent(self, enterprise_id: str, team_id: str, limit: int = 25) -> list[AuditEvent]:
        async with self._sessions() as session:
            result = await session.execute(
                select(AuditEvent)
                .where(AuditEvent.enterprise_id == enterprise_id, AuditEvent.team_id == team_id)
                .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
                .limit(limit)
            )
            return list(result.scalars())


class MetaValues:
    def __init__(self, sessions: async_sessionmaker):
        self._sessions = sessions

    async def get(self, name: str) -> str | None:
        async with self._sessions() as session:
            row = await session.get(Meta, name)
            return row.value if row else None

    async def put(self, name: str, value: str) -> None:
        async with self._sessions() as session, session.begin():
            row = await session.get(Meta, name)
            if row is None:
                session.add(Meta(name=name, value=value))
            else:
                row.value = value
