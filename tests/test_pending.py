"""Answers' records written in batches (bot/pending.py) and the per-person read caches
(bot/readcache.py): nothing lost, nothing read stale, nothing coming back after `forget`."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select, text

from bot.identity import Person
from bot.memory import ConversationMemory
from bot.pending import MAX_ATTEMPTS, PendingWrites
from bot.readcache import ReadCache
from bot.storage import migrate
from bot.storage.encryption import Crypto, Secret
from bot.storage.engine import create_engine, session_factory
from bot.storage.models import ConversationTurn, UsageRecord
from bot.usage import Preferences, UsageService
from bot.vault import KeyVault
from tests.fakes import payloads
from tests.keyhelpers import KEYS, give_keys, settle

ALICE = Person("", "T1", "U1")
THREAD = "1700000100.000100"


async def count(engine, model) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(model))).scalar()


def record(usage: UsageService, record_id: str, cost: float = 0.01, answer_turn_id: str | None = None) -> None:
    """One answer's usage, as ConversationService records it."""
    usage.record(
        ALICE,
        record_id,
        surface="dm",
        task="chat",
        provider="openai",
        model="openai/gpt-6-luna",
        key_scope="personal",
        prompt_tokens=10,
        completion_tokens=20,
        cost_usd=cost,
        baseline_cost_usd=cost * 10,
        latency_ms=5,
        first_token_ms=1,
        failovers=0,
        outcome="ok",
        explanation="",
        answer_turn_id=answer_turn_id,
    )


async def storage(database_url, *, delay: float = 60.0):
    """Engine, pending writer with a long delay (only explicit flushes write), memory and usage."""
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    sessions = session_factory(engine)
    from cryptography.fernet import Fernet

    crypto = Crypto([Fernet.generate_key().decode()])
    pending = PendingWrites(sessions, crypto, delay=delay)
    memory = ConversationMemory(sessions, crypto, pending=pending)
    usage = UsageService(sessions, pending)
    return engine, pending, memory, usage


async def test_a_flush_that_writes_everything_leaves_no_timer_behind(database_url):
    engine, pending, memory, usage = await storage(database_url)
    try:
        memory.remember(ALICE, "D1:1", "What is 2+2?", "Four.")
        assert pending._flusher._timer is not None  # queued: a flush is due in `delay`
        assert await pending.flush() and pending.waiting == 0
        assert pending._flusher._timer is None  # nothing waits, so nothing is due
        memory.remember(ALICE, "D1:1", "And 3+3?", "Six.")
        assert pending._flusher._timer is not None  # the next row sets it again
    finally:
        await pending.close()
        await engine.dispose()


async def test_every_reader_sees_what_is_still_queued(database_url):
    engine, pending, memory, usage = await storage(database_url)
    try:
        answer_id = memory.remember(ALICE, "D1:1", "What is 2+2?", "Four.")
        record(usage, "rec-1", answer_turn_id=answer_id)
        assert pending.waiting == 3 and await count(engine, ConversationTurn) == 0  # queued, not written
        assert await memory.history(ALICE, "D1:1") == [
            {"role": "user", "content": "What is 2+2?"},
            {"role": "assistant", "content": "Four."},
        ]
        assert pending.waiting == 0 and await count(engine, UsageRecord) == 1
        record(usage, "rec-2", cost=0.02)
        assert (await usage.get("rec-2")).cost_usd == 0.02
        record(usage, "rec-3", cost=0.04)
        assert round((await usage.month(ALICE)).spend, 6) == 0.07
        memory.remember(ALICE, "D1:2", "Another thread", "Noted.")
        assert await memory.knows_thread(ALICE, "D1:2")
    finally:
        await pending.close()
        await engine.dispose()


async def test_turns_wait_in_memory_as_text_and_reach_the_database_only_encrypted(database_url):
    engine, pending, memory, _usage = await storage(database_url)
    try:
        memory.remember(ALICE, "D1:1", "plain question SENTINEL-Q", "plain answer SENTINEL-A")
        assert await pending.flush() is True
        async with engine.connect() as conn:
            stored = [row[0] for row in await conn.execute(text("SELECT content FROM conversation_turns"))]
        assert len(stored) == 2 and not any("SENTINEL" in content for content in stored)
        assert [m["content"] for m in await memory.history(ALICE, "D1:1")] == [
            "plain question SENTINEL-Q",
            "plain answer SENTINEL-A",
        ]
    finally:
        await pending.close()
        await engine.dispose()


async def test_forget_deletes_turns_still_queued_and_they_never_come_back(database_url):
    engine, pending, memory, _usage = await storage(database_url)
    try:
        memory.remember(ALICE, "D1:1", "Forget me", "Forgotten.")
        assert await memory.forget(ALICE) == 2
        await pending.close()  # shutdown writes whatever waits: nothing must reappear
        assert await count(engine, ConversationTurn) == 0
    finally:
        await engine.dispose()


