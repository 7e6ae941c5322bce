"""RFC 5545 recurrences in a zone: the RRULE text, and the run times it gives.

A recurrence is a DTSTART wall-clock time with a TZID and one or more RRULE lines. Occurrences
are generated on the local wall clock by `dateutil.rrule`, then each is placed on the time line
by one rule for the two DST edges:

* a local time that does not exist (clocks spring forward over it) runs at the first instant
  after it that exists - the moment the clocks jump (02:30 on a 02:00→03:00 day runs at 03:00);
* a local time that happens twice (clocks fall back) runs once, at its first occurrence.

Two local times that land on the same instant run once. This one function is what both shows
the next runs and schedules them, so what the person is shown is what will happen.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from dateutil import rrule as du

from bot.workflows.zones import UnknownZone, zone

_FREQS = {"YEARLY": du.YEARLY, "MONTHLY": du.MONTHLY, "WEEKLY": du.WEEKLY, "DAILY": du.DAILY,
          "HOURLY": du.HOURLY, "MINUTELY": du.MINUTELY, "SECONDLY": du.SECONDLY}  # fmt: skip
_DAYS = {"MO": du.MO, "TU": du.TU, "WE": du.WE, "TH": du.TH, "FR": du.FR, "SA": du.SA, "SU": du.SU}
_INT_LISTS = {"BYMONTH": "bymonth", "BYMONTHDAY": "bymonthday", "BYSETPOS": "bysetpos",
              "BYHOUR": "byhour", "BYMINUTE": "byminute", "BYSECOND": "bysecond",
              "BYYEARDAY": "byyearday", "BYWEEKNO": "byweekno"}  # fmt: skip
# Local wall-clock offsets never move an instant by more than this (the largest DST shift is 2 h).
_DST_MARGIN = timedelta(hours=3)


class BadRule(ValueError):
    """A stored recurrence that cannot be read back; the message says which part."""


@dataclass(frozen=True)
class Recurrence:
    """DTSTART (naive local wall time) in `zone_name`, and each RRULE line as ordered parts."""

    zone_name: str
    dtstart: datetime
    rules: tuple[tuple[tuple[str, str], ...], ...]

    def text(self) -> str:
        lines = [f"DTSTART;TZID={self.zone_name}:{self.dtstart:%Y%m%dT%H%M%S}"]
        lines += ["RRULE:" + ";".join(f"{k}={v}" for k, v in rule) for rule in self.rules]
        return "\n".join(lines)

    def parts(self, index: int = 0) -> dict[str, str]:
        return dict(self.rules[index])

    def with_start(self, dtstart: datetime) -> Recurrence:
        return Recurrence(self.zone_name, dtstart, self.rules)

    def next_runs(self, after: datetime, count: int) -> list[datetime]:
        return runs(self, after, count)


def make(zone_name: str, dtstart: datetime, *rules: dict[str, object]) -> Recurrence:
    """A recurrence from parts given as {"FREQ": "WEEKLY", "BYDAY": ["MO", "FR"], …}."""
    frozen = []
    for rule in rules:
        frozen.append(tuple((key, _text(value)) for key, value in rule.items() if value not in (None, [], ())))
    return Recurrence(zone_name, dtstart.replace(tzinfo=None, microsecond=0), tuple(frozen))


def _text(value: object) -> str:
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return str(value)


@lru_cache(maxsize=1024)
def parse(text: str) -> Recurrence:
    """Read back what `Recurrence.text()` wrote (or any DTSTART;TZID + RRULE lines)."""
    lines = [line.strip() for line in text.replace("\r", "\n").split("\n") if line.strip()]
    if not lines or not lines[0].upper().startswith("DTSTART;TZID="):
        raise BadRule("A stored schedule must start with DTSTART;TZID=<zone>:<local time>.")
    head, _, stamp = lines[0].partition(":")
    zone_name = head.split("=", 1)[1]
    try:
        zone(zone_name)
        dtstart = stamp_time(stamp.strip())
    except UnknownZone as exc:
        raise BadRule(f"The stored schedule names an unknown time zone ({zone_name}).") from exc
    except ValueError as exc:
        raise BadRule(f"The stored schedule's start ({stamp}) is not a local time.") from exc
    rules = []
    for line in lines[1:]:
        if not line.upper().startswith("RRULE:"):
            raise BadRule("Every line after DTSTART must be an RRULE.")
        parts = []
        for item in line[6:].split(";"):
            key, sep, value = item.partition("=")
            if not sep or not value:
                raise BadRule(f"The stored rule has a part without a value ({item}).")
            parts.append((key.strip().upper(), value.strip().upper()))
        rules.append(tuple(parts))
    if not rules:
        raise BadRule("A stored schedule needs at least one RRULE line.")
    recurrence = Recurrence(zone_name, dtstart, tuple(rules))
    _compiled(recurrence)  # fail now, not at the first run
    return recurrence


@lru_cache(maxsize=1024)
def _compiled(recurrence: Recurrence) -> tuple[du.rrulebase, datetime | None]:
    tz = zone(recurrence.zone_name)
    rules = du.rruleset()
    single: du.rrule | None = None
    latest_until: datetime | None = None
    for rule in recurrence.rules:
        kwargs: dict[str, object] = {"dtstart": recurrence.dtstart}
        freq = None
        for key, value in rule:
            try:
                if key == "FREQ":
                    freq = _FREQS[value]
                elif key == "INTERVAL":
                    kwargs["interval"] = int(value)
                elif key == "COUNT":
                    kwargs["count"] = int(value)
                elif key == "UNTIL":
                    until = stamp_time(value)
                    latest_until = until if latest_until is None else max(latest_until, until)
                    kwargs["until"] = until.astimezone(tz).replace(tzinfo=None)
                elif key == "BYDAY":
                    kwargs["byweekday"] = [_weekday(item) for item in value.split(",")]
                elif key == "WKST":
                    kwargs["wkst"] = _DAYS[value]
                elif key in _INT_LISTS:
                    kwargs[_INT_LISTS[key]] = [int(item) for item in value.split(",")]
                else:
                    raise BadRule(f"The stored rule uses {key}, which Atom does not support.")
            except (KeyError, ValueError) as exc:
                if isinstance(exc, BadRule):
                    raise
                raise BadRule(f"The stored rule's {key} ({value}) cannot be read.") from exc
        if freq is None:
            raise BadRule("The stored rule has no FREQ.")
        try:
            single = du.rrule(freq, **kwargs)
        except (ValueError, TypeError) as exc:
            raise BadRule(f"The stored rule cannot be used: {exc}.") from exc
        rules.rrule(single)
    # One RRULE line (the usual case) is iterated directly: a set merges its rules through a heap.
    return (single if len(recurrence.rules) == 1 else rules), latest_until


_STAMP = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(Z?)")


def stamp_time(text: str) -> datetime:
    """An RFC 5545 DATE-TIME: local ("20261202T090000") or UTC ("…Z"); ValueError otherwise.

    Read by hand: `datetime.strptime` would import `_strptime` and build its locale tables, a
    measurable share of `atom schedule`'s start-up.
    """
    match = _STAMP.fullmatch(text)
    if match is None:
        raise ValueError(f"not an RFC 5545 date-time: {text}")
    moment = datetime(*(int(part) for part in match.groups()[:6]))
    return moment.replace(tzinfo=UTC) if match.group(7) else moment


def _weekday(item: str) -> du.weekday:
    day = _DAYS[item[-2:]]
    return day(int(item[:-2])) if item[:-2] else day


def runs(recurrence: Recurrence, after: datetime, count: int) -> list[datetime]:
    """The next `count` run instants strictly after `after`, aware, in the recurrence's zone."""
    found: list[datetime] = []
    if count > 0:
        for _, instant in _occurrences(recurrence, after):
            found.append(instant)
            if len(found) >= count:
                break
    return found


