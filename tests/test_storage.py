"""Storage on SQLite and PostgreSQL: migrations, connection settings, event claims."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from sqlalchemy import text

from bot.storage import migrate
from bot.storage.engine import create_engine, session_factory
from bot.storage.models import new_id, utcnow
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


async def claims_counting_inserts(database_url):
    """A migrated engine, its EventClaims, and the list every claim INSERT is appended to."""
    from sqlalchemy import event

    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    inserts = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO SLACK_EVENT_CLAIMS"):
            inserts.append(statement)

    return engine, EventClaims(session_factory(engine)), inserts


async def test_claims_asked_together_are_written_together(database_url):
    """A burst of events costs a few writes, not one each; each id is still granted exactly once."""
    engine, claims, inserts = await claims_counting_inserts(database_url)
    try:
        assert await claims.claim("EvA", "T1") is True  # a lone claim is written at once
        inserts.clear()
        ids = [f"EvB{i}" for i in range(300)] + ["EvA", "EvB7", "EvB7"]
        results = await asyncio.gather(*(claims.claim(i, "T1") for i in ids))
        assert results[:300] == [True] * 300
        assert results[300:] == [False, False, False]  # claimed before, and twice in the same group
        assert 1 <= len(inserts) <= 3, f"{len(inserts)} INSERTs for 300 claims"
        async with engine.connect() as conn:
            count_rows = (await conn.execute(text("SELECT count(*) FROM slack_event_claims"))).scalar()
        assert count_rows == 301
    finally:
        await engine.dispose()


async def test_a_first_delivery_is_claimed_at_once_and_written_just_after(database_url):
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    claims = EventClaims(session_factory(engine))
    try:
        assert await claims.claim("EvFirst", "T1", first=True) is True
        assert await claims.claim("EvFirst", "T1") is False  # Slack's retry, same process
        assert await claims.claim("EvFirst", "T1", first=True) is False
        await claims.close()  # at shutdown: nothing claimed in memory is left unwritten
        restarted = EventClaims(session_factory(engine))
        assert await restarted.claim("EvFirst", "T1") is False  # a retry after a restart
        assert await restarted.claim("EvOther", "T1") is True
    finally:
        await engine.dispose()


async def test_the_start_up_purge_keeps_claims_just_made_in_memory(database_url):
    """Housekeeping purges old claims at start; a first delivery claimed a moment before (its row
    not written yet) must still stop Slack's retry."""
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    claims = EventClaims(session_factory(engine))
    try:
        assert await claims.claim("EvNew", "T1", first=True) is True
        await claims.purge_older_than(timedelta(days=2))
        assert await claims.claim("EvNew", "T1") is False
    finally:
        await claims.close()
        await engine.dispose()


async def test_first_deliveries_are_written_together_without_waiting(database_url):
    engine, claims, inserts = await claims_counting_inserts(database_url)
    try:
        for i in range(50):
            assert await claims.claim(f"EvF{i}", "T1", first=True) is True
        assert inserts == []  # decided in memory; nobody waited for the database
        for _ in range(200):
            async with engine.connect() as conn:
                rows = (await conn.execute(text("SELECT count(*) FROM slack_event_claims"))).scalar()
            if rows == 50:
                break
            await asyncio.sleep(0.01)
        assert rows == 50 and len(inserts) == 1
    finally:
        await engine.dispose()


async def test_a_failed_claim_write_fails_its_waiters_and_the_next_one_works(sqlite_url):
    engine = create_engine(sqlite_url)
    await migrate.upgrade(engine)
    claims = EventClaims(session_factory(engine))
    try:
        async with engine.begin() as conn:
            await conn.execute(text("ALTER TABLE slack_event_claims RENAME TO gone"))
        results = await asyncio.gather(*(claims.claim(f"Ev{i}") for i in range(5)), return_exceptions=True)
        assert all(isinstance(r, Exception) for r in results)
        async with engine.begin() as conn:
            await conn.execute(text("ALTER TABLE gone RENAME TO slack_event_claims"))
        assert await claims.claim("Ev0") is True  # nothing was claimed by the failed write
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


async def test_two_answers_linking_the_same_thread_at_once_both_succeed(database_url):
    """The same message delivered under two event ids: both answers link the thread at the same
    moment; neither may fail on the unique key (the tester saw an IntegrityError)."""
    from bot.storage.repositories.links import ConversationLinks

    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    links = ConversationLinks(session_factory(engine))
    try:
        results = await asyncio.gather(
            *(links.link("", "T1", "U1", "D1:1700000000.000100", f"conv-{i}", utcnow()) for i in range(5)),
            return_exceptions=True,
        )
        assert [r for r in results if isinstance(r, Exception)] == []
        assert (await links.target("", "T1", "D1:1700000000.000100")).startswith("conv-")
    finally:
        await engine.dispose()


def test_new_id_is_a_random_version_4_uuid_in_its_usual_text_form():
    ids = [new_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    for value in ids[:2_000]:
        parsed = uuid.UUID(value)
        assert str(parsed) == value  # lower-case hex, dashes where str(uuid4()) puts them
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
    # every bit outside the version and variant varies: nothing is fixed by mistake
    fixed = {i for i in range(128) if len({(uuid.UUID(v).int >> i) & 1 for v in ids[:500]}) == 1}
    assert fixed == {76, 77, 78, 79, 62, 63}  # the version nibble (0100) and the variant bits (10)