async def test_a_budget_check_counts_answers_still_queued(database_url):
    engine, pending, _memory, usage = await storage(database_url)
    try:
        await usage.save_preferences(ALICE, Preferences(monthly_budget=0.05))
        assert (await usage.gate(ALICE))[1] is None
        for i in range(3):
            record(usage, f"r{i}", cost=0.02)
        _prefs, over = await usage.gate(ALICE)
        assert over and "monthly budget" in over
    finally:
        await pending.close()
        await engine.dispose()


async def test_batches_are_written_after_the_delay_without_anyone_reading(sqlite_url):
    engine, pending, memory, _usage = await storage(sqlite_url, delay=0.01)
    try:
        for i in range(5):
            memory.remember(ALICE, f"D1:{i}", "q", "a")
        for _ in range(200):
            if pending.written == 10:
                break
            await asyncio.sleep(0.01)
        assert pending.written == 10 and await count(engine, ConversationTurn) == 10
    finally:
        await pending.close()
        await engine.dispose()


async def test_a_failed_write_keeps_the_rows_and_a_later_flush_stores_them(sqlite_url):
    engine, pending, memory, _usage = await storage(sqlite_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("ALTER TABLE conversation_turns RENAME TO turns_away"))
        memory.remember(ALICE, "D1:1", "kept", "safe")
        assert await pending.flush() is False
        assert pending.waiting == 2 and pending.dropped == 0
        async with engine.begin() as conn:
            await conn.execute(text("ALTER TABLE turns_away RENAME TO conversation_turns"))
        assert await pending.flush() is True
        assert [m["content"] for m in await memory.history(ALICE, "D1:1")] == ["kept", "safe"]
    finally:
        await pending.close()
        await engine.dispose()


