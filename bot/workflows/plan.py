"""From the pieces the grammar found to one schedule: a recurrence or a single instant.

Owns the decisions that need "now" and the zone: which day "friday" is, where a repeating
schedule starts (DTSTART is always its first run, so "every other tuesday" counts from the next
Tuesday), how "until" and "for 3 weeks" end it, the interval floor, and what is left as the task.
Defaults: a daily-or-longer schedule with no time runs at 09:00; "every N minutes" runs on the
clock's multiples of N (":00, :15, :30, :45"), "every N hours" on multiples of N from midnight.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from bot.workflows import lexicon, recurrence, zones
from bot.workflows.clock import Day
from bot.workflows.days import add_months, nth, resolve
from bot.workflows.pieces import Bound, Found, Relative, Repeat, Times, Window, Zone
from bot.workflows.task import no_time_message, task_text, without_far_times

DEFAULT_TIME = (9, 0)

class PlanError(ValueError):
    """The pieces do not make one schedule; the message says why, in one sentence."""


@dataclass
class Plan:
    zone_name: str
    task: str
    rule: recurrence.Recurrence | None = None
    at: datetime | None = None
    explicit_start: bool = False


def build(found: Found, *, zone_name: str, now: datetime, min_interval: timedelta) -> Plan:
    if any(isinstance(piece, Repeat) and not piece.weak for _, _, piece in found.pieces):
        # "send the weekly report every friday": the adjective stays in the task
        found.pieces = [item for item in found.pieces if not (isinstance(item[2], Repeat) and item[2].weak)]
    found.pieces = without_far_times(found)
    kinds: dict[type, list] = {}
    for _, _, piece in found.pieces:
        kinds.setdefault(type(piece), []).append(piece)
    named = sorted({piece.name for piece in kinds.get(Zone, [])})
    if len(named) > 1:
        raise PlanError(f"The text names two time zones ({' and '.join(named)}); name one.")
    zone_name = named[0] if named else zone_name
    tz = zones.zone(zone_name)
    now_local = now.astimezone(tz)
    repeats, days = kinds.get(Repeat, []), kinds.get(Day, [])
    relatives = kinds.get(Relative, [])
    times = sorted({value for piece in kinds.get(Times, []) for value in piece.values})
    bounds: dict[str, Bound] = {}
    for bound in kinds.get(Bound, []):
        if bound.kind in bounds:
            raise PlanError(f'The text says both "{bounds[bound.kind].text}" and "{bound.text}"; keep one.')
        bounds[bound.kind] = bound
    windows = kinds.get(Window, [])
    if not (repeats or days or relatives or times):
        if bounds or windows:
            shown = next(iter(bounds.values())).text if bounds else "a time window"
            raise PlanError(f'"{shown}" only fits a repeating schedule, such as "every day at 9".')
        raise PlanError(no_time_message(found.tokens.text))
    plan = Plan(zone_name, task_text(found))
    if repeats:
        if len(repeats) > 1 and len(times) > 1:
            raise PlanError(
                f'That reads like two schedules ("{repeats[0].text}" and "{repeats[1].text}", with '
                "different times); set them up one at a time."
            )
        repeat = _one_repeat(repeats, days)
        plan.rule = _recurring(repeat, times, windows, bounds, tz, zone_name, now_local, min_interval)
        plan.explicit_start = "start" in bounds
    else:
        for kind in ("start", "until", "for", "count"):
            if kind in bounds:
                raise PlanError(
                    f'"{bounds[kind].text}" only fits a repeating schedule, such as "every day at 9".'
                )
        if windows:
            raise PlanError('A time window ("from 9 to 5") only fits a repeating schedule, such as "every hour".')
        plan.at = _once(days, relatives, times, tz, now_local)
    return plan


def _one_repeat(repeats: list[Repeat], days: list[Day]) -> Repeat:
    repeat = repeats[0]
    for other in repeats[1:]:
        if repeat.freq in ("MINUTELY", "HOURLY") and other.freq == "WEEKLY" and other.interval == 1:
            repeat.byday = other.byday  # "every hour on weekdays"
            continue
        if other.freq == repeat.freq == "WEEKLY" and other.interval == repeat.interval and not other.times:
            repeat.byday = sorted(set(repeat.byday) | set(other.byday), key=lexicon.WEEKDAY_CODES.index)
            continue
        if other.freq == repeat.freq == "DAILY" and not (other.times and repeat.times):
            repeat.times = repeat.times or other.times
            continue
        raise PlanError(f'"{repeat.text}" and "{other.text}" are two different repeats; keep one.')
    for day in days:
        if repeat.freq == "WEEKLY" and day.weekday is not None and not day.strictly_next and day.time is None:
            code = lexicon.WEEKDAY_CODES[day.weekday]
            repeat.byday = [code] if repeat.byday == [] else sorted({*repeat.byday, code})
        elif repeat.freq == "MONTHLY" and day.monthday and day.month is None and not repeat.byday:
            repeat.bymonthday = sorted({*repeat.bymonthday, day.monthday})
        else:
            raise PlanError(
                f'"{day.text}" is a single day but "{repeat.text}" repeats; '
                f'say "starting {day.text}" or keep one.'
            )
    return repeat


def _recurring(
    repeat: Repeat,
    times: list[tuple[int, int]],
    windows: list[Window],
    bounds: dict[str, Bound],
    tz,
    zone_name: str,
    now_local: datetime,
    min_interval: timedelta,
) -> recurrence.Recurrence:
    times = times or repeat.times
    if repeat.needs_times and len(times) != repeat.needs_times:
        raise PlanError(f'"{repeat.text}" needs its {repeat.needs_times} times, like "every day at 9 and 17".')
    start_day = resolve(bounds["start"].day, now_local, (23, 59)) if "start" in bounds else None
    start_date = start_day.date() if start_day else now_local.date()
    after = now_local
    if start_day is not None:
        after = max(now_local, recurrence.place(datetime.combine(start_date, time()), tz) - timedelta(seconds=1))
    parts: dict[str, object] = {"FREQ": repeat.freq}
    if repeat.freq == "SECONDLY":  # runs are minute-grained: seconds are always below the floor
        raise PlanError(f'"{repeat.text}" is too often: a schedule runs at most every {_span(min_interval)}.')
    if repeat.freq in ("MINUTELY", "HOURLY"):
        step = timedelta(minutes=repeat.interval) if repeat.freq == "MINUTELY" else timedelta(hours=repeat.interval)
        if step < min_interval:
            raise PlanError(
                f'"{repeat.text}" is too often: a schedule runs at most every {_span(min_interval)}.'
            )
        if repeat.byday:
            parts["BYDAY"] = repeat.byday
        anchor = _anchor(repeat, step, windows, times, start_date, now_local, parts)
        probe = recurrence.make(zone_name, anchor, {**parts, "INTERVAL": repeat.interval})
    else:
        times = times or [DEFAULT_TIME]
        _check_floor(times, repeat, min_interval)
        _fill_days(repeat, start_date, parts)
        anchor = datetime.combine(start_date, time(*times[0]))
        probe = recurrence.make(zone_name, anchor, *_time_rules(parts, times))
    first = recurrence.first_local(probe, after)
    if first is None:
        raise PlanError(f'"{repeat.text}" never runs; check the days and dates it names.')
    parts["INTERVAL"] = repeat.interval if repeat.interval > 1 else None
    rules = [parts] if repeat.freq in ("MINUTELY", "HOURLY") else _time_rules(parts, times)
    end = _end(bounds, first, tz, repeat)
    for rule in rules:
        rule["INTERVAL"] = parts["INTERVAL"]
        if isinstance(end, datetime):
            rule["UNTIL"] = end
        elif end is not None:
            rule["COUNT"] = end
    ordered = [{key: rule[key] for key in _ORDER if key in rule} for rule in rules]
    return recurrence.make(zone_name, first, *ordered)


_ORDER = ("FREQ", "INTERVAL", "BYMONTH", "BYMONTHDAY", "BYDAY", "BYSETPOS", "BYHOUR", "BYMINUTE", "UNTIL", "COUNT")


def _anchor(repeat, step, windows, times, start_date, now_local, parts) -> datetime:
    if windows:
        (h1, m1), (h2, m2) = windows[0].first, windows[0].last
        if (h2, m2) <= (h1, m1):
            raise PlanError(f"The window from {h1:02}:{m1:02} to {h2:02}:{m2:02} ends before it starts.")
        last_hour = h2 if repeat.freq == "HOURLY" or m2 > 0 else h2 - 1
        if repeat.freq == "HOURLY" and m2 < m1:
            last_hour -= 1
        parts["BYHOUR"] = list(range(h1, last_hour + 1))
        if repeat.freq == "HOURLY":
            parts["BYMINUTE"] = [m1]
        return datetime.combine(start_date, time(h1, m1))
    if times:
        return datetime.combine(start_date, time(*times[0]))
    minutes = int(step.total_seconds() // 60)
    if start_date != now_local.date():
        return datetime.combine(start_date, time())
    base = now_local.replace(tzinfo=None, second=0, microsecond=0)
    if repeat.freq == "MINUTELY" and 60 % minutes == 0:
        return base.replace(minute=0)
    if repeat.freq == "HOURLY" and (24 * 60) % minutes == 0:
        return base.replace(hour=0, minute=0)
    return base + timedelta(minutes=1)


def _check_floor(times, repeat: Repeat, min_interval: timedelta) -> None:
    if len(times) < 2:
        return
    minutes = [h * 60 + m for h, m in times]
    gaps = [b - a for a, b in zip(minutes, minutes[1:], strict=False)]
    if repeat.freq == "DAILY" and repeat.interval == 1:
        gaps.append(24 * 60 - minutes[-1] + minutes[0])
    if min(gaps) < min_interval.total_seconds() / 60:
        raise PlanError(f"Those times are too close together: a schedule runs at most every {_span(min_interval)}.")


def _fill_days(repeat: Repeat, start: date, parts: dict) -> None:
    code = lexicon.WEEKDAY_CODES[start.weekday()]
    if repeat.freq == "WEEKLY":
        parts["BYDAY"] = repeat.byday or [code]
    elif repeat.freq == "MONTHLY":
        if repeat.byday:
            parts["BYDAY"], parts["BYSETPOS"] = repeat.byday, repeat.bysetpos
        else:
            parts["BYMONTHDAY"] = repeat.bymonthday or [start.day]
    elif repeat.freq == "YEARLY":
        parts["BYMONTH"] = repeat.bymonth or [start.month]
        if repeat.byday:
            parts["BYDAY"], parts["BYSETPOS"] = repeat.byday, repeat.bysetpos
        else:
            parts["BYMONTHDAY"] = repeat.bymonthday or [start.day]
            for month_ in parts["BYMONTH"]:
                for day in parts["BYMONTHDAY"]:
                    if day > lexicon.MONTH_DAYS[month_ - 1]:
                        raise PlanError(f"{lexicon.MONTH_NAMES[month_ - 1]} has no {nth(day)} day.")
    elif repeat.byday:
        parts["BYDAY"] = repeat.byday


def _time_rules(parts: dict, times: list[tuple[int, int]]) -> list[dict]:
    if len(times) == 1:
        return [dict(parts)]
    minutes = {m for _, m in times}
    if len(minutes) == 1:
        return [{**parts, "BYHOUR": [h for h, _ in times], "BYMINUTE": [times[0][1]]}]
    return [{**parts, "BYHOUR": [h], "BYMINUTE": [m]} for h, m in times]


def _end(bounds: dict[str, Bound], first: datetime, tz, repeat: Repeat) -> datetime | int | None:
    if "until" in bounds and "for" in bounds or ("count" in bounds and len(bounds.keys() & {"until", "for"})):
        raise PlanError("The text gives two ends for the schedule; keep one.")
    if "count" in bounds:
        if bounds["count"].amount < 1:
            raise PlanError(f'"{bounds["count"].text}" never runs: the count must be at least 1.')
        return bounds["count"].amount
    if "for" in bounds:
        bound = bounds["for"]
        if bound.amount < 1:
            raise PlanError(f'"{bound.text}" never runs: the length must be at least 1.')
        if bound.unit in ("MONTHLY", "YEARLY"):
            end_local = add_months(first, bound.amount * (12 if bound.unit == "YEARLY" else 1))
            return recurrence.place(end_local, tz) - timedelta(seconds=1)
        unit = {"MINUTELY": timedelta(minutes=1), "HOURLY": timedelta(hours=1),
                "DAILY": timedelta(days=1), "WEEKLY": timedelta(weeks=1)}[bound.unit]  # fmt: skip
        if bound.unit in ("MINUTELY", "HOURLY"):
            return recurrence.place(first, tz) + unit * bound.amount - timedelta(seconds=1)
        return recurrence.place(first + unit * bound.amount, tz) - timedelta(seconds=1)
    if "until" in bounds:
        bound = bounds["until"]
        last = resolve(bound.day, first.replace(tzinfo=tz), (0, 0), allow_today=True)
        end = recurrence.place(datetime.combine(last.date(), time(23, 59, 59)), tz)
        if end < recurrence.place(first, tz):
            raise PlanError(f'"{bound.text}" is before the first run; the schedule would never run.')
        return end
    return None


def _once(days: list[Day], relatives: list[Relative], times, tz, now_local: datetime) -> datetime:
    now_utc = now_local.astimezone(UTC)
    if relatives:
        if len(relatives) > 1 or days or times:
            extra = (relatives[1:] and relatives[1].text) or (days and days[0].text) or "the time"
            raise PlanError(f'"{relatives[0].text}" already says when; drop "{extra}".')
        return (now_local + relatives[0].delta).replace(microsecond=0).astimezone(tz)
    if len(times) > 1:
        raise PlanError('A one-off runs once: name one time, or say "every day at …" to repeat it.')
    if len(days) > 1:
        raise PlanError(f'"{days[0].text}" and "{days[1].text}" are two different days; name one.')
    day = days[0] if days else None
    if times:
        clock = times[0]
    elif day is not None and day.time is not None:
        clock = day.time
    elif day is not None and day.keep_clock:
        clock = (now_local.hour, now_local.minute)
    else:
        clock = DEFAULT_TIME
    if day is None:
        local = datetime.combine(now_local.date(), time(*clock))
        if recurrence.place(local, tz) <= now_utc:
            local += timedelta(days=1)
    else:
        local = resolve(day, now_local, clock)
    at = recurrence.place(local, tz)
    if at <= now_utc:
        raise PlanError(f"{at:%A %-d %B %Y at %H:%M} has already passed; say a time in the future.")
    return at


def _span(interval: timedelta) -> str:
    minutes = int(interval.total_seconds() // 60)
    if minutes % 60 == 0:
        hours = minutes // 60
        return "hour" if hours == 1 else f"{hours} hours"
    return "minute" if minutes == 1 else f"{minutes} minutes"


