"""The schedule grammar: find every piece of "when" in a request, wherever it sits.

The scanner walks the tokens left to right and tries, at each one, the matchers below (repeats,
windows, bounds, relative instants, days, times, zones). What a matcher takes becomes part of the
schedule; every token no matcher takes stays in the task. Matchers are anchored on words that
only mean time in that position ("every", "at", "on the 1st of every month", "tuesdays"), so
"may this work" or "once in a while" never become schedules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from bot.workflows import lexicon, zones
from bot.workflows.clock import DAYPARTS, Day, PhraseError, Tokens, day_at, ordinal_text, time_at, times_at

WEEKDAYS = ["MO", "TU", "WE", "TH", "FR"]
WEEKEND = ["SA", "SU"]
_SEPARATORS = (",", "and", "&", "or", "/", "+")
_STARTS = ("starting", "start", "starts", "from", "beginning", "begin", "begins", "effective")
_ENDS = ("until", "till", "til", "through", "thru", "ending", "ends", "end")
_LEADS = frozenset({"on", "at", "in", "from", "starting", "until", "till", "for", "between", "every",
                    "and", "or", "by", "around", "except", "then", "beginning", "through"})
_FREQ_WORDS = {
    "daily": ("DAILY", 1), "weekly": ("WEEKLY", 1), "monthly": ("MONTHLY", 1),
    "yearly": ("YEARLY", 1), "annually": ("YEARLY", 1), "hourly": ("HOURLY", 1),
    "fortnightly": ("WEEKLY", 2), "biweekly": ("WEEKLY", 2), "quarterly": ("MONTHLY", 3),
    "nightly": ("DAILY", 1),
}  # fmt: skip


@dataclass
class Repeat:
    freq: str
    interval: int = 1
    byday: list[str] = field(default_factory=list)
    bymonthday: list[int] = field(default_factory=list)
    bymonth: list[int] = field(default_factory=list)
    bysetpos: list[int] = field(default_factory=list)
    times: list[tuple[int, int]] = field(default_factory=list)  # implied ("every morning")
    needs_times: int = 0  # "twice a day" runs at the times the person names
    text: str = ""
    weak: bool = False  # "daily" before a noun ("the daily report")


@dataclass
class Times:
    values: list[tuple[int, int]]


@dataclass
class Window:
    first: tuple[int, int]
    last: tuple[int, int]


@dataclass
class Bound:
    kind: str  # start, until, for, count
    day: Day | None = None
    amount: int = 0
    unit: str = ""
    text: str = ""


@dataclass
class Relative:
    delta: timedelta
    text: str = ""


@dataclass
class Zone:
    name: str


@dataclass
class Found:
    """What the scanner found: the pieces, and the character spans they covered."""

    pieces: list[tuple[int, int, object]]
    tokens: Tokens


def scan(text: str) -> Found:
    p = Tokens(lexicon.tokenize(text, _slashed_zone), text)
    pieces: list[tuple[int, int, object]] = []
    i = 0
    while i < len(p):
        if not _may_start(p, i):
            i += 1
            continue
        previous = pieces[-1] if pieces and pieces[-1][1] == i else None
        for matcher in _MATCHERS:
            found = matcher(p, i, previous[2] if previous else None)
            if found is not None:
                end, piece = found
                pieces.append((i, end, piece))
                i = end
                break
        else:
            i += 1
    return Found(pieces, p)


def _slashed_zone(name: str) -> bool:
    # "Mars/Olympus" is reported as an unknown zone; "mon/wed/fri" or "and/or" are words.
    return zones.known(name) or (name[:1].isupper() and not all(lexicon.weekday(w.lower()) is not None
                                                                  for w in name.split("/")))


def _repeat(p: Tokens, i: int, previous: object) -> tuple[int, Repeat] | None:
    w = p.w(i)
    start = i
    if w == "on" and (p.w(i + 1) in ("weekdays", "weekends") or _plural_day(p, i + 1)):
        i, w = i + 1, p.w(i + 1)
    if w == "on" and _is_day(p, i + 1):
        found = _day_list(p, i + 1, need_plural=True)
    elif w in ("every", "each", "evry", "eveyr"):
        found = _every(p, i + 1)
    elif w in _FREQ_WORDS:
        freq, interval = _FREQ_WORDS[w]
        repeat = Repeat(freq, interval, times=[DAYPARTS["night"]] if w == "nightly" else [])
        # "the weekly report": an adjective, used only when nothing else says how often
        repeat.weak = p.tok(i + 1) is not None and p.tok(i + 1).kind == "word" and p.w(i + 1) not in _LEADS
        found = _on_clause(p, i + 1, repeat)
    elif w in ("weekdays", "weekends", "workdays", "weeknights"):
        found = i + 1, Repeat("WEEKLY", byday=WEEKEND if w == "weekends" else list(WEEKDAYS),
                              times=[DAYPARTS["night"]] if w == "weeknights" else [])  # fmt: skip
    elif lexicon.weekday(w) is not None and p.tok(i).kind == "word":
        found = _day_list(p, i, need_plural=True)
    elif w in ("twice", "thrice") or (lexicon.count(p.tok(i)) and p.w(i + 1) == "times"):
        found = _times_a(p, i)
    elif (w == "end" or (w == "the" and p.w(i + 1) == "end")) and p.w(i + 1 + (w == "the")) == "of":
        j = i + 2 + (w == "the")
        if p.w(j) not in ("every", "each") or p.w(j + 1) != "month":
            return None
        found = j + 2, Repeat("MONTHLY", bymonthday=[-1])
    elif w in ("the", "on") or w == "last" or lexicon.ordinal(p.tok(i)) is not None:
        k = i + (2 if w == "on" and p.w(i + 1) == "the" else 1 if w in ("the", "on") else 0)
        found = _monthly(p, k, Repeat("MONTHLY"), True)
        if found is not None and found[1].freq == "YEARLY":
            return _one_day_of(p, start, found)  # "on the 3rd of march": once, not every year
    else:
        return None
    if found is None:
        return None
    end, repeat = found
    end = _daypart_after(p, end, repeat)
    repeat.text = p.span(start, end)
    return end, repeat


def _one_day_of(p: Tokens, start: int, found: tuple[int, Repeat]) -> tuple[int, Day] | None:
    end, repeat = found
    end, year = _year(p, end)
    month_ = repeat.bymonth[0]
    if repeat.bymonthday:
        if len(repeat.bymonthday) > 1:
            return None
        day = repeat.bymonthday[0]
        if day > lexicon.MONTH_DAYS[month_ - 1]:
            raise PhraseError(f"{lexicon.MONTH_NAMES[month_ - 1]} has no {ordinal_text(day)} day.")
        return end, Day(month=month_, monthday=day, year=year, text=p.span(start, end))
    if len(repeat.byday) != 1 or repeat.bysetpos:
        return None
    code = repeat.byday[0]
    weekday = lexicon.WEEKDAY_CODES.index(code[-2:])
    return end, Day(month=month_, nth=(int(code[:-2]), weekday), year=year, text=p.span(start, end))


def _year(p: Tokens, j: int) -> tuple[int, int | None]:
    k = j + 1 if p.w(j) == "," else j
    token = p.tok(k)
    if token is not None and token.kind == "num" and not token.suffix and 1900 <= token.value <= 2200:
        return k + 1, token.value
    return j, None


def _every(p: Tokens, i: int) -> tuple[int, Repeat] | None:
    w = p.w(i)
    interval = 1
    if w == "other":
        interval, i, w = 2, i + 1, p.w(i + 1)
    elif w in ("half", "quarter"):
        j = i + 1 + (p.w(i + 1) in ("an", "of")) + (p.w(i + 2) == "an")
        if p.w(j) == "hour":
            return j + 1, Repeat("MINUTELY", 30 if w == "half" else 15)
        return None
    elif (amount := lexicon.count(p.tok(i))) is not None and w not in ("a", "an"):
        if amount == 0:
            raise PhraseError(f'"every {p.span(i, i + 2)}" never runs: the number must be at least 1.')
        if p.w(i + 1) == "and" and p.w(i + 2) == "a" and p.w(i + 3) == "half":
            return None
        interval, i, w = amount, i + 1, p.w(i + 1)
    if w in lexicon.UNITS:
        repeat = Repeat(lexicon.UNITS[w], interval)
        return _on_clause(p, i + 1, repeat)
    if w in ("weekday", "weekdays", "workday", "workdays") or (
        w in ("working", "business", "work") and p.w(i + 1) in ("day", "days")
    ):
        end = i + (2 if w in ("working", "business", "work") else 1)
        if interval > 1:
            raise PhraseError(f'"every {p.span(i - 1, end)}" is ambiguous; name the days, like "every monday, wednesday and friday".')
        return end, Repeat("WEEKLY", interval, byday=list(WEEKDAYS))
    if w in ("weekend", "weekends"):
        end = i + 1 + (p.w(i + 1) in ("day", "days"))
        return end, Repeat("WEEKLY", interval, byday=list(WEEKEND))
    if w in ("morning", "afternoon", "evening", "night", "noon", "midnight", "weeknight"):
        if w == "weeknight":
            return i + 1, Repeat("WEEKLY", interval, byday=list(WEEKDAYS), times=[DAYPARTS["night"]])
        return i + 1, Repeat("DAILY", interval, times=[DAYPARTS[w]])
    if lexicon.weekday(w) is not None and p.tok(i).kind == "word":
        found = _day_list(p, i, need_plural=False)
        if found is not None:
            found[1].interval = interval
            return found
    if (w == "last" or lexicon.ordinal(p.tok(i) or _NO_TOKEN) is not None) and interval == 1:
        return _every_ordinal(p, i)
    if lexicon.month(w) is not None and p.tok(i + 1) and p.tok(i + 1).kind == "num":
        return _yearly_date(p, i, Repeat("YEARLY", interval))
    return None


_NO_TOKEN = lexicon.Token("punct", "", 0, 0, "")


def _every_ordinal(p: Tokens, i: int) -> tuple[int, Repeat] | None:
    """After "every": "4th and 10th of the month", "first monday of the month", "2nd tuesday"."""
    found = _monthly(p, i, Repeat("MONTHLY"), need_of=False)
    if found is not None and (found[1].bymonthday or found[1].byday):
        end, repeat = found
        ordinals = repeat.bysetpos or [int(d[:-2]) for d in repeat.byday if d[:-2]]
        if not _followed_by_month(p, i, end) and repeat.byday and len(ordinals) == 1 and ordinals[0] > 1:
            # "every second tuesday" (no "of the month") is every other tuesday
            days = [d[-2:] for d in repeat.byday]
            if repeat.bysetpos:
                raise PhraseError(f'"every {p.span(i, end)}" is ambiguous; name the days, like "every monday and thursday".')
            return end, Repeat("WEEKLY", ordinals[0], byday=days)
        return found
    # "every 3rd of march"
    return _yearly_date(p, i, Repeat("YEARLY"))


def _followed_by_month(p: Tokens, start: int, end: int) -> bool:
    return any(p.w(k) in ("month", "months") for k in range(start, end))


def _on_clause(p: Tokens, i: int, repeat: Repeat) -> tuple[int, Repeat]:
    """What may follow "every week" / "monthly" / "every year": on which days."""
    j = i + 1 if p.w(i) in ("on", "in") else i
    if repeat.freq == "WEEKLY" and lexicon.weekday(p.w(j)) is not None:
        found = _day_list(p, j, need_plural=False)
        if found is not None:
            repeat.byday = found[1].byday
            return found[0], repeat
    if repeat.freq == "MONTHLY":
        k = j + 1 if p.w(j) == "the" else j
        found = _monthly(p, k, repeat, need_of=False)
        if found is not None:
            return found
    if repeat.freq == "YEARLY":
        found = _yearly_date(p, j, repeat)
        if found is not None:
            return found
        k = j + 1 if p.w(j) == "the" else j
        found = _monthly(p, k, Repeat("MONTHLY", repeat.interval), need_of=True)
        if found is not None and found[1].freq == "YEARLY":
            return found
    return i, repeat


def _monthly(p: Tokens, i: int, repeat: Repeat, need_of: bool) -> tuple[int, Repeat] | None:
    """ "1st and 15th", "last day", "first monday", "last weekday" [of the/every month]."""
    i = i + 1 if p.w(i) == "the" else i
    ordinals: list[int] = []
    j = i
    while True:
        value = -1 if p.w(j) == "last" else lexicon.ordinal(p.tok(j) or _NO_TOKEN)
        if value is None:
            break
        if p.w(j + 1) == "to" and p.w(j + 2) == "last" and value > 0:
            value, j = -value, j + 2
        ordinals.append(value)
        j += 1
        if p.w(j) in (",", "and", "&") and (
            p.w(j + 1) == "last" or lexicon.ordinal(p.tok(j + 1) or _NO_TOKEN) is not None
        ):
            j += 1
            continue
        break
    if not ordinals:
        return None
    day_words = p.w(j)
    if day_words in ("day", "days"):
        repeat.bymonthday, j = ordinals, j + 1
    elif day_words in ("weekday", "business", "working", "workday"):
        repeat.byday, repeat.bysetpos = list(WEEKDAYS), ordinals
        j += 2 if day_words in ("business", "working") and p.w(j + 1) == "day" else 1
    elif lexicon.weekday(day_words) is not None and p.tok(j).kind == "word":
        code = lexicon.WEEKDAY_CODES[lexicon.weekday(day_words)]
        repeat.byday, j = [f"{n}{code}" for n in ordinals], j + 1
    else:
        if -1 in ordinals:
            return None
        repeat.bymonthday = ordinals
    of = _of_month(p, j)
    if of is None and need_of:
        return None
    for value in repeat.bymonthday:
        if not 1 <= abs(value) <= 31:
            raise PhraseError(f"A month has no {ordinal_text(value)} day: days of the month go from 1 to 31.")
    for value in ordinals:
        if repeat.byday and not 1 <= abs(value) <= 5:
            raise PhraseError(f"A month has at most five of each weekday, not {value}.")
    if of is not None and of[1] is not None:  # "first monday of september": every year
        repeat.freq, repeat.bymonth = "YEARLY", [of[1]]
    return (of[0] if of else j), repeat


def _of_month(p: Tokens, j: int) -> tuple[int, int | None] | None:
    if p.w(j) not in ("of", "in"):
        return None
    k = j + 1
    if p.w(k) in ("the", "every", "each", "a"):
        k += 1
    if p.w(k) in ("month", "months"):
        return k + 1, None
    month_ = lexicon.month(p.w(k)) if p.tok(k) and p.tok(k).kind == "word" else None
    if month_ is not None and p.w(k) != "may":
        return k + 1, month_
    return None


def _yearly_date(p: Tokens, i: int, repeat: Repeat) -> tuple[int, Repeat] | None:
    from bot.workflows.clock import date_at

    found = date_at(p, i)
    if found is None or found[1].month is None or found[1].year is not None:
        return None
    end, day = found
    repeat.freq, repeat.bymonth, repeat.bymonthday = "YEARLY", [day.month], [day.monthday]
    return end, repeat


def _plural_day(p: Tokens, i: int) -> bool:
    token = p.tok(i)
    return token is not None and token.kind == "word" and lexicon.weekday_plural(token.text)


def _day_list(p: Tokens, i: int, need_plural: bool) -> tuple[int, Repeat] | None:
    """ "tuesdays and thursdays", "mon, wed and fri", "monday": weekly on those days."""
    days: list[int] = []
    plural = False
    j = i
    while True:
        token = p.tok(j)
        if token is None or token.kind != "word" or lexicon.weekday(token.text) is None:
            break
        days.append(lexicon.weekday(token.text))
        plural = plural or lexicon.weekday_plural(token.text)
        j += 1
        if p.w(j) in ("to", "through", "thru", "-", "–") and _is_day(p, j + 1):
            last = lexicon.weekday(p.w(j + 1))
            days.extend(range(days[-1], last + 1) if last >= days[-1] else [*range(days[-1], 7), *range(last + 1)])
            plural, j = True, j + 2
            if p.w(j) in _SEPARATORS and _is_day(p, j + 1):
                j += 1
                continue
            break
        k = j
        while p.w(k) in _SEPARATORS and k < j + 3:  # ", and", "and/or"
            k += 1
        if k > j and _is_day(p, k):
            j = k
        else:
            break
    if not days or (need_plural and not plural and len(days) < 2):
        return None
    ordered = sorted(set(days))
    return j, Repeat("WEEKLY", byday=[lexicon.WEEKDAY_CODES[d] for d in ordered])


def _is_day(p: Tokens, i: int) -> bool:
    token = p.tok(i)
    return token is not None and token.kind == "word" and lexicon.weekday(token.text) is not None


def _daypart_after(p: Tokens, end: int, repeat: Repeat) -> int:
    if p.w(end) in ("morning", "afternoon", "evening", "night") and not repeat.times:
        repeat.times = [DAYPARTS[p.w(end)]]
        return end + 1
    return end


def _times_a(p: Tokens, i: int) -> tuple[int, Repeat] | None:
    """ "twice a day", "3 times a week": how often, the times named elsewhere."""
    n = 2 if p.w(i) == "twice" else 3 if p.w(i) == "thrice" else lexicon.count(p.tok(i))
    j = i + 1 if p.w(i) in ("twice", "thrice") else i + 2
    if p.w(j) in ("a", "per", "every", "each") and p.w(j + 1) == "day":
        return j + 2, Repeat("DAILY", needs_times=n or 0)
    if p.w(j) in ("a", "per", "every", "each") and p.w(j + 1) in ("week", "month", "year"):
        raise PhraseError(
            f'"{p.span(i, j + 2)}" does not say on which days: name them, e.g. "every monday and thursday".'
        )
    return None


def _window(p: Tokens, i: int, previous: object) -> tuple[int, Window] | None:
    """ "from 9 to 5", "between 9am and 5pm": the hours an hourly schedule runs within."""
    if p.w(i) not in ("from", "between"):
        return None
    first = time_at(p, i + 1, True)
    if first is None:
        return None
    j = first[0]
    if p.w(j) not in ("to", "until", "till", "-", "–", "and"):
        return None
    last = time_at(p, j + 1, True)
    if last is None:
        return None
    return last[0], Window(first[1], last[1])


def _bound(p: Tokens, i: int, previous: object) -> tuple[int, Bound] | None:
    w = p.w(i)
    if w in _STARTS or (w == "as" and p.w(i + 1) == "of"):
        j = i + (2 if w == "as" else 1)
        if p.w(j) in ("on", "from") or (p.w(j) == "at" and p.w(i) != "from"):
            if p.w(j) == "at":
                return None  # "starting at 9" is a time
            j += 1
        if p.w(j) == "now" or (p.w(j) == "today" and False):
            return j + 1, Bound("start", Day(offset_days=0), text=p.span(i, j + 1))
        found = day_at(p, j)
        if found is None:
            return None
        return found[0], Bound("start", found[1], text=p.span(i, found[0]))
    if w in _ENDS:
        j = i + 1
        if w == "end" and p.w(j) not in ("on", "by"):
            return None
        if p.w(j) in ("on", "by"):
            j += 1
        if p.w(j) == "further" and p.w(j + 1) == "notice":
            return j + 2, Bound("forever", text=p.span(i, j + 2))
        found = day_at(p, j)
        if found is None:
            if previous is not None and w != "end" and p.tok(j) is not None:
                # right after a schedule, "until <something>" is meant as its end
                raise PhraseError(
                    f'"{p.span(i, min(j + 3, len(p)))}" is not a date Atom can read; '
                    'name one, like "until december 15".'
                )
            return None
        return found[0], Bound("until", found[1], text=p.span(i, found[0]))
    if w == "for":
        j = i + 1
        if p.w(j) in ("the", "next") and p.w(j + 1) in ("next", "coming"):
            j += 2
        elif p.w(j) in ("the", "next"):
            j += 1
        amount = lexicon.count(p.tok(j)) if p.tok(j) else None
        if amount is None:
            return None
        unit = lexicon.UNITS.get(p.w(j + 1))
        if unit is not None and p.w(j + 1) not in ("m", "d", "w", "h"):
            return j + 2, Bound("for", amount=amount, unit=unit, text=p.span(i, j + 2))
        if p.w(j + 1) in ("times", "runs", "occurrences"):
            return j + 2, Bound("count", amount=amount, text=p.span(i, j + 2))
        return None
    amount = lexicon.count(p.tok(i)) if p.tok(i) else None
    if amount is not None and w not in ("a", "an") and p.w(i + 1) in ("times", "x") and p.w(i + 2) not in (
        "a",
        "per",
        "every",
        "each",
    ):
        if previous is not None:
            return i + 2, Bound("count", amount=amount, text=p.span(i, i + 2))
    return None


def _except(p: Tokens, i: int, previous: object) -> None:
    """ "every weekday except friday": not understood, and never silently ignored."""
    if p.w(i) in ("except", "excluding", "but") and previous is not None and p.w(i + 1) != "when":
        if p.w(i) == "but" and p.w(i + 1) != "not":
            return None
        raise PhraseError(
            f'Atom cannot leave days out ("{p.span(i, min(i + 3, len(p)))}"); name the days to run, '
            'like "every monday to thursday".'
        )
    return None


def _relative(p: Tokens, i: int, previous: object) -> tuple[int, Relative] | None:
    """ "in 30 minutes", "in 2 hours", "in half an hour", "in an hour"."""
    if p.w(i) not in ("in", "within"):
        return None
    j = i + 1
    if p.w(j) == "half" and p.w(j + 1) in ("an", "a") and p.w(j + 2) == "hour":
        return j + 3, Relative(timedelta(minutes=30), p.span(i, j + 3))
    amount = lexicon.count(p.tok(j)) if p.tok(j) else None
    token = p.tok(j)
    if amount is None and token is not None and token.kind == "num" and token.suffix in lexicon.UNITS:
        unit, end = lexicon.UNITS[token.suffix], j + 1  # "in 30min", "in 2h"
        amount = token.value
    elif amount is not None:
        unit, end = lexicon.UNITS.get(p.w(j + 1)), j + 2
    else:
        return None
    if unit == "MINUTELY":
        delta = timedelta(minutes=amount)
    elif unit == "HOURLY":
        delta = timedelta(hours=amount)
        if p.w(end) == "and" and p.w(end + 1) in ("a", "one") and p.w(end + 2) == "half":
            delta, end = delta + timedelta(minutes=30), end + 3
    else:
        return None
    if amount == 0:
        raise PhraseError(f'"{p.span(i, end)}" is now, not a time to run later.')
    return end, Relative(delta, p.span(i, end))


def _day(p: Tokens, i: int, previous: object) -> tuple[int, Day] | None:
    return day_at(p, i)


def _times(p: Tokens, i: int, previous: object) -> tuple[int, Times] | None:
    found = times_at(p, i)
    if found is None:
        return None
    return found[0], Times(found[1])


def _zone(p: Tokens, i: int, previous: object) -> tuple[int, Zone] | None:
    """ "Europe/Berlin", "Berlin time", "PST" (right after a time), "(UTC)"."""
    token = p.tok(i)
    j = i + 1 if p.w(i) == "in" else i
    token = p.tok(j)
    if token is None:
        return None
    if token.kind == "zone":
        try:
            return j + 1, Zone(zones.canonical(token.raw))
        except zones.UnknownZone:
            if "/" in token.raw and token.raw[0].isupper():
                raise PhraseError(f'"{token.raw}" is not a time zone Atom knows.') from None
            return None
    if token.kind != "word":
        return None
    after_time = isinstance(previous, Times | Repeat | Day)
    for size in (2, 1):
        if p.w(j + size) == "time" and all(p.tok(k) and p.tok(k).kind == "word" for k in range(j, j + size)):
            name = zones.city(" ".join(p.w(k) for k in range(j, j + size)))
            if name is not None:
                return j + size + 1, Zone(name)
    if token.text in zones.ABBREVIATIONS and (
        (after_time and i == j) or token.raw.isupper() and len(token.raw) >= 3
    ):
        end = j + 1 + (p.w(j + 1) == "time")
        return end, Zone(zones.ABBREVIATIONS[token.text])
    if after_time and i == j and p.w(i + 1) == "time" and token.raw[:1].isupper():
        raise PhraseError(f'"{token.raw} time" is not a time zone Atom knows: name a city or an IANA zone.')
    return None


_MATCHERS = (_zone, _repeat, _window, _bound, _except, _relative, _day, _times)
# Every word a matcher can start on; other words are task text and are skipped at once.
_TRIGGERS = frozenset(
    {"in", "on", "every", "each", "evry", "eveyr", "weekdays", "weekends", "workdays", "weeknights",
     "twice", "thrice", "the", "last", "from", "between", "as", "for", "within", "today", "tomorrow",
     "tmrw", "tmr", "tomorow", "tommorow", "tommorrow", "tonight", "day", "this", "next", "coming",
     "by", "at", "around", "@", "except", "excluding", "but", "noon", "midday", "midnight", "lunchtime", "eod", "end", "half", "yesterday",
     "quarter"}
    | set(_STARTS) | set(_ENDS) | set(_FREQ_WORDS) | set(zones.ABBREVIATIONS) | set(lexicon.NUMBER_WORDS)
    | set(lexicon.ORDINAL_WORDS)
)


def _may_start(p: Tokens, i: int) -> bool:
    token = p.items[i]
    if token.kind != "word":
        return token.kind != "punct"
    text = token.text
    return (
        text in _TRIGGERS
        or p.w(i + 1) == "time"
        or p.w(i + 2) == "time"
        or lexicon.weekday(text) is not None
        or lexicon.month(text) is not None
    )
