"""Properties of every recurring schedule: runs strictly increase, and each one, read in the
schedule's zone, is on an asked-for day at the asked-for wall-clock time - except where that
local time does not exist (spring forward), where it runs at the moment the clocks jump.
A local time that happens twice (fall back) runs once. Any text at all parses or is refused with
a ScheduleError; nothing else escapes."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.workflows.recurrence import place
from bot.workflows.schedule import Schedule, ScheduleError, parse_schedule
from tests.schedule_table import CASES

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "America/St_Johns",
         "Asia/Kathmandu", "Pacific/Auckland", "Europe/London", "America/Sao_Paulo", "UTC"]  # fmt: skip
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
ORDINALS = {1: "1st", 2: "2nd", 3: "3rd", 15: "15th", 28: "28th"}
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september",
          "october", "november", "december"]  # fmt: skip
PROFILE = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _day_spec():
    """A phrase for the days, and a predicate on a local date that says whether it may run then."""
    every_day = st.just(("every day", lambda d: True))
    weekday = st.just(("every weekday", lambda d: d.weekday() < 5))
    weekend = st.just(("every weekend", lambda d: d.weekday() >= 5))
    named = st.sets(st.integers(0, 6), min_size=1, max_size=3).map(
        lambda days: ("every " + " and ".join(DAYS[i] for i in sorted(days)), lambda d, s=days: d.weekday() in s)
    )
    other = st.integers(0, 6).map(lambda i: (f"every other {DAYS[i]}", lambda d, i=i: d.weekday() == i))
    monthly = st.sampled_from(sorted(ORDINALS)).map(
        lambda n: (f"on the {ORDINALS[n]} of every month", lambda d, n=n: d.day == n)
    )
    last_day = st.just(("on the last day of the month", lambda d: (d + timedelta(days=1)).day == 1))
    last_friday = st.just(("every last friday of the month", lambda d: d.weekday() == 4 and (d + timedelta(7)).month != d.month))
    yearly = st.tuples(st.integers(1, 12), st.integers(1, 28)).map(
        lambda md: (f"every year on {MONTHS[md[0] - 1]} {md[1]}", lambda d, md=md: (d.month, d.day) == md)
    )
    return st.one_of(every_day, weekday, weekend, named, other, monthly, last_day, last_friday, yearly)


NOW = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2031, 12, 31)).map(
    lambda moment: moment.replace(second=0, microsecond=0, tzinfo=UTC)
)


def _exists(local: datetime, tz: ZoneInfo) -> bool:
    return local.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None) == local


@PROFILE
@given(day=_day_spec(), hour=st.integers(0, 23), minute=st.sampled_from([0, 15, 30, 45, 59]),
       zone=st.sampled_from(ZONES), now=NOW)  # fmt: skip
def test_daily_and_longer_runs_keep_the_wall_clock_time(day, hour, minute, zone, now):
    phrase, may_run = day
    schedule = parse_schedule(f"{phrase} at {hour:02}:{minute:02}", tz=zone, now=now)
    tz = ZoneInfo(zone)
    runs = schedule.next_runs(now, 12)
    assert runs, phrase
    asked = time(hour, minute)
    previous = now
    seen_local = set()
    for run in runs:
        assert run > previous  # strictly after the previous one (and after now)
        local = run.astimezone(tz)
        wall = local.replace(tzinfo=None)
        intended = datetime.combine(wall.date(), asked)
        if wall.time() != asked:
            # the only exception: the asked time does not exist that day; it runs when clocks jump
            assert not _exists(intended, tz), (phrase, zone, run)
            assert place(intended, tz) == run
            assert not _exists(wall - timedelta(seconds=1), tz)
        assert may_run(intended.date()), (phrase, run)
        assert (wall.date(), asked) not in seen_local  # a time that happens twice runs once
        seen_local.add((wall.date(), asked))
        previous = run
    # what is shown is what runs: asking again from any run gives the next one
    for first, second in zip(runs, runs[1:], strict=False):
        assert schedule.next_runs(first, 1) == [second]
    stored = Schedule.from_stored(timezone=schedule.timezone, rrule=schedule.rrule)
    assert stored.next_runs(now, 12) == runs


@PROFILE
@given(step=st.sampled_from(["15 minutes", "20 minutes", "30 minutes", "hour", "2 hours", "3 hours", "6 hours"]),
       zone=st.sampled_from(ZONES), now=NOW)  # fmt: skip
def test_intervals_run_on_the_clock_and_always_move_forward(step, zone, now):
    schedule = parse_schedule(f"every {step}", tz=zone, now=now)
    tz = ZoneInfo(zone)
    runs = schedule.next_runs(now, 30)
    minutes = 60 if step == "hour" else int(step.split()[0]) * (60 if "hour" in step else 1)
    assert runs[0] > now and runs[0] - now <= timedelta(minutes=minutes) + timedelta(hours=2)
    for first, second in zip(runs, runs[1:], strict=False):
        assert second > first
        # never more often than asked, except that a spring-forward jump can bring the run after
        # it closer (every 2 hours: 00:00, 02:00 → 03:00, 04:00), by at most the hour that vanished
        assert second - first >= timedelta(minutes=minutes) - (timedelta(hours=1) if minutes > 60 else timedelta())
    for run in runs:
        wall = run.astimezone(tz).replace(tzinfo=None)
        aligned = (wall.hour * 60 + wall.minute) % minutes == 0
        # not aligned only when it is the moment the clocks jumped over an aligned time
        assert aligned or not _exists(wall - timedelta(seconds=1), tz), (step, zone, run)


def test_every_recurring_case_of_the_table_keeps_its_times_for_a_year():
    checked = 0
    for case in CASES:
        if case.error is not None or not case.recurring:
            continue
        now = datetime.fromisoformat(case.now)
        schedule = Schedule.from_stored(timezone=case.when.split("TZID=")[1].split(":")[0], rrule=case.when)
        tz = ZoneInfo(schedule.timezone)
        runs = schedule.next_runs(now, 400)
        times = _asked_times(case.when)
        for first, second in zip(runs, runs[1:], strict=False):
            assert second > first, case.phrase
        for run in runs:
            wall = run.astimezone(tz).replace(tzinfo=None)
            if times is not None and wall.time() not in times:
                intended = [t for t in times if not _exists(datetime.combine(wall.date(), t), tz)]
                assert any(place(datetime.combine(wall.date(), t), tz) == run for t in intended), case.phrase
        checked += 1
    assert checked >= 100


def _asked_times(rrule: str) -> set[time] | None:
    head, *rules = rrule.split("\n")
    start = datetime.strptime(head.rsplit(":", 1)[1], "%Y%m%dT%H%M%S")
    found = set()
    for rule in rules:
        parts = dict(item.split("=") for item in rule.removeprefix("RRULE:").split(";"))
        if parts["FREQ"] in ("MINUTELY", "HOURLY"):
            return None
        hours = [int(h) for h in parts["BYHOUR"].split(",")] if "BYHOUR" in parts else [start.hour]
        minutes = [int(m) for m in parts["BYMINUTE"].split(",")] if "BYMINUTE" in parts else [start.minute]
        found |= {time(h, m) for h in hours for m in minutes}
    return found


@settings(max_examples=500, deadline=None)
@given(text=st.text(max_size=200), zone=st.sampled_from(ZONES), now=NOW)
def test_any_text_parses_or_is_refused_with_a_schedule_error(text, zone, now):
    try:
        schedule = parse_schedule(text, tz=zone, now=now)
    except ScheduleError as exc:
        message = str(exc)
        assert message and "\n" not in message and "Traceback" not in message
        return
    assert schedule.next_runs(now, 3) or schedule.at is not None


WORDS = ["every", "other", "at", "on", "the", "of", "month", "day", "week", "and", "until", "for", "from",
         "to", "starting", "next", "in", "last", "first", "2nd", "15th", "9", "17:30", "3pm", "noon",
         "monday", "fri", "weekdays", "tomorrow", "march", "3rd", "2027", "minutes", "hours", "days",
         "weeks", "times", "twice", "a", "PST", "Berlin", "time", "Europe/Berlin", "-", ",", "report"]  # fmt: skip


@settings(max_examples=1500, deadline=None)
@given(words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=9), zone=st.sampled_from(ZONES), now=NOW)
def test_any_mix_of_schedule_words_parses_or_is_refused(words, zone, now):
    try:
        schedule = parse_schedule(" ".join(words), tz=zone, now=now)
    except ScheduleError:
        return
    runs = schedule.next_runs(now, 5)
    assert all(b > a for a, b in zip(runs, runs[1:], strict=False))
    assert all(run > now for run in runs)


@pytest.mark.parametrize("zone", ZONES)
def test_the_interval_floor_is_configurable(zone):
    now = datetime(2026, 12, 1, tzinfo=UTC)
    with pytest.raises(ScheduleError, match="at most every 15 minutes"):
        parse_schedule("every 10 minutes", tz=zone, now=now)
    with pytest.raises(ScheduleError, match="at most every hour"):
        parse_schedule("every 30 minutes", tz=zone, now=now, min_interval=timedelta(hours=1))
    assert parse_schedule("every 5 minutes", tz=zone, now=now, min_interval=timedelta(minutes=5)).rrule


def test_dtstart_is_always_the_first_run():
    """The stored DTSTART is the first run the person is shown (so "every other tuesday" counts
    from that Tuesday, and no implementation that includes DTSTART by RFC 5545 runs extra)."""
    for case in CASES:
        if case.error is not None or not case.recurring:
            continue
        head = case.when.split("\n")[0]
        zone_name, stamp = head.removeprefix("DTSTART;TZID=").split(":")
        dtstart = datetime.strptime(stamp, "%Y%m%dT%H%M%S")
        assert place(dtstart, ZoneInfo(zone_name)).isoformat() == case.runs[0], case.phrase
