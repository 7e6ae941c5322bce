"""The phrase table (tests/schedule_table.py) through the parser: RRULE or instant, first three
runs, task, or the exact error sentence."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.workflows.schedule import Schedule, ScheduleError, parse_schedule
from tests.schedule_table import CASES, Case


def test_the_table_is_as_broad_as_promised():
    good = [case for case in CASES if case.error is None]
    bad = [case for case in CASES if case.error is not None]
    assert len(CASES) >= 120 and len(bad) >= 20
    assert {"Australia/Sydney", "Asia/Kolkata", "America/New_York", "Europe/Berlin"} <= {c.tz for c in CASES}
    assert any(case.recurring for case in good) and any(not case.recurring for case in good)
    assert any(case.task for case in good)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.tz}:{c.phrase}" for c in CASES])
def test_phrase(case: Case):
    now = datetime.fromisoformat(case.now)
    if case.error is not None:
        with pytest.raises(ScheduleError) as caught:
            parse_schedule(case.phrase, tz=case.tz, now=now)
        assert str(caught.value) == case.error
        return
    schedule = parse_schedule(case.phrase, tz=case.tz, now=now)
    shown = schedule.to_dict(now=now, count=3)
    assert (shown.get("rrule") or shown.get("at")) == case.when
    assert shown["next_runs"] == case.runs
    assert shown["task"] == case.task
    assert ("rrule" in shown) != ("at" in shown)
    # what is stored and read back runs at the same times
    stored = Schedule.from_stored(timezone=schedule.timezone, rrule=schedule.rrule, at=schedule.at)
    assert stored.to_dict(now=now, count=3)["next_runs"] == case.runs
    assert stored.description.split(",")[0].removesuffix(f" ({case.tz})") in schedule.description
