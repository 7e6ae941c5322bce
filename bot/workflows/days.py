"""Single days resolved against "now": which date "friday", "the 15th", "the end of january" or
"the first monday of september" is, the first one still ahead (or today, where it may be)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from bot.workflows import lexicon
from bot.workflows.clock import Day, PhraseError


def resolve(day: Day, now_local: datetime, clock: tuple[int, int], allow_today: bool = False) -> datetime:
    """The local date and time a single day names, the first one still ahead of `now_local`."""
    today = now_local.date()
    naive_now = now_local.replace(tzinfo=None)

    def at(d: date) -> datetime:
        return datetime.combine(d, time(*clock))

    def ahead(d: date) -> bool:
        return allow_today and d >= today or at(d) > naive_now

    if day.weekday is not None:
        delta = (day.weekday - today.weekday()) % 7
        if delta == 0 and (day.strictly_next or not ahead(today)):
            delta = 7
        return at(today + timedelta(days=delta))
    if day.last_of_month and day.month is None:
        target = add_months(datetime.combine(today.replace(day=1), time()), day.offset_months).date()
        return at(target.replace(day=days_in(target.year, target.month)))
    if day.offset_months:
        target = add_months(datetime.combine(today, time()), day.offset_months).date()
        if day.monthday:
            target = target.replace(day=day.monthday)
        return at(target)
    if day.offset_days is not None:
        return at(today + timedelta(days=day.offset_days))
    if day.month is not None:
        year = day.year or today.year
        for candidate in range(year, year + 9 if day.year is None else year + 1):
            try:
                monthday = days_in(candidate, day.month) if day.last_of_month else day.monthday
                if day.nth is not None:
                    monthday = nth_weekday(candidate, day.month, *day.nth)
                d = date(candidate, day.month, monthday)
            except (ValueError, IndexError):
                continue
            if day.year is not None or ahead(d):
                return at(d)
        raise PhraseError(f"{lexicon.MONTH_NAMES[day.month - 1]} {day.monthday} does not come again soon.")
    year, month_ = today.year, today.month
    for _ in range(14):  # "on the 31st": the next month that has one
        try:
            d = date(year, month_, day.monthday)
            if ahead(d):
                return at(d)
        except ValueError:
            pass
        year, month_ = (year + 1, 1) if month_ == 12 else (year, month_ + 1)
    raise PhraseError(f"No month has a {nth(day.monthday)} day.")


def add_months(moment: datetime, months: int) -> datetime:
    index = moment.month - 1 + months
    year, month_ = moment.year + index // 12, index % 12 + 1
    days = lexicon.MONTH_DAYS[month_ - 1] if month_ != 2 or _leap(year) else 28
    return moment.replace(year=year, month=month_, day=min(moment.day, days))


def nth_weekday(year: int, month_: int, n: int, weekday: int) -> int:
    """The day of the month of the n-th (or, for -1, last) such weekday; ValueError if none."""
    days = [d for d in range(1, days_in(year, month_) + 1) if date(year, month_, d).weekday() == weekday]
    return days[n - 1 if n > 0 else n]


def days_in(year: int, month_: int) -> int:
    return 28 if month_ == 2 and not _leap(year) else lexicon.MONTH_DAYS[month_ - 1]


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def nth(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


