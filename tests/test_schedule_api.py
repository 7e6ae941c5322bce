"""The public API of bot.workflows.schedule that workflows build on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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


# --- DST: the two documented choices -------------------------------------------------------


def test_a_local_time_that_does_not_exist_runs_when_the_clocks_jump():
    # Berlin, Sunday 2027-03-28: 02:00 CET becomes 03:00 CEST; 02:30 never happens.
    schedule = parse_schedule("every day at 02:30", tz="Europe/Berlin", now=datetime(2027, 3, 26, 12, tzinfo=UTC))
    runs = [run.isoformat() for run in schedule.next_runs(datetime(2027, 3, 26, 12, tzinfo=UTC), 3)]
    assert runs == ["2027-03-27T02:30:00+01:00", "2027-03-28T03:00:00+02:00", "2027-03-29T02:30:00+02:00"]


def test_a_local_time_that_happens_twice_runs_once_at_the_first():
    # New York, Sunday 2027-11-07: 01:00-02:00 happens in EDT, then again in EST.
    now = datetime(2027, 11, 6, 12, tzinfo=UTC)
    schedule = parse_schedule("every day at 01:30", tz="America/New_York", now=now)
    runs = schedule.next_runs(now, 3)
    assert [run.isoformat() for run in runs] == [
        "2027-11-07T01:30:00-04:00",  # the first 01:30 (EDT); the second one (EST) is skipped
        "2027-11-08T01:30:00-05:00",
        "2027-11-09T01:30:00-05:00",
    ]
    once = parse_schedule("tomorrow at 1:30am", tz="America/New_York", now=now)
    assert once.at.isoformat() == "2027-11-07T01:30:00-04:00"


def test_hourly_across_both_changes_never_runs_twice_at_one_instant():
    spring = datetime(2027, 3, 28, 0, 30, tzinfo=UTC)  # 01:30 CET
    runs = parse_schedule("every hour", tz="Europe/Berlin", now=spring).next_runs(spring, 3)
    assert [run.isoformat() for run in runs] == [
        "2027-03-28T03:00:00+02:00",  # 02:00 does not exist: the jump; 03:00 is that same instant
        "2027-03-28T04:00:00+02:00",
        "2027-03-28T05:00:00+02:00",
    ]
    autumn = datetime(2027, 10, 30, 23, 30, tzinfo=UTC)  # 01:30 CEST
    runs = parse_schedule("every hour", tz="Europe/Berlin", now=autumn).next_runs(autumn, 3)
    assert [run.isoformat() for run in runs] == [
        "2027-10-31T02:00:00+02:00",  # the first 02:00; the repeated hour's 02:00 is skipped
        "2027-10-31T03:00:00+01:00",
        "2027-10-31T04:00:00+01:00",
    ]


def test_the_southern_hemisphere_changes_the_other_way():
    now = datetime(2027, 9, 29, 12, tzinfo=UTC)  # Wednesday 22:00 in Sydney
    schedule = parse_schedule("every weekday at 9", tz="Australia/Sydney", now=now)
    offsets = {run.utcoffset() for run in schedule.next_runs(now, 5)}
    assert offsets == {timedelta(hours=10), timedelta(hours=11)}  # AEST, then AEDT from Oct 3


# --- bad input to the API --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("x" * 10_000, "10,000 characters"),
        ("every day at 9\x00", "control characters"),
        ("every day at 9\u2028", "control characters"),
        ("", "Say when"),
        ("\n\t ", "Say when"),
        (None, "must be text"),
    ],
)
def test_bad_text(text, says):
    with pytest.raises(ScheduleError, match=says):
        parse_schedule(text, now=NOW)


def test_unknown_zone_and_naive_now():
    with pytest.raises(ScheduleError, match="not a time zone Atom knows"):
        parse_schedule("every day at 9", tz="Europe/Atlantis", now=NOW)
    with pytest.raises(ScheduleError, match="not a time zone Atom knows"):
        parse_schedule("every day at 9", tz="../../etc/passwd", now=NOW)
    # a naive "now" is read in the person's zone
    naive = parse_schedule("in 1 hour", tz="Asia/Kolkata", now=datetime(2026, 12, 1, 10, 0))
    assert naive.at.isoformat() == "2026-12-01T11:00:00+05:30"
    assert parse_schedule("every day at 9", tz="europe/berlin", now=NOW).timezone == "Europe/Berlin"


def test_a_schedule_is_either_repeating_or_one_instant():
    with pytest.raises(ScheduleError):
        Schedule(timezone="UTC", description="x")
    with pytest.raises(ScheduleError):
        Schedule.from_stored(timezone="UTC", at=datetime(2027, 1, 1, 9))  # no offset
    with pytest.raises(ScheduleError, match="BYEASTER"):
        Schedule.from_stored(timezone="UTC", rrule="DTSTART;TZID=UTC:20261201T090000\nRRULE:FREQ=DAILY;BYEASTER=1")


def test_next_runs_of_a_schedule_that_ended():
    schedule = parse_schedule("every day at 9 for 2 days", tz="UTC", now=NOW)
    assert len(schedule.next_runs(NOW, 10)) == 2
    assert schedule.next_runs(NOW + timedelta(days=30), 5) == []
    assert schedule.next_runs(NOW, 0) == []


def test_a_stored_rule_in_another_zone_than_the_schedule_is_refused():
    rule = "DTSTART;TZID=Europe/Berlin:20261202T090000\nRRULE:FREQ=DAILY"
    with pytest.raises(ScheduleError, match="runs in Europe/Berlin"):
        Schedule.from_stored(timezone="UTC", rrule=rule)


def test_a_time_said_apart_from_the_repeat_stays_in_the_task():
    schedule = parse_schedule("every weekday at 8:45 remind the team about standup at 9:00", tz="UTC", now=NOW)
    assert schedule.description == "every weekday at 08:45 (UTC)"
    assert schedule.task == "remind the team about standup at 9:00"
