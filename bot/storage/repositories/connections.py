"""Connected-service rows (tokens stay encrypted here) and pending OAuth states."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.identity import Person
from bot.storage.models import ConnectorOAuthState, ServiceConnection, utcnow


@dataclass(frozen=True)
class ConnectionRow:
    id: str
    provider: str
    account: str
    scopes: frozenset[str]
    secret: str  # encrypted token; decrypted only by TokenKeeper, only for a call
    expires_at: datetime | None
    status: str
    status_detail: str
    connected_at: datetime
    updated_at: datetime

    def __repr__(self) -> str:
        return f"ConnectionRow({self.provider}, {self.account}, {self.status})"


def _row(c: ServiceConnection) -> ConnectionRow:
    return ConnectionRow(
        c.id, c.provider, c.account, frozenset(c.scopes.split()), c.secret, _aware(c.expires_at),
        c.status, c.status_detail, _aware(c.connected_at), _aware(c.updated_at),
    )


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    from datetime import UTC

    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _owner(person: Person):
    return (
        ServiceConnection.enterprise_id == person.enterprise_id,
        ServiceConnection.team_id == person.team_id,
        ServiceConnection.user_id == person.user_id,
    )


class Connections:
    def __init__(self, sessions: async_sessionmaker, on_change=None):
        self._sessions = sessions
        self._on_change = on_change or (lambda: None)  # clears read caches after every write

    async def for_person(self, person: Person) -> dict[str, ConnectionRow]:
        async with self._sessions() as session:
            rows = (await session.execute(select(ServiceConnection).where(*_owner(person)))).scalars().all()
            return {r.provider: _row(r) for r in rows}

    async def get(self, person: Person, provider: str) -> ConnectionRow | None:
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(ServiceConnection).where(*_owner(person), ServiceConnection.provider == provider)
                )
            ).scalar_one_or_none()
            return _row(row) if row else None

    async def save(
        self, person: Person, provider: str, *, account: str, scopes: set[str], secret: str, expires_at: datetime | None
    ) -> None:
        """Store a fresh connection (replacing an older one: tokens, scopes, status)."""
        now = utcnow()
        async with self._sessions.begin() as session:
            row = (
                await session.execute(
                    select(ServiceConnection).where(*_owner(person), ServiceConnection.provider == provider)
                )
            ).scalar_one_or_none()
            if row is None:
                row = ServiceConnection(
                    id=str(uuid.uuid4()), enterprise_id=person.enterprise_id, team_id=person.team_id,
                    user_id=person.user_id, provider=provider, connected_at=now,
                )
                session.add(row)
            row.account, row.scopes, row.secret = account[:200], " ".join(sorted(scopes)), secret
            row.expires_at, row.status, row.status_detail, row.updated_at = expires_at, "ok", "", now
            row.connected_at = now
        self._on_change()

    async def update_tokens(self, connection_id: str, secret: str, expires_at: datetime | None) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(ServiceConnection)
                .where(ServiceConnection.id == connection_id)
                .values(secret=secret, expires_at=expires_at, updated_at=utcnow())
            )
        self._on_change()

    async def mark_broken(self, connection_id: str, detail: str) -> bool:
        """True when this call broke it (it was ok): the person is told once, not per call."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(ServiceConnection)
                .where(ServiceConnection.id == connection_id, ServiceConnection.status == "ok")
                .values(status="broken", status_detail=detail[:300], updated_at=utcnow())
            )
        self._on_change()
        return (result.rowcount or 0) == 1

    async def delete(self, person: Person, provider: str) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(ServiceConnection).where(*_owner(person), ServiceConnection.provider == provider)
            )
        self._on_change()
        return (result.rowcount or 0) > 0


@dataclass(frozen=True)
class StateRow:
    person: Person
    service: str
    scopes: tuple[str, ...]
    secret: str  # encrypted token of the PKCE verifier
    browser_hash: str


