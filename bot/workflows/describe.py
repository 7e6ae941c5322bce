"""Plain words for a schedule ("every weekday at 09:00 (Europe/Berlin)"), read from its RRULE.

Described from the stored rule itself, not from the words the person typed, so a schedule read
back from the database gets the same sentence and the sentence never promises more than the
rule does. Times are 24-hour, as they run in the named zone.
"""

from __future__ import annotations

from datetime import datetime

from bot.workflows.lexicon import MONTH_NAMES, WEEKDAY_CODES, WEEKDAY_NAMES
from bot.workflows.recurrence import Recurrence, stamp_time
from bot.workflows.zones import zone

_ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", -1: "last", -2: "second-to-last"}
_UNIT = {"MINUTELY": "minute", "HOURLY": "hour", "DAILY": "day", "WEEKLY": "week", "MONTHLY": "month",
         "YEARLY": "year"}  # fmt: skip


def once(at: datetime, zone_name: str) -> str:
    local = at.astimezone(zone(zone_name))
    return f"once on {local:%A} {local.day} {local:%B %Y} at {local:%H:%M} ({zone_name})"


def recurring(rule: Recurrence, explicit_start: bool = False) -> str:
    parts = rule.parts(0)
    freq = parts.get("FREQ", "")
    interval = int(parts.get("INTERVAL", "1"))
    what = _what(freq, interval, parts)
    if freq in ("MINUTELY", "HOURLY"):
        if "BYHOUR" in parts:
            hours = [int(h) for h in parts["BYHOUR"].split(",")]
            minute = int(parts.get("BYMINUTE", "0").split(",")[0])
            last = minute
            if freq == "MINUTELY":
                step = int(parts.get("INTERVAL", "1"))
                last = max(range(rule.dtstart.minute % step, 60, step)) if 60 % step == 0 else 59
            what += f" from {hours[0]:02}:{minute:02} to {hours[-1]:02}:{last:02}"
        elif freq == "HOURLY" and rule.dtstart.minute:
            what += f" at {rule.dtstart.minute} past the hour"
        if "BYDAY" in parts:
            what += " on " + _days(parts["BYDAY"].split(","), plural=True)
    else:
        what += " at " + _join([f"{h:02}:{m:02}" for h, m in _times(rule)])
    if explicit_start or freq in ("MINUTELY", "HOURLY"):
        what += f", starting {rule.dtstart:%a} {rule.dtstart.day} {rule.dtstart:%b %Y}"
        if freq in ("MINUTELY", "HOURLY"):
            what += f" {rule.dtstart:%H:%M}"
    if "UNTIL" in parts:
        until = stamp_time(parts["UNTIL"])
        local = until.astimezone(zone(rule.zone_name))
        what += f", until {local:%a} {local.day} {local:%b %Y}"
        if freq in ("MINUTELY", "HOURLY"):
            what += f" {local:%H:%M}"
    if "COUNT" in parts:
        what += f", {parts['COUNT']} times"
    return f"{what} ({rule.zone_name})"


def _what(freq: str, interval: int, parts: dict[str, str]) -> str:
    days = parts.get("BYDAY", "").split(",") if "BYDAY" in parts else []
    if freq == "WEEKLY" and days:
        if interval == 1:
            return "every " + _days(days, plural=False)
        if interval == 2:
            return "every other " + _days(days, plural=False)
        return f"every {interval} weeks on " + _days(days, plural=False)
    every = _every(freq, interval)
    if freq == "MONTHLY":
        return f"{_month_days(parts)} of {every}"
    if freq == "YEARLY":
        months = [MONTH_NAMES[int(m) - 1] for m in parts.get("BYMONTH", "1").split(",")]
        if days:
            return f"{every} on {_positions(parts, days)} of {_join(months)}"
        monthdays = parts.get("BYMONTHDAY", "1").split(",")
        return f"{every} on " + _join([f"{month} {day}" for month in months for day in monthdays])
    return every


def _every(freq: str, interval: int) -> str:
    unit = _UNIT.get(freq, "time")
    if interval == 1:
        return f"every {unit}"
    if interval == 2 and freq not in ("MINUTELY", "HOURLY"):
        return f"every other {unit}"
    return f"every {interval} {unit}s"


def _month_days(parts: dict[str, str]) -> str:
    if "BYDAY" in parts:
        return "on " + _positions(parts, parts["BYDAY"].split(","))
    days = [int(d) for d in parts.get("BYMONTHDAY", "1").split(",")]
    return "on " + _join(["the last day" if d == -1 else f"the {_nth(d)}" if d > 0 else f"day {d}" for d in days])


def _positions(parts: dict[str, str], days: list[str]) -> str:
    if "BYSETPOS" in parts:
        positions = [int(n) for n in parts["BYSETPOS"].split(",")]
        kind = "weekday" if len(days) == 5 else _days(days, plural=False)
        return _join([f"the {_ORDINALS.get(n, _nth(n))} {kind}" for n in positions])
    named = []
    for day in days:
        n = int(day[:-2]) if day[:-2] else 0
        name = WEEKDAY_NAMES[WEEKDAY_CODES.index(day[-2:])]
        named.append(f"the {_ORDINALS.get(n, _nth(n))} {name}" if n else f"every {name}")
    return _join(named)


def _days(codes: list[str], plural: bool) -> str:
    codes = [code[-2:] for code in codes]
    if codes == ["MO", "TU", "WE", "TH", "FR"]:
        return "weekdays" if plural else "weekday"
    if codes == ["SA", "SU"]:
        return "weekends" if plural else "Saturday and Sunday"
    if len(codes) == 7:
        return "every day"
    return _join([WEEKDAY_NAMES[WEEKDAY_CODES.index(code)] for code in codes])


def _times(rule: Recurrence) -> list[tuple[int, int]]:
    found = set()
    for index in range(len(rule.rules)):
        parts = rule.parts(index)
        hours = [int(h) for h in parts["BYHOUR"].split(",")] if "BYHOUR" in parts else [rule.dtstart.hour]
        minutes = [int(m) for m in parts["BYMINUTE"].split(",")] if "BYMINUTE" in parts else [rule.dtstart.minute]
        found.update((h, m) for h in hours for m in minutes)
    return sorted(found)


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _nth(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
