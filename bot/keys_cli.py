"""`atom keys rotate`: re-encrypt every stored secret under the first key of ATOM_ENCRYPTION_KEYS."""

from __future__ import annotations

import sys

from bot.config import Settings
from bot.storage import migrate
from bot.storage.encryption import Crypto
from bot.storage.engine import create_engine, session_factory
from bot.vault import EncryptionKeyMismatch, KeyVault


async def rotate(settings: Settings) -> int:
    engine = create_engine(settings.database_url)
    try:
        await migrate.upgrade(engine)
        vault = KeyVault(session_factory(engine), Crypto(settings.encryption_keys))
        try:
            report = await vault.rotate()
        except EncryptionKeyMismatch as exc:
            print(str(exc), file=sys.stderr)
            return 2
    finally:
        await engine.dispose()
    print(f"Re-encrypted {report.total_rotated} stored secret(s) with the first key of ATOM_ENCRYPTION_KEYS:")
    for label, count in report.rotated.items():
        print(f"  {label}: {count}")
    if report.total_undecryptable:
        failed = ", ".join(f"{label}: {n}" for label, n in report.undecryptable.items() if n)
        print(
            f"{report.total_undecryptable} secret(s) could not be decrypted with any configured key and were "
            f"left as they are ({failed}); provider keys among them must be added again by their owners.",
            file=sys.stderr,
        )
        return 1
    if len(settings.encryption_keys) > 1:
        print("You can now remove the other keys from ATOM_ENCRYPTION_KEYS.")
    return 0