def first_local(recurrence: Recurrence, after: datetime) -> datetime | None:
    """The local wall time of the first occurrence that runs after `after` (None: it never runs)."""
    for local, _ in _occurrences(recurrence, after):
        return local
    return None


def _occurrences(recurrence: Recurrence, after: datetime) -> Iterator[tuple[datetime, datetime]]:
    tz = zone(recurrence.zone_name)
    rules, until = _compiled(recurrence)
    local_after = after.astimezone(tz).replace(tzinfo=None)
    last: datetime | None = None
    # The cap only guards an endless search through occurrences that all land before `after`.
    for examined, local in enumerate(rules.xafter(local_after - _DST_MARGIN, inc=True)):
        instant = place(local, tz)
        if instant > after and (last is None or instant > last):
            if until is not None and instant > until:
                return
            last = instant
            yield local, instant
        if examined > 100_000:
            return


def place(local: datetime, tz: ZoneInfo) -> datetime:
    """The instant a local wall time runs at, by the two DST rules in the module docstring."""
    first = local.replace(tzinfo=tz, fold=0)
    utc = first.astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) == local:
        return utc.astimezone(tz)  # exists; fold=0 is the first of two when it is ambiguous
    # In a gap: search between the readings with the offsets after and before it for the
    # moment the clocks jump, the first instant whose wall time is later than `local`.
    low = local.replace(tzinfo=tz, fold=1).astimezone(UTC)
    high = utc
    if low > high:
        low, high = high, low
    lo, hi = 0, int((high - low).total_seconds())
    while lo < hi:
        mid = (lo + hi) // 2
        if (low + timedelta(seconds=mid)).astimezone(tz).replace(tzinfo=None) > local:
            hi = mid
        else:
            lo = mid + 1
    return (low + timedelta(seconds=lo)).astimezone(tz)
