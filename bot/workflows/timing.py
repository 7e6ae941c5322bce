"""When a trigger fires: the next occurrence after an instant, and the next few for previews.

Pure functions over a `Trigger`. An RRULE (as the schedule parser writes it, with
`DTSTART;TZID=…`) is expanded by the parser's `recurrence` module in its own zone, so "every
weekday at 9" stays at 9 across daylight-saving changes; a cron expression by APScheduler's `CronTrigger` in the trigger's
zone; one instant is itself. `start` and `end` bound all three.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from bot.workflows import recurrence
from bot.workflows.spec import Trigger

MAX_EXPANSION = 10_000  # occurrences walked at most when catching up after downtime


class TriggerError(ValueError):
    """The trigger cannot produce times; the message is for a person."""


def _rule(text: str) -> recurrence.Recurrence:
    try:
        return recurrence.parse(text)
    except recurrence.BadRule as exc:
        raise TriggerError(str(exc)) from None


@functools.lru_cache(maxsize=2_000)
def _cron(expression: str, zone: str) -> CronTrigger:
    try:
        return CronTrigger.from_crontab(expression, timezone=ZoneInfo(zone))
    except (ValueError, TypeError) as exc:
        raise TriggerError(f"That cron expression cannot be read ({exc}).") from None


def validate(trigger: Trigger) -> None:
    """Raise TriggerError when the trigger can never fire or cannot be read."""
    if trigger.rrule:
        _rule(trigger.rrule)
    elif trigger.cron:
        _cron(trigger.cron, trigger.timezone)


def next_after(trigger: Trigger, after: datetime) -> datetime | None:
    """The first occurrence strictly after `after` (aware), or None when there are no more."""
    after = max(after, trigger.start - timedelta(microseconds=1)) if trigger.start else after
    if trigger.at is not None:
        found = trigger.at if trigger.at > after else None
    elif trigger.rrule:
        # The schedule parser's own arithmetic: what the preview shows is what runs (DST edges too).
        found = next(iter(recurrence.runs(_rule(trigger.rrule), after, 1)), None)
    else:
        found = _cron(trigger.cron, trigger.timezone).get_next_fire_time(None, after + timedelta(seconds=1))
        # get_next_fire_time(now) may return `now` itself; strictly after means skipping it.
        if found is not None and found <= after:
            found = _cron(trigger.cron, trigger.timezone).get_next_fire_time(found, found + timedelta(seconds=1))
    if found is None:
        return None
    found = found.astimezone(UTC)
    if trigger.end is not None and found > trigger.end:
        return None
    return found


def next_runs(trigger: Trigger, after: datetime, count: int = 3) -> list[datetime]:
    runs: list[datetime] = []
    cursor = after
    while len(runs) < count:
        found = next_after(trigger, cursor)
        if found is None:
            break
        runs.append(found)
        cursor = found
    return runs


def occurrences_between(trigger: Trigger, after: datetime, until: datetime) -> list[datetime]:
    """Occurrences in (after, until], oldest first, at most MAX_EXPANSION (the newest kept)."""
    found: list[datetime] = []
    cursor = after
    while True:
        nxt = next_after(trigger, cursor)
        if nxt is None or nxt > until:
            return found[-MAX_EXPANSION:]
        found.append(nxt)
        if len(found) > 2 * MAX_EXPANSION:
            found = found[-MAX_EXPANSION:]
        cursor = nxt


def utc(value: datetime) -> datetime:
    """Aware UTC; naive values (SQLite returns them) are taken as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