async def test_rows_that_cannot_be_written_are_dropped_after_the_last_attempt_with_an_error(sqlite_url, caplog):
    engine, pending, memory, _usage = await storage(sqlite_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP TABLE conversation_turns"))
        memory.remember(ALICE, "D1:1", "doomed", "answer")
        for _ in range(MAX_ATTEMPTS):
            assert await pending.flush() is False
        assert pending.waiting == 0 and pending.dropped == 2
        assert any("dropped them" in r.getMessage() for r in caplog.records)
    finally:
        await pending.close()
        await engine.dispose()


async def test_the_answer_records_are_stored_by_shutdown_at_the_latest(atom_sqlite):
    """An answer's turns and usage reach the database even when Atom stops right after it."""
    await give_keys(atom_sqlite, "openai")
    atom_sqlite.runtime.pending._flusher._delay = 60.0  # only a flush or the shutdown writes them now
    await atom_sqlite.client.event(payloads.message_im_event("hello there", thread_ts=THREAD))
    await atom_sqlite.slack.wait_for("chat.stopStream", timeout=15)
    await settle(atom_sqlite)
    engine = create_engine(str(atom_sqlite.runtime.engine.url))
    try:
        assert await count(engine, UsageRecord) == 0  # still queued
        await atom_sqlite.stop()
        assert await count(engine, UsageRecord) == 1 and await count(engine, ConversationTurn) == 2
    finally:
        await engine.dispose()


async def test_a_follow_up_right_after_an_answer_remembers_it(atom_sqlite):
    await give_keys(atom_sqlite, "openai")
    atom_sqlite.runtime.pending._flusher._delay = 60.0  # the follow-up's read must flush it
    atom_sqlite.providers.reply["openai"] = "The capital is Paris."
    await atom_sqlite.client.event(payloads.message_im_event("Capital of France?", thread_ts=THREAD))
    await atom_sqlite.slack.wait_for("chat.stopStream", timeout=15)
    await settle(atom_sqlite)
    await atom_sqlite.client.event(payloads.message_im_event("And its population?", thread_ts=THREAD))
    await atom_sqlite.slack.wait_for("chat.stopStream", count=2, timeout=15)
    await settle(atom_sqlite)
    second = atom_sqlite.providers.requests_for("openai")[-1]
    assert "The capital is Paris." in second.body and "Capital of France?" in second.body


# ---------------------------------------------------------------------------------------------
# Read caches
# ---------------------------------------------------------------------------------------------


async def test_read_cache_keeps_a_value_until_cleared_or_expired():
    reads = []

    async def read():
        reads.append(1)
        return len(reads)

    cache = ReadCache(ttl=0.05)
    assert await cache.get("k", read) == 1
    assert await cache.get("k", read) == 1
    cache.clear()
    assert await cache.get("k", read) == 2
    await asyncio.sleep(0.06)
    assert await cache.get("k", read) == 3


async def test_read_cache_does_not_keep_a_read_that_raced_a_change():
    gate = asyncio.Event()
    values = iter(["before the change", "after the change"])

    async def slow_read():
        await gate.wait()
        return next(values)

    cache = ReadCache()
    reading = asyncio.create_task(cache.get("k", slow_read))
    await asyncio.sleep(0)
    cache.clear()  # a change lands while the read is in flight
    gate.set()
    assert await reading == "before the change"  # the caller gets what it read...
    assert await cache.get("k", slow_read) == "after the change"  # ...but it was not kept


async def test_every_key_change_is_seen_by_the_next_answer(atom_sqlite):
    """The vault caches encrypted rows per person: removing, adding and blocking take effect at once."""
    await give_keys(atom_sqlite, "openai")
    vault = atom_sqlite.runtime.vault
    assert [c.provider for c in await vault.usable(ALICE)] == ["openai"]
    await vault.save(ALICE, "anthropic", Secret(KEYS["anthropic"]), {}, scope="personal", check=None)
    assert {c.provider for c in await vault.usable(ALICE)} == {"openai", "anthropic"}
    admin = Person("", "T1", "UADMIN")
    await vault.set_blocked(admin, "anthropic", True)
    assert [c.provider for c in await vault.usable(ALICE)] == ["openai"]
    await vault.remove(ALICE, "openai", "personal")
    assert await vault.usable(ALICE) == []
    await vault.save(admin, "gemini", Secret(KEYS["gemini"]), {}, scope="workspace", check=None)
    assert [(c.provider, c.scope) for c in await vault.usable(ALICE)] == [("gemini", "workspace")]


async def test_a_change_made_by_another_process_is_seen_after_the_time_limit(sqlite_url):
    from cryptography.fernet import Fernet

    engine = create_engine(sqlite_url)
    await migrate.upgrade(engine)
    key = Fernet.generate_key().decode()
    ours = KeyVault(session_factory(engine), Crypto([key]))
    ours._cache = ReadCache(ttl=0.05)
    theirs = KeyVault(session_factory(engine), Crypto([key]))  # another process on the same database
    try:
        await ours.save(ALICE, "openai", Secret(KEYS["openai"]), {}, scope="personal", check=None)
        assert len(await ours.usable(ALICE)) == 1
        await theirs.remove(ALICE, "openai", "personal")
        await asyncio.sleep(0.06)
        assert await ours.usable(ALICE) == []
    finally:
        await engine.dispose()


async def test_housekeeping_purges_and_then_runs_a_full_garbage_collection_each_round(atom_sqlite):
    """`atom run` makes automatic full collections rare; the hourly housekeeping does one instead."""
    import gc

    from bot.maintenance import run_periodically

    full = []

    def watch(phase, info):
        if phase == "start" and info.get("generation") == 2:
            full.append(1)

    gc.callbacks.append(watch)
    task = asyncio.create_task(run_periodically(atom_sqlite.runtime, interval=0.01))
    try:
        for _ in range(100):
            if full:
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        gc.callbacks.remove(watch)
    assert full


async def test_the_read_cache_holds_keys_sealed_never_as_plaintext(sqlite_url):
    """Between calls a person's keys sit in the vault's read cache: as the stored Fernet token and
    sealed under the process's in-memory key, never as text; each call opens its own copy."""
    import pickle

    import pytest
    from cryptography.exceptions import InvalidTag
    from cryptography.fernet import Fernet

    from bot.storage.encryption import MemorySeal

    engine = create_engine(sqlite_url)
    await migrate.upgrade(engine)
    vault = KeyVault(session_factory(engine), Crypto([Fernet.generate_key().decode()]))
    try:
        await vault.save(ALICE, "openai", Secret(KEYS["openai"]), {}, scope="personal", check=None)
        (credential,) = await vault.usable(ALICE)
        assert credential.secret.reveal() == KEYS["openai"]
        (cached,) = list(vault._cache._values.values())
        by_key, _states, sealed = cached
        sealed_key = sealed[("openai", "personal")]
        assert KEYS["openai"].encode() not in sealed_key
        assert KEYS["openai"] not in by_key[("openai", "personal")].secret
        assert KEYS["openai"] not in repr(cached) and KEYS["openai"].encode() not in sealed_key.hex().encode()
        # Another process (or a copy of this one's memory) cannot open it; altered, it does not open.
        with pytest.raises(InvalidTag):
            MemorySeal().open(sealed_key)
        with pytest.raises(InvalidTag):
            vault._seal.open(sealed_key[:-1] + bytes([sealed_key[-1] ^ 1]))
        with pytest.raises(TypeError):
            pickle.dumps(vault._seal)
        assert "key hidden" in repr(vault._seal)
        assert (await vault.usable(ALICE))[0].secret.reveal() == KEYS["openai"]  # from the cache
    finally:
        await engine.dispose()
