"""How often: the grammar's matchers for repeats ("every other tuesday", "weekdays", "on the 1st
and 15th of every month", "the last friday of the month", "every year on march 3rd").

`repeat` is tried at every token that may start a piece of "when"; it returns a `Repeat`, or for
"on the 3rd of march" (no "every") a single `Day`. Ordinals read two ways: "every second tuesday"
is every other Tuesday, "every second tuesday of the month" is the month's second Tuesday.
"""

from __future__ import annotations

from bot.workflows import lexicon
from bot.workflows.clock import (
    DAYPARTS,
    MAX_YEARS_AHEAD,
    Day,
    PhraseError,
    Tokens,
    date_at,
    ordinal_text,
    too_far,
)
from bot.workflows.pieces import WEEKDAYS, WEEKEND, Repeat

SEPARATORS = (",", "and", "&", "or", "/", "+")
_LEADS = frozenset({"on", "at", "in", "from", "starting", "until", "till", "for", "between", "every",
                    "and", "or", "by", "around", "except", "then", "beginning", "through"})
FREQ_WORDS = {
    "daily": ("DAILY", 1), "weekly": ("WEEKLY", 1), "monthly": ("MONTHLY", 1),
    "yearly": ("YEARLY", 1), "annually": ("YEARLY", 1), "hourly": ("HOURLY", 1),
    "fortnightly": ("WEEKLY", 2), "biweekly": ("WEEKLY", 2), "quarterly": ("MONTHLY", 3),
    "nightly": ("DAILY", 1),
}  # fmt: skip


def repeat_at(p: Tokens, i: int, previous: object) -> tuple[int, Repeat] | None:
    w = p.w(i)
    start = i
    if w == "on" and (p.w(i + 1) in ("weekdays", "weekends") or _plural_day(p, i + 1)):
        i, w = i + 1, p.w(i + 1)
    if w == "on" and is_day(p, i + 1):
        found = _day_list(p, i + 1, need_plural=True)
    elif w in ("every", "each", "evry", "eveyr"):
        found = _every(p, i + 1)
    elif w in FREQ_WORDS:
        freq, interval = FREQ_WORDS[w]
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
    if w in ("-", "minus") and lexicon.count(p.tok(i + 1)) is not None:
        raise PhraseError(f'"every {p.span(i, i + 3)}" has a negative number: the number must be at least 1.')
    if _seconds(p, i):  # always below the floor, which the plan names (it is configurable)
        return i + 1 + (w != "second"), Repeat("SECONDLY", 1 if w == "second" else lexicon.count(p.tok(i)))
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
        if interval > 1 and too_far(interval, lexicon.UNITS[w], p.tok(i - 1).raw):
            raise PhraseError(
                f'"every {p.span(i - 1, i + 1)}" is too long an interval: a schedule repeats at least once every {MAX_YEARS_AHEAD} years.'
            )
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
_SECONDS = ("seconds", "secs", "sec", "s")
# After "every second", these make "second" an ordinal ("every second tuesday", "every second and
# fourth friday", "every second of the month"); anything else reads it as the unit, as /remind does.
_ORDINAL_NEXT = {"and", "&", "or", ",", "of", "last", "to", "weekday", "weekdays", "weekend", "weekends"}


def _seconds(p: Tokens, i: int) -> bool:
    """"every second" (alone, or before a time: "every second at 9"), "every 30 seconds"."""
    w = p.w(i)
    if w == "second":
        following = p.tok(i + 1)
        if following is None:
            return True
        nxt = following.text
        if nxt == "to":
            return p.w(i + 2) != "last"  # "every second to last friday" is an ordinal
        return not (
            nxt in _ORDINAL_NEXT or nxt in lexicon.UNITS or lexicon.weekday(nxt) is not None
            or lexicon.month(nxt) is not None or lexicon.ordinal(following) is not None
        )
    return lexicon.count(p.tok(i)) is not None and p.w(i + 1) in _SECONDS[:3] + ("second",)


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
        if p.w(j) in ("to", "through", "thru", "-", "–") and is_day(p, j + 1):
            last = lexicon.weekday(p.w(j + 1))
            days.extend(range(days[-1], last + 1) if last >= days[-1] else [*range(days[-1], 7), *range(last + 1)])
            plural, j = True, j + 2
            if p.w(j) in SEPARATORS and is_day(p, j + 1):
                j += 1
                continue
            break
        k = j
        while p.w(k) in SEPARATORS and k < j + 3:  # ", and", "and/or"
            k += 1
        if k > j and is_day(p, k):
            j = k
        else:
            break
    if not days or (need_plural and not plural and len(days) < 2):
        return None
    ordered = sorted(set(days))
    return j, Repeat("WEEKLY", byday=[lexicon.WEEKDAY_CODES[d] for d in ordered])


def is_day(p: Tokens, i: int) -> bool:
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

