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
            rotated, failed = await vault.rotate()
        except EncryptionKeyMismatch as exc:
            print(str(exc), file=sys.stderr)
            return 2
    finally:
        await engine.dispose()
    print(f"Re-encrypted {rotated} stored secret(s) with the first key of ATOM_ENCRYPTION_KEYS.")
    if failed:
        print(
            f"{failed} secret(s) could not be decrypted with any configured key and were left as they are; "
            "their owners will be asked to add them again.",
            file=sys.stderr,
        )
        return 1
    if len(settings.encryption_keys) > 1:
        print("You can now remove the other keys from ATOM_ENCRYPTION_KEYS.")
    return 0
