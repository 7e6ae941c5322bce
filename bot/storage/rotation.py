"""Re-encrypting every stored secret under the first key of ATOM_ENCRYPTION_KEYS.

Every encrypted column is listed here once; `atom keys rotate` walks them all, so after it the
old key can be dropped and everything still decrypts.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, tuple_, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.storage.encryption import Crypto, UndecryptableSecret
from bot.storage.models import (
    AnswerInFlight,
    ConnectorApproval,
    ConnectorOAuthState,
    ConversationTurn,
    Meta,
    ProviderCredential,
    ServiceConnection,
    SlackInstallation,
)

BATCH = 500
# (model, its primary-key columns, the encrypted column, what people call it)
ENCRYPTED_COLUMNS = (
    (ProviderCredential, ("id",), "secret", "provider keys"),
    (SlackInstallation, ("enterprise_id", "team_id"), "secret", "Slack bot tokens"),
    (ConversationTurn, ("id",), "content", "conversation messages"),
    (Meta, ("name",), "value", "encryption canary"),
    (ServiceConnection, ("id",), "secret", "connected-service tokens"),
    (ConnectorOAuthState, ("state_hash",), "secret", "pending connection verifiers"),
    (ConnectorApproval, ("id",), "params", "actions awaiting approval"),
    (AnswerInFlight, ("id",), "question", "questions of answers in flight"),
    (AnswerInFlight, ("id",), "answer", "answers Slack did not accept"),
)


@dataclass
class RotationReport:
    rotated: dict[str, int]
    undecryptable: dict[str, int]

    @property
    def total_rotated(self) -> int:
        return sum(self.rotated.values())

    @property
    def total_undecryptable(self) -> int:
        return sum(self.undecryptable.values())


async def rotate_all(sessions: async_sessionmaker, crypto: Crypto) -> RotationReport:
    report = RotationReport({}, {})
    for model, pk_names, column_name, label in ENCRYPTED_COLUMNS:
        pk_cols = [getattr(model, name) for name in pk_names]
        column = getattr(model, column_name)
        rotated = failed = 0
        last = None
        while True:
            query = select(*pk_cols, column).order_by(*pk_cols).limit(BATCH)
            if last is not None:
                query = query.where(tuple_(*pk_cols) > tuple_(*last))
            async with sessions.begin() as session:
                rows = (await session.execute(query)).all()
                for row in rows:
                    *pk, token = row
                    if token is None:  # an optional encrypted column left empty
                        continue
                    try:
                        new_token = crypto.rotate(token)
                    except UndecryptableSecret:
                        failed += 1
                        continue
                    await session.execute(
                        update(model)
                        .where(*(col == value for col, value in zip(pk_cols, pk, strict=True)))
                        .values({column_name: new_token})
                    )
                    rotated += 1
            if len(rows) < BATCH:
                break
            last = tuple(rows[-1][: len(pk_cols)])
        report.rotated[label], report.undecryptable[label] = rotated, failed
    return report
