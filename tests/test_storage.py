"""Storage on SQLite and PostgreSQL: migrations, connection settings, event claims."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import text

from bot.storage import migrate
from bot.storage.engine import create_engine, session_factory
from bot.storage.models import utcnow
from bot.storage.repositories import EventClaims


async def test_migrate_is_idempotent_and_reaches_head(database_url):
    engine = create_engine(database_url)
    try:
        assert await migrate.current_revision(engine) is None
        await migrate.upgrade(engine)
        await migrate.upgrade(engine)
        assert await migrate.current_revision(engine) == migrate.head_revision()
    finally:
        await engine.dispose()


async def test_sqlite_connections_use_wal_foreign_keys_busy_timeout_and_secure_delete(sqlite_url):
    engine = create_engine(sqlite_url)
    try:
        async with engine.connect() as conn:
            pragmas = {
                name: (await conn.execute(text(f"PRAGMA {name}"))).scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout", "secure_delete", "wal_autocheckpoint")
            }
    finally:
        await engine.dispose()
    assert pragmas == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": 30000,
        "secure_delete": 1,
        "wal_autocheckpoint": 10000,
    }


async def test_event_claim_is_granted_once_even_when_concurrent(database_url):
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    claims = EventClaims(session_factory(engine))
    try:
        results = await asyncio.gather(*(claims.claim("Ev123", "T1") for _ in range(4)))
        assert sorted(results) == [False, False, False, True]
        assert await claims.claim("Ev123", "T1") is False
        assert await claims.claim("Ev124", "T1") is True
    finally:
        await engine.dispose()


async def test_event_claims_survive_a_new_engine_and_old_ones_are_purged(database_url):
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    assert await EventClaims(session_factory(engine)).claim("EvOld") is True
    await engine.dispose()

    engine = create_engine(database_url)  # a restarted process
    claims = EventClaims(session_factory(engine))
    try:
        assert await claims.claim("EvOld") is False
        assert await claims.purge_older_than(timedelta(days=2), now=utcnow() + timedelta(days=3)) == 1
        assert await claims.claim("EvOld") is True
    finally:
        await engine.dispose()
