"""KeyVault: people's and workspaces' provider keys, encrypted at rest, with an audit trail.

The vault is the only code that sees both a plaintext key and the database. Plaintext leaves it
only as a `Secret` inside a `Credential`, handed to the code making a provider call.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.identity import Person
from bot.llm.credentials import Credential
from bot.llm.keycheck import KeyCheck
from bot.llm.providers import CATALOG, Provider
from bot.readcache import ReadCache
from bot.storage.encryption import CANARY_PLAINTEXT, Crypto, MemorySeal, Secret, UndecryptableSecret
from bot.storage.repositories import AuditLog, Credentials, MetaValues, WorkspacePolicies
from bot.storage.rotation import RotationReport, rotate_all

log = logging.getLogger(__name__)

PERSONAL, WORKSPACE = "personal", "workspace"
HOST = "host"  # the installed workspace's shared key, used by someone from another organisation
CANARY = "encryption_canary"
NEEDS_REENTRY = "needs_reentry"


class EncryptionKeyMismatch(Exception):
    """The configured encryption keys cannot decrypt what is stored."""

    def __init__(self, undecryptable: int, total: int):
        self.undecryptable, self.total = undecryptable, total
        super().__init__(
            f"ATOM_ENCRYPTION_KEYS cannot decrypt the stored secrets ({undecryptable} of {total} could not be "
            "decrypted). Put back the key they were encrypted with (you may list it after a new one: "
            "new,old), or, if that key is lost for good, remove the database's provider keys and ask people "
            "to re-enter them."
        )


class KeyNotFound(Exception):
    pass


class KeyNeedsReentry(Exception):
    pass


@dataclass(frozen=True)
class KeyInfo:
    """What a person may see about a stored key."""

    provider: str
    scope: str
    hint: str
    status: str
    status_detail: str
    created_at: datetime
    checked_at: datetime | None
    settings: dict


@dataclass(frozen=True)
class ProviderState:
    provider: Provider
    personal: KeyInfo | None
    workspace: KeyInfo | None
    blocked: bool

    @property
    def effective(self) -> KeyInfo | None:
        """The key Atom would use for this person: their own first, else the workspace's."""
        if self.blocked:
            return None
        for info in (self.personal, self.workspace):
            if info is not None and info.status not in (NEEDS_REENTRY, "failing"):
                return info
        return None


def _owner(person: Person, scope: str) -> tuple[str, str, str]:
    if scope == HOST:
        return (*person.host, "")
    return person.enterprise_id, person.team_id, person.user_id if scope == PERSONAL else ""


