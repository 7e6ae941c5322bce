"""The public API of bot.workflows.schedule that workflows build on."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.workflows.schedule import Schedule, ScheduleError, parse_schedule

NOW = datetime(2026, 12, 1, 21, 25, tzinfo=ZoneInfo("UTC"))


def test_weekday_schedule_in_berlin():
    schedule = parse_schedule("every weekday at 9 DM me my calendar", tz="Europe/Berlin", now=NOW)
    assert schedule.rrule == "DTSTART;TZID=Europe/Berlin:20261202T090000\nRRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"
    assert schedule.at is None
    assert schedule.description == "every weekday at 09:00 (Europe/Berlin)"
    assert schedule.task == "DM me my calendar"
    runs = schedule.next_runs(NOW, 3)
    assert [run.isoformat() for run in runs] == [
        "2026-12-02T09:00:00+01:00",
        "2026-12-03T09:00:00+01:00",
        "2026-12-04T09:00:00+01:00",
    ]


def test_one_off_and_round_trip_through_storage():
    schedule = parse_schedule("in 2 hours", tz="Asia/Kolkata", now=NOW)
    assert schedule.rrule is None
    assert schedule.at == NOW + timedelta(hours=2)
    stored = Schedule.from_stored(timezone=schedule.timezone, at=schedule.at, task="x")
    assert stored.next_runs(NOW) == [schedule.at]
    assert stored.next_runs(schedule.at) == []
    weekly = parse_schedule("every other tuesday at 3pm", tz="America/New_York", now=NOW)
    again = Schedule.from_stored(timezone=weekly.timezone, rrule=weekly.rrule)
    assert again.description == weekly.description
    assert again.next_runs(NOW, 4) == weekly.next_runs(NOW, 4)
    assert weekly.to_dict(now=NOW, count=2)["next_runs"] == [
        "2026-12-08T15:00:00-05:00",
        "2026-12-22T15:00:00-05:00",
    ]


@pytest.mark.parametrize("text", ["once in a while", "may this work", "every 0 minutes", "at 25:00"])
def test_not_a_schedule(text):
    with pytest.raises(ScheduleError):
        parse_schedule(text, now=NOW)


def test_stored_rule_that_cannot_be_read_is_a_schedule_error():
    with pytest.raises(ScheduleError):
        Schedule.from_stored(timezone="UTC", rrule="RRULE:FREQ=DAILY")
    with pytest.raises(ScheduleError):
        Schedule.from_stored(timezone="Mars/Olympus", rrule="DTSTART;TZID=UTC:20261201T090000\nRRULE:FREQ=DAILY")
