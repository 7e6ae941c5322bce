"""Keeping a person's tokens usable: decrypt for one call, refresh shortly before expiry (once,
however many calls need it at the same moment), mark broken when the provider refuses.

Plaintext tokens live only in the `Secret`s returned here, for the duration of a call.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from datetime import UTC, datetime, timedelta

from bot.connectors.accounts import Grant, InvalidGrant, ProviderAccounts
from bot.connectors.base import ConnectorError
from bot.identity import Person
from bot.storage.encryption import Crypto, Secret, UndecryptableSecret
from bot.storage.repositories.connections import ConnectionRow, Connections

REFRESH_AHEAD = timedelta(seconds=120)


class ConnectionBroken(Exception):
    """The stored connection cannot be used until the person reconnects."""

    def __init__(self, row: ConnectionRow | None, reason: str):
        super().__init__(reason)
        self.row = row
        self.reason = reason
        self.newly = False  # True when this failure is what broke it (the person is told once)


def seal(crypto: Crypto, access: Secret, refresh: Secret | None) -> str:
    payload = {"access_token": access.reveal(), "refresh_token": refresh.reveal() if refresh else None}
    return crypto.encrypt(json.dumps(payload))


def unseal(crypto: Crypto, token: str) -> tuple[Secret, Secret | None]:
    payload = json.loads(crypto.decrypt(token))
    refresh = payload.get("refresh_token")
    return Secret(payload["access_token"]), Secret(refresh) if refresh else None


class TokenKeeper:
    def __init__(self, connections: Connections, crypto: Crypto, accounts: ProviderAccounts, cached=None):
        self.connections = connections
        # Rows (tokens still encrypted) from the service's read cache, which every write through
        # this process clears; a refresh always re-reads the database under the lock.
        self._cached = cached or connections.get
        self.crypto = crypto
        self.accounts = accounts
        self._locks: weakref.WeakValueDictionary[tuple, asyncio.Lock] = weakref.WeakValueDictionary()
        self.refreshes = 0  # counted for tests and the benchmark: one per expiry, not one per caller

    def _lock(self, person: Person, provider: str) -> asyncio.Lock:
        key = (person.enterprise_id, person.team_id, person.user_id, provider)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    async def store(self, person: Person, provider: str, grant: Grant, previous_refresh: Secret | None = None) -> None:
        refresh = grant.refresh_token or previous_refresh
        await self.connections.save(
            person, provider, account=grant.account, scopes=set(grant.scopes),
            secret=seal(self.crypto, grant.access_token, refresh), expires_at=grant.expires_at,
        )

    def _open(self, row: ConnectionRow) -> tuple[Secret, Secret | None]:
        try:
            return unseal(self.crypto, row.secret)
        except (UndecryptableSecret, ValueError, KeyError):
            raise ConnectionBroken(row, "its stored tokens cannot be decrypted") from None

    @staticmethod
    def _fresh(row: ConnectionRow, now: datetime) -> bool:
        return row.expires_at is None or row.expires_at - now > REFRESH_AHEAD

    async def access(
        self, person: Person, provider: str, *, force_refresh: bool = False, rejected: Secret | None = None
    ) -> tuple[ConnectionRow, Secret]:
        """The connection and a usable access token. Raises ConnectionBroken or ConnectorError.

        `rejected`: a token the service just refused (401); it is replaced, once for all callers."""
        force_refresh = force_refresh or rejected is not None
        row = await (self.connections.get(person, provider) if force_refresh else self._cached(person, provider))
        if row is None:
            raise ConnectionBroken(None, "not connected")
        if row.status != "ok":
            raise ConnectionBroken(row, row.status_detail or "it needs reconnecting")
        if not force_refresh and self._fresh(row, datetime.now(UTC)):
            return row, self._open(row)[0]
        stale = rejected or self._open(row)[0]
        async with self._lock(person, provider):
            # Whoever waited re-reads: the first caller has refreshed for everyone.
            row = await self.connections.get(person, provider)
            if row is None or row.status != "ok":
                raise ConnectionBroken(row, "it needs reconnecting")
            access, refresh = self._open(row)
            if access != stale or (not force_refresh and self._fresh(row, datetime.now(UTC))):
                return row, access
            if refresh is None:
                raise await self.broken(row, "the provider gave no refresh token")
            try:
                grant = await self.accounts.refresh(provider, refresh)
            except InvalidGrant:
                raise await self.broken(row, "the provider no longer accepts Atom's access") from None
            self.refreshes += 1
            secret = seal(self.crypto, grant.access_token, grant.refresh_token or refresh)
            await self.connections.update_tokens(row.id, secret, grant.expires_at)
            return await self.connections.get(person, provider) or row, grant.access_token

    async def broken(self, row: ConnectionRow, reason: str) -> ConnectionBroken:
        first = await self.connections.mark_broken(row.id, reason)
        error = ConnectionBroken(row, reason)
        error.newly = first
        return error

    async def disconnect(self, person: Person, provider: str) -> bool:
        """Revoke at the provider (best effort), then delete the tokens. True when there was one."""
        row = await self.connections.get(person, provider)
        if row is None:
            return False
        try:
            access, refresh = unseal(self.crypto, row.secret)
            await self.accounts.revoke(provider, refresh or access)
        except (UndecryptableSecret, ValueError, KeyError, ConnectorError):
            pass  # nothing usable to revoke: deleting is all that is left
        return await self.connections.delete(person, provider)