class KeyVault:
    def __init__(self, sessions: async_sessionmaker, crypto: Crypto):
        self._sessions = sessions
        self._crypto = crypto
        self._seal = MemorySeal()  # the cached keys, opened per call (see MemorySeal)
        self._rows = Credentials(sessions)
        self.policies = WorkspacePolicies(sessions)
        self.audit = AuditLog(sessions)
        self._meta = MetaValues(sessions)
        # Encrypted rows and blocks per person, read before every answer; cleared by every change
        # below (see bot/readcache.py).
        self._cache: ReadCache = ReadCache()

    def _changed(self) -> None:
        self._cache.clear()

    def __repr__(self) -> str:
        return "KeyVault()"

    # ------------------------------------------------------------------ reading

    async def _rows_and_states(self, person: Person):
        """The person's and workspace's key rows by (provider, scope), each provider's state for
        them, and each row's key sealed for memory (None: the stored token does not decrypt);
        cached per person until something changes."""
        owner = _owner(person, PERSONAL)
        return await self._cache.get(owner, lambda: self._read_rows_and_states(owner))

    async def _read_rows_and_states(self, owner: tuple[str, str, str]):
        """One read of the person's and workspace's keys plus the workspace's blocks."""
        rows, blocked = await self._rows.for_person_and_workspace(*owner)
        by_key = {(row.provider, PERSONAL if row.user_id else WORKSPACE): row for row in rows}
        states = []
        for provider in CATALOG.values():
            infos = {}
            for scope in (PERSONAL, WORKSPACE):
                row = by_key.get((provider.id, scope))
                infos[scope] = (
                    None
                    if row is None
                    else KeyInfo(
                        provider=row.provider,
                        scope=scope,
                        hint=row.hint,
                        status=row.status,
                        status_detail=row.status_detail,
                        created_at=row.created_at,
                        checked_at=row.checked_at,
                        settings=dict(row.settings or {}),
                    )
                )
            states.append(ProviderState(provider, infos[PERSONAL], infos[WORKSPACE], provider.id in blocked))
        sealed = {}
        for where, row in by_key.items():
            try:
                sealed[where] = self._seal.seal(self._crypto.decrypt(row.secret))
            except UndecryptableSecret:
                sealed[where] = None
        return by_key, tuple(states), sealed

    async def states(self, person: Person) -> list[ProviderState]:
        return list((await self._rows_and_states(person))[1])

    async def load(self, person: Person, provider_id: str, scope: str) -> Credential:
        """Decrypt one key for a call. A token that no longer decrypts is marked for re-entry."""
        row = await self._rows.get(*_owner(person, scope), provider_id)
        if row is None:
            raise KeyNotFound(provider_id)
        try:
            plaintext = self._crypto.decrypt(row.secret)
        except UndecryptableSecret:
            await self._mark_for_reentry(row.id)
            raise KeyNeedsReentry(provider_id) from None
        return Credential(
            provider=provider_id, secret=Secret(plaintext), settings=dict(row.settings or {}), scope=scope
        )

    async def usable(self, person: Person) -> list[Credential]:
        """Every credential this person may use now, own keys before the workspace's."""
        by_key, states, sealed = await self._rows_and_states(person)
        credentials = []
        for state in states:
            info = state.effective
            if info is None:
                continue
            row = by_key[(state.provider.id, info.scope)]
            if (key := sealed[(state.provider.id, info.scope)]) is None:
                await self._mark_for_reentry(row.id)
                continue
            secret = Secret(self._seal.open(key))
            credentials.append(Credential(state.provider.id, secret, dict(row.settings or {}), info.scope))
        if person.external and await self.policies.allows_external(*person.host):
            credentials += await self._host_credentials(person, {c.provider for c in credentials})
        return credentials

    async def _host_credentials(self, person: Person, covered: set[str]) -> list[Credential]:
        """Someone from another organisation, where the host's admins allow it: the host's shared
        keys for providers the person has no key of their own (or of their own team) for."""
        by_key, states, sealed = await self._rows_and_states(Person(*person.host, ""))
        credentials = []
        for state in states:
            info = state.workspace
            if state.provider.id in covered or state.blocked or info is None:
                continue
            if info.status in (NEEDS_REENTRY, "failing"):
                continue
            row = by_key[(state.provider.id, WORKSPACE)]
            if (key := sealed[(state.provider.id, WORKSPACE)]) is None:
                continue
            credentials.append(Credential(state.provider.id, Secret(self._seal.open(key)), dict(row.settings or {}), HOST))
        return credentials

    async def allows_external(self, person: Person) -> bool:
        return await self.policies.allows_external(*person.workspace)

    async def set_allow_external(self, admin: Person, allowed: bool) -> bool:
        changed = await self.policies.set_allow_external(admin.enterprise_id, admin.team_id, allowed)
        if changed:
            await self.record_audit(
                admin, "external_allowed" if allowed else "external_refused", scope=WORKSPACE
            )
        return changed

    # ------------------------------------------------------------------ changing

    async def save(
        self,
        person: Person,
        provider_id: str,
        key: Secret,
        settings: dict,
        *,
        scope: str,
        check: KeyCheck | None,
    ) -> bool:
        """Encrypt and store (replacing any earlier key), audited in the same transaction.
        Returns True when it replaced one."""

        def audit_for(replaced: bool) -> list[dict]:
            added = "key_replaced" if replaced else "key_added"
            rows = [self._audit_row(person, added, provider_id, scope, key.hint)]
            if check is not None:
                action = "key_validated" if check.ok else "key_failed"
                rows.append(self._audit_row(person, action, provider_id, scope, check.message))
            return rows

        try:
            return await self._rows.upsert(
                enterprise_id=person.enterprise_id,
                team_id=person.team_id,
                user_id=_owner(person, scope)[2],
                provider=provider_id,
                secret=self._crypto.encrypt(key.reveal()),
                settings=settings,
                hint=key.hint,
                status=check.saved_status if check else "unchecked",
                status_detail=check.message
                if check
                else "Saved without a check (ATOM_VALIDATE_KEYS is off).",
                checked=check is not None,
                audit_for=audit_for,
            )
        finally:
            self._changed()

    @staticmethod
    def _audit_row(person: Person, action: str, provider: str, scope: str, detail: str = "") -> dict:
        return {
            "actor_user_id": person.user_id,
            "action": action,
            "provider": provider,
            "scope": scope,
            "detail": detail[:300],
        }

    async def record_check(self, person: Person, provider_id: str, scope: str, check: KeyCheck) -> None:
        row = await self._rows.get(*_owner(person, scope), provider_id)
        if row is None:
            return
        try:
            await self._rows.set_status(row.id, check.saved_status, check.message)
        finally:
            self._changed()
        await self.record_audit(
            person, "key_validated" if check.ok else "key_failed", provider_id, scope, check.message
        )

    async def record_failure(self, person: Person, provider_id: str, scope: str, message: str) -> None:
        """A call found the key failing (e.g. 401): mark it so routing skips it until fixed."""
        await self.record_check(person, provider_id, scope, KeyCheck("invalid", message))

    async def remove(self, person: Person, provider_id: str, scope: str) -> bool:
        try:
            removed = await self._rows.delete(*_owner(person, scope), provider_id)
        finally:
            self._changed()
        if removed:
            await self.record_audit(person, "key_removed", provider_id, scope)
        return removed

    async def set_blocked(self, admin: Person, provider_id: str, blocked: bool) -> bool:
        try:
            changed = await self.policies.set_blocked(
                admin.enterprise_id, admin.team_id, provider_id, blocked
            )
        finally:
            self._changed()
        if changed:
            await self.record_audit(
                admin, "provider_blocked" if blocked else "provider_unblocked", provider_id, WORKSPACE
            )
        return changed

    async def record_audit(
        self, person: Person, action: str, provider: str = "", scope: str = PERSONAL, detail: str = ""
    ) -> None:
        """One audit entry with the acting person from the verified request (never a key)."""
        await self.audit.record(
            enterprise_id=person.enterprise_id,
            team_id=person.team_id,
            actor=person.user_id,
            action=action,
            provider=provider,
            scope=scope,
            detail=detail,
        )

    # ------------------------------------------------------------------ encryption keys

    async def verify_encryption(self) -> int:
        """At start-up: are the configured keys the right ones? Returns how many entries need re-entry.

        A canary encrypted under the keys in use tells a wrong key (everything fails: refuse to
        start) from one tampered entry (only it is marked for re-entry; the rest keep working).
        """
        tokens = await self._rows.all_tokens()
        canary = await self._meta.get(CANARY)
        bad = [cid for cid, token in tokens if not self._decrypts(token)]
        canary_ok = canary is not None and self._decrypts(canary)
        if (canary is not None and not canary_ok) or (canary is None and tokens and len(bad) == len(tokens)):
            raise EncryptionKeyMismatch(len(bad), len(tokens))
        if canary is None:
            await self._meta.put(CANARY, self._crypto.encrypt(CANARY_PLAINTEXT))
        for credential_id in bad:
            await self._mark_for_reentry(credential_id)
        if bad:
            log.warning("%d stored key(s) could not be decrypted and were marked for re-entry", len(bad))
        return len(bad)

    async def rotate(self) -> RotationReport:
        """Re-encrypt every stored secret under the first key (keys, bot tokens, conversations)."""
        tokens = await self._rows.all_tokens()
        canary = await self._meta.get(CANARY)
        if canary is not None and not self._decrypts(canary):
            # Wrong keys: rotating now would bury the old key's secrets under a fresh canary.
            raise EncryptionKeyMismatch(sum(not self._decrypts(t) for _, t in tokens), len(tokens))
        try:
            report = await rotate_all(self._sessions, self._crypto)
        finally:
            self._changed()
        if canary is None:
            await self._meta.put(CANARY, self._crypto.encrypt(CANARY_PLAINTEXT))
        return report

    async def _mark_for_reentry(self, credential_id: str) -> None:
        try:
            await self._rows.set_status(
                credential_id, NEEDS_REENTRY, "Stored key cannot be decrypted: please add it again."
            )
        finally:
            self._changed()

    def _decrypts(self, token: str) -> bool:
        try:
            self._crypto.decrypt(token)
            return True
        except UndecryptableSecret:
            return False
