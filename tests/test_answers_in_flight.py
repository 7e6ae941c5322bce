"""Answers in flight are written behind: only rows that live long enough to matter reach the database."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select, text

from bot.answers_in_flight import AnswersInFlight
from bot.identity import Person
from bot.storage import migrate
from bot.storage.encryption import Crypto
from bot.storage.engine import create_engine, session_factory
from bot.storage.models import AnswerInFlight
from tests.clock import ManualClock

ALICE = Person(enterprise_id="", team_id="T1", user_id="U1")


async def rows(engine) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(AnswerInFlight))).scalar()


class InFlight:
    """A store on a fresh database, a clock the test moves, and the engine to count rows with."""

    def __init__(self, engine, answers: AnswersInFlight, clock: ManualClock):
        self.engine, self.answers, self.clock = engine, answers, clock


@pytest.fixture
async def inflight(database_url):
    clock = ManualClock()
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    answers = AnswersInFlight(session_factory(engine), Crypto([Fernet.generate_key().decode()]), delay=60, clock=clock)
    try:
        yield InFlight(engine, answers, clock)
    finally:
        await answers.close()
        await engine.dispose()


async def test_a_short_answer_never_touches_the_database(inflight):
    engine, answers, clock = inflight.engine, inflight.answers, inflight.clock
    tracker = await answers.begin(ALICE, "quick one", "D1", "1.1", "dm")
    await answers._flush_due()  # the timer's flush: the row is younger than the delay
    assert await rows(engine) == 0
    answers.delivered(tracker.delivery_id)
    clock.now += 120
    await answers.flush()
    assert await rows(engine) == 0


async def test_a_long_answer_is_written_once_due_and_removed_when_delivered(inflight):
    engine, answers, clock = inflight.engine, inflight.answers, inflight.clock
    older = await answers.begin(ALICE, "slow SENTINEL-QUESTION", "D1", "1.1", "dm")
    clock.now += 61
    younger = await answers.begin(ALICE, "just asked", "D1", "1.2", "dm")
    await answers._flush_due()
    assert await rows(engine) == 1  # only the one older than the delay
    async with engine.connect() as conn:
        stored = (await conn.execute(text("SELECT question FROM answers_in_flight"))).scalar()
    assert "SENTINEL" not in stored  # encrypted
    assert (await answers.get(older.delivery_id, ALICE)).question == "slow SENTINEL-QUESTION"
    assert await rows(engine) == 2  # a reader flushes everything first
    answers.delivered(older.delivery_id)
    answers.delivered(younger.delivery_id)
    await answers.flush()
    assert await rows(engine) == 0


async def test_a_row_whose_message_appeared_is_written_at_once(inflight):
    engine, answers = inflight.engine, inflight.answers
    tracker = await answers.begin(ALICE, "streaming", "D1", "1.1", "dm")
    await tracker.message_started("1.2", streaming=True)
    await answers._flusher.settle()
    assert await rows(engine) == 1  # a crash from here on leaves a stream to close
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT message_ts FROM answers_in_flight"))).scalar() == "1.2"


async def test_after_a_crash_an_answer_that_had_ended_is_not_closed_again(inflight, fake_slack):
    """Killed within the batch window after an answer ended: its row still says "answering". At
    start Slack says the stream is no longer streaming: the answer was delivered, so no note, no
    Try again, the row goes, and it is not counted as closed."""
    from bot.slack_client import build_client
    from tests.fakes.slack import Scripted

    engine, answers = inflight.engine, inflight.answers
    finished = await answers.begin(ALICE, "quick one", "D1", "1.1", "dm")
    await finished.message_started("1.2", streaming=True)
    cut = await answers.begin(ALICE, "slow one", "D1", "1.3", "dm")
    await cut.message_started("1.4", streaming=True)
    await answers._flusher.settle()
    assert await rows(engine) == 2
    fake_slack.fail_always(
        "chat.stopStream", Scripted(body={"ok": False, "error": "message_not_in_streaming_state"})
    )
    client = build_client(fake_slack.url, "xoxb-test")

    async def client_for(_enterprise, _team):
        return client

    # Both rows look alike to the restart; Slack's answer tells them apart.
    closed = await answers.close_left_by_crash(client_for, before=None)
    assert closed == 0 and await rows(engine) == 0
    assert len(fake_slack.calls_to("chat.stopStream")) == 2