class OAuthStates:
    def __init__(self, sessions: async_sessionmaker):
        self._sessions = sessions

    async def create(self, state_hash: str, person: Person, service: str, scopes, secret: str, expires_at) -> None:
        async with self._sessions.begin() as session:
            session.add(
                ConnectorOAuthState(
                    state_hash=state_hash, enterprise_id=person.enterprise_id, team_id=person.team_id,
                    user_id=person.user_id, service=service, scopes=" ".join(scopes), secret=secret,
                    created_at=utcnow(), expires_at=expires_at,
                )
            )
            # Old attempts go as new ones come: nothing here outlives its ten minutes by much.
            await session.execute(delete(ConnectorOAuthState).where(ConnectorOAuthState.expires_at < utcnow()))

    async def open(self, state_hash: str, browser_hash: str) -> StateRow | None:
        """The state for /start: live and unused; binds it to the browser that opened it first."""
        now = utcnow()
        async with self._sessions.begin() as session:
            row = await session.get(ConnectorOAuthState, state_hash)
            if row is None or row.used_at is not None or _aware(row.expires_at) <= now:
                return None
            if not row.browser_hash:
                row.browser_hash = browser_hash
            elif row.browser_hash != browser_hash:
                return None
            return self._plain(row)

    async def consume(self, state_hash: str) -> tuple[str, StateRow | None]:
        """Use the state once: ("ok", row), or ("unknown" | "used" | "expired", None)."""
        now = utcnow()
        async with self._sessions.begin() as session:
            row = await session.get(ConnectorOAuthState, state_hash)
            if row is None:
                return "unknown", None
            if row.used_at is not None:
                return "used", None
            result = await session.execute(
                update(ConnectorOAuthState)
                .where(ConnectorOAuthState.state_hash == state_hash, ConnectorOAuthState.used_at.is_(None))
                .values(used_at=now)
            )
            if (result.rowcount or 0) != 1:  # another callback used it a moment ago
                return "used", None
            if _aware(row.expires_at) <= now:
                return "expired", None
            return "ok", self._plain(row)

    @staticmethod
    def _plain(row: ConnectorOAuthState) -> StateRow:
        return StateRow(
            Person(row.enterprise_id, row.team_id, row.user_id), row.service, tuple(row.scopes.split()),
            row.secret, row.browser_hash,
        )


@dataclass(frozen=True)
class ApprovalRow:
    id: str
    person: Person
    action_id: str
    params: str  # encrypted token
    status: str
    expires_at: datetime


class Approvals:
    def __init__(self, sessions: async_sessionmaker):
        self._sessions = sessions

    async def create(self, person: Person, action_id: str, params: str, expires_at: datetime) -> str:
        from bot.storage.models import ConnectorApproval

        approval_id = str(uuid.uuid4())
        async with self._sessions.begin() as session:
            session.add(
                ConnectorApproval(
                    id=approval_id, enterprise_id=person.enterprise_id, team_id=person.team_id,
                    user_id=person.user_id, action_id=action_id, params=params, status="pending",
                    created_at=utcnow(), expires_at=expires_at,
                )
            )
            # Decided or expired a week ago: nothing left to click, nothing worth keeping.
            await session.execute(
                delete(ConnectorApproval).where(ConnectorApproval.expires_at < utcnow() - timedelta(days=7))
            )
        return approval_id

    async def get(self, approval_id: str) -> ApprovalRow | None:
        from bot.storage.models import ConnectorApproval

        async with self._sessions() as session:
            row = await session.get(ConnectorApproval, approval_id)
            if row is None:
                return None
            return ApprovalRow(
                row.id, Person(row.enterprise_id, row.team_id, row.user_id), row.action_id, row.params,
                row.status, _aware(row.expires_at),
            )

    async def decide(self, approval_id: str, person: Person, status: str) -> bool:
        """Move a live, pending approval of `person` to `status`; True only for the one caller that did."""
        from bot.storage.models import ConnectorApproval

        now = utcnow()
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(ConnectorApproval)
                .where(
                    ConnectorApproval.id == approval_id,
                    ConnectorApproval.enterprise_id == person.enterprise_id,
                    ConnectorApproval.team_id == person.team_id,
                    ConnectorApproval.user_id == person.user_id,
                    ConnectorApproval.status == "pending",
                    ConnectorApproval.expires_at > now,
                )
                .values(status=status, decided_at=now)
            )
            return (result.rowcount or 0) == 1

    async def finish(self, approval_id: str, status: str) -> None:
        from bot.storage.models import ConnectorApproval

        async with self._sessions.begin() as session:
            await session.execute(
                update(ConnectorApproval).where(ConnectorApproval.id == approval_id).values(status=status)
            )
