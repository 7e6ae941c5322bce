"""Times of day ("3pm", "9:30", "noon", "at 9 and 17") and single days ("tomorrow", "next friday",
"march 3rd", "in 2 days") as the grammar finds them in a list of tokens.

Defaults, chosen the way Slack's /remind reads them: a bare hour from 1 to 6 with no am/pm and no
leading zero ("at 3", "3:30") is in the afternoon; write "3am" or "03:00" for the night. Parts of
the day are fixed times: morning 09:00, afternoon 14:00, evening 18:00, night/tonight 20:00.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.workflows import lexicon
from bot.workflows.lexicon import Token

DAYPARTS = {"morning": (9, 0), "afternoon": (14, 0), "evening": (18, 0), "night": (20, 0),
            "tonight": (20, 0), "noon": (12, 0), "midday": (12, 0), "midnight": (0, 0),
            "lunchtime": (12, 0), "eod": (17, 0)}  # fmt: skip
_HOUR_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
               "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}  # fmt: skip


class PhraseError(ValueError):
    """Text that looks like a time or date but cannot be one; the message names the problem."""


# How far ahead a phrase may reach ("in 200 years", "every 500 years"): past this it is a typo or
# a probe, not a plan, and the calendar arithmetic behind it would overflow long before year 9999.
MAX_YEARS_AHEAD = 100
UNIT_DAYS = {"YEARLY": 366, "MONTHLY": 31, "WEEKLY": 7, "DAILY": 1, "HOURLY": 1 / 24, "MINUTELY": 1 / 1440}


def too_far(amount: int, unit: str, raw: str) -> bool:
    """Whether `amount` `unit`s reach past MAX_YEARS_AHEAD; `raw` is the number as typed (a token
    keeps only its first 9 digits, so a longer number is always too far)."""
    digits = sum(c.isdigit() for c in raw)
    return digits > 9 or amount * UNIT_DAYS[unit] > MAX_YEARS_AHEAD * 366


@dataclass
class Day:
    """A single day named in the phrase, resolved against "now" by the schedule builder."""

    offset_days: int | None = None  # today 0, tomorrow 1, "in 3 days" 3
    offset_months: int = 0  # "in 2 months", "next month"
    weekday: int | None = None
    strictly_next: bool = False  # "next friday": never today
    month: int | None = None
    monthday: int | None = None
    year: int | None = None
    time: tuple[int, int] | None = None  # "tonight", "tomorrow morning"
    keep_clock: bool = False  # "in 2 days" without a time: the same time as now
    last_of_month: bool = False  # "the end of january", "the end of the month"
    nth: tuple[int, int] | None = None  # "the first monday of september": (1, 0)
    text: str = ""


class Tokens:
    """The token list with the small look-ups every matcher needs."""

    def __init__(self, tokens: list[Token], text: str):
        self.items = tokens
        self.text = text

    def __len__(self) -> int:
        return len(self.items)

    def w(self, i: int) -> str:
        """The token's lower-case text (words and punctuation), "" past the end."""
        return self.items[i].text if 0 <= i < len(self.items) else ""

    def tok(self, i: int) -> Token | None:
        return self.items[i] if 0 <= i < len(self.items) else None

    def span(self, i: int, j: int) -> str:
        return self.text[self.items[i].start : self.items[j - 1].end] if j > i else ""


def time_at(p: Tokens, i: int, loose: bool) -> tuple[int, tuple[int, int]] | None:
    """One time of day at token i. `loose` (after "at") also reads a bare "9" or "nine" as 9:00."""
    token = p.tok(i)
    if token is None:
        return None
    word = token.text
    if token.kind == "clock":
        hour, minute = (int(part) for part in word.split(":"))
        meridiem, end = token.suffix, i + 1
        if not meridiem and p.w(i + 1) in ("am", "pm"):
            meridiem, end = p.w(i + 1), i + 2
        return end, _checked(token.raw.strip(), hour, minute, meridiem, word.startswith("0"))
    if token.kind == "num" and token.suffix in ("am", "pm", "a", "p"):
        return i + 1, _checked(token.raw, token.value, 0, token.suffix[0] + "m", False)
    if token.kind == "num" and not token.suffix:
        if p.w(i + 1) in ("am", "pm"):
            return i + 2, _checked(p.span(i, i + 2), token.value, 0, p.w(i + 1), False)
        if p.w(i + 1) in ("o'clock", "oclock"):
            return i + 2, _checked(p.span(i, i + 2), token.value, 0, "", token.raw.startswith("0"))
        if loose and p.w(i + 1) not in lexicon.UNITS and p.w(i + 1) not in ("times", "x"):
            if len(token.raw) in (3, 4):  # "1530"
                return i + 1, _checked(token.raw, token.value // 100, token.value % 100, "", True)
            return i + 1, _checked(token.raw, token.value, 0, "", token.raw.startswith("0"))
        return None
    if token.kind != "word":
        return None
    if word in ("noon", "midday", "midnight", "lunchtime", "eod"):
        return i + 1, DAYPARTS[word]
    if word == "end" and p.w(i + 1) == "of" and p.w(i + 2) in ("day", "the") and p.w(i + 3) in ("day", ""):
        return (i + 4 if p.w(i + 2) == "the" else i + 3), (17, 0)
    if word in ("half", "quarter") and p.w(i + 1) in ("past", "after", "to"):
        found = time_at(p, i + 2, True)
        if found is None:
            return None
        end, (hour, minute) = found
        if minute:
            return None
        shift = 30 if word == "half" else 15
        total = hour * 60 + (-shift if p.w(i + 1) == "to" else shift)
        return end, divmod(total % (24 * 60), 60)
    if word in _HOUR_WORDS and (loose or p.w(i + 1) in ("am", "pm", "o'clock", "oclock")):
        meridiem, end = "", i + 1
        if p.w(i + 1) in ("am", "pm", "o'clock", "oclock"):
            meridiem, end = p.w(i + 1).replace("oclock", "").replace("o'clock", ""), i + 2
        minute = 30 if p.w(end) == "thirty" else 0
        return end + (1 if minute else 0), _checked(word, _HOUR_WORDS[word], minute, meridiem, False)
    return None


def _checked(raw: str, hour: int, minute: int, meridiem: str, leading_zero: bool) -> tuple[int, int]:
    if minute > 59:
        raise PhraseError(f'"{raw}" is not a time of day: minutes go from 00 to 59.')
    if meridiem:
        if not 1 <= hour <= 12 and not (hour == 0 and meridiem == "am"):
            raise PhraseError(f'"{raw}" is not a time of day: with am or pm the hour goes from 1 to 12.')
        return (hour % 12 + (12 if meridiem == "pm" else 0), minute)
    if hour > 23:
        raise PhraseError(f'"{raw}" is not a time of day: hours go from 0 to 23.')
    if 1 <= hour <= 6 and not leading_zero:
        return (hour + 12, minute)  # "at 3" means 3pm, as in Slack's /remind
    return (hour, minute)


def times_at(p: Tokens, i: int) -> tuple[int, list[tuple[int, int]]] | None:
    """ "at 9", "at 9am and 5pm", "3:30", "noon", "in the morning": the times of day, in order."""
    start, loose = i, False
    if p.w(i) in ("at", "around", "by", "@"):
        i, loose = i + 1, True
    if p.w(i) in ("in", "this") and p.w(i + 1) == "the" and p.w(i + 2) in DAYPARTS:
        return i + 3, [DAYPARTS[p.w(i + 2)]]
    if p.w(i) == "the" and p.w(i + 1) in ("morning", "afternoon", "evening") and loose:
        return i + 2, [DAYPARTS[p.w(i + 1)]]
    found = time_at(p, i, loose)
    if found is None:
        return None
    end, first = found
    values = [first]
    while p.w(end) in ("and", ",", "&"):
        j = end + 1
        if p.w(j) == "at":
            j += 1
        following = time_at(p, j, loose)
        if following is None:
            break
        end, value = following
        values.append(value)
    del start
    return end, values


def day_at(p: Tokens, i: int) -> tuple[int, Day] | None:
    """One single day at token i ("on friday", "tomorrow", "dec 25th 2026", "in 3 days")."""
    w = p.w(i)
    start = i
    if w == "today":
        return i + 1, Day(offset_days=0, text=w)
    if w in ("tomorrow", "tmrw", "tmr", "tomorow", "tommorow", "tommorrow"):
        if p.w(i + 1) in ("morning", "afternoon", "evening", "night"):
            return i + 2, Day(offset_days=1, time=DAYPARTS[p.w(i + 1)], text=p.span(i, i + 2))
        return i + 1, Day(offset_days=1, text=w)
    if w == "tonight":
        return i + 1, Day(offset_days=0, time=DAYPARTS["tonight"], text=w)
    if w == "day" and p.w(i + 1) == "after" and p.w(i + 2) in ("tomorrow", "tmrw"):
        return i + 3, Day(offset_days=2, text="the day after tomorrow")
    if w == "the" and p.w(i + 1) == "day" and p.w(i + 2) == "after" and p.w(i + 3) == "tomorrow":
        return i + 4, Day(offset_days=2, text="the day after tomorrow")
    if w == "yesterday":
        return i + 1, Day(offset_days=-1, text=w)
    if w == "in" or (w == "within" and p.w(i + 1) != "the"):
        return _in_days(p, i)
    if w == "end" or (w == "the" and p.w(i + 1) == "end"):
        return _end_of(p, i + (w == "the"), start)
    prefix = ""
    if w in ("on", "this", "next", "coming", "by"):
        prefix, i = w, i + 1
        if w == "this" and p.w(i) == "coming":
            i += 1
        if w == "next" and p.w(i) in ("week", "month"):
            unit = p.w(i)
            day = Day(offset_days=None, weekday=0, strictly_next=True, text="next week")
            if unit == "month":
                day = Day(offset_months=1, monthday=1, text="next month")
            return i + 1, day
    token = p.tok(i)
    if token is None:
        return None
    w = token.text
    if token.kind == "word":
        day_index = lexicon.weekday(w)
        if day_index is not None and not lexicon.weekday_plural(w):
            # Abbreviations like "sat" or "sun" are ordinary words too: only after "on"/"next".
            if len(w) <= 4 and w not in ("tues", "thur") and not prefix:
                return None
            end = i + 1
            day = Day(weekday=day_index, strictly_next=prefix == "next", text=p.span(start, end))
            if p.w(end) in ("morning", "afternoon", "evening", "night"):
                day.time, end = DAYPARTS[p.w(end)], end + 1
            return end, day
    found = date_at(p, i)
    if found is None:
        return None
    end, day = found
    day.text = p.span(start, end)
    return end, day


def _end_of(p: Tokens, i: int, start: int) -> tuple[int, Day] | None:
    """ "the end of the month", "end of next month", "the end of january", "end of the year"."""
    if p.w(i + 1) != "of":
        return None
    j = i + 2
    which = p.w(j)
    if which in ("the", "this", "next") and p.w(j + 1) in ("month", "year"):
        unit, end = p.w(j + 1), j + 2
        if unit == "year":
            return end, Day(month=12, monthday=31, year=None, text=p.span(start, end))
        return end, Day(offset_months=1 if which == "next" else 0, last_of_month=True, text=p.span(start, end))
    if which in ("month", "year"):
        if which == "year":
            return j + 1, Day(month=12, monthday=31, text=p.span(start, j + 1))
        return j + 1, Day(last_of_month=True, text=p.span(start, j + 1))
    token = p.tok(j)
    month_ = lexicon.month(which) if token is not None and token.kind == "word" else None
    if month_ is None:
        return None
    end, year = _year_after(p, j + 1)
    return end, Day(month=month_, monthday=0, year=year, last_of_month=True, text=p.span(start, end))


def _in_days(p: Tokens, i: int) -> tuple[int, Day] | None:
    amount = lexicon.count(p.tok(i + 1)) if p.tok(i + 1) else None
    j = i + 2
    if amount is None and p.w(i + 1) in ("half", "a") and p.w(i + 2) in ("an", "a") and p.w(i + 3) == "hour":
        return None  # "in half an hour" is an instant, read by the grammar's relative-time matcher
    if amount is None:
        return None
    unit = lexicon.UNITS.get(p.w(j))
    if unit not in ("DAILY", "WEEKLY", "MONTHLY", "YEARLY"):
        return None
    end = j + 1 + (1 if p.w(j + 1) in ("time", "'s") else 0)
    text = p.span(i, end)
    if too_far(amount, unit, p.tok(i + 1).raw):
        raise PhraseError(f'"{text}" is too far in the future: a schedule looks at most {MAX_YEARS_AHEAD} years ahead.')
    if unit == "MONTHLY" or unit == "YEARLY":
        return end, Day(offset_months=amount * (12 if unit == "YEARLY" else 1), keep_clock=True, text=text)
    return end, Day(offset_days=amount * (7 if unit == "WEEKLY" else 1), keep_clock=True, text=text)


def date_at(p: Tokens, i: int) -> tuple[int, Day] | None:
    """A calendar date: "march 3rd", "3 march", "the 3rd of march 2027", "2026-12-25", "on the 15th"."""
    token = p.tok(i)
    if token is None:
        return None
    if token.kind == "iso":
        year, month_, day = (int(part) for part in token.text.split("-"))
        return i + 1, _date(token.raw, year, month_, day)
    if token.kind == "slash":
        return i + 1, _slash_date(token.raw)
    the = 1 if token.text == "the" else 0
    month_ = lexicon.month(token.text) if token.kind == "word" else None
    if month_ is not None and (token.text != "may" or _is_day_number(p.tok(i + 1))):
        number = p.tok(i + 1)
        if number is None or not _is_day_number(number):
            return None
        end, year = _year_after(p, i + 2)
        return end, _date(p.span(i, end), year, month_, number.value)
    number = p.tok(i + the)
    if number is None or not _is_day_number(number) or (not the and number.kind == "word"):
        return None
    j = i + the + 1
    if p.w(j) == "of":
        j += 1
    month_token = p.tok(j)
    month_ = lexicon.month(month_token.text) if month_token and month_token.kind == "word" else None
    if month_ is not None:
        end, year = _year_after(p, j + 1)
        return end, _date(p.span(i, end), year, month_, number.value)
    if the and lexicon.ordinal(number) is not None and p.w(j) not in ("of",):
        if not 1 <= number.value <= 31:
            raise PhraseError(f'"{p.span(i, i + 2)}" is not a day of the month: they go from 1 to 31.')
        return i + 2, Day(monthday=number.value)
    return None


def _is_day_number(token: Token | None) -> bool:
    return token is not None and token.kind == "num" and token.suffix in ("", "st", "nd", "rd", "th") and (
        token.value <= 99
    )


def _year_after(p: Tokens, j: int) -> tuple[int, int | None]:
    k = j + 1 if p.w(j) == "," else j
    token = p.tok(k)
    if token is not None and token.kind == "num" and not token.suffix and 1900 <= token.value <= 2200:
        return k + 1, token.value
    return j, None


def _date(raw: str, year: int | None, month_: int, day: int) -> Day:
    if not 1 <= month_ <= 12:
        raise PhraseError(f'"{raw}" is not a date: months go from 1 to 12.')
    if not 1 <= day <= lexicon.MONTH_DAYS[month_ - 1]:
        raise PhraseError(
            f"{lexicon.MONTH_NAMES[month_ - 1]} has no {_ordinal(day)} day."
            if day <= 31
            else f'"{raw}" is not a date: days of the month go from 1 to 31.'
        )
    if year is not None and month_ == 2 and day == 29 and not _leap(year):
        raise PhraseError(f"February {year} has no 29th day.")
    return Day(year=year, month=month_, monthday=day)


def _slash_date(raw: str) -> Day:
    parts = [int(part) for part in raw.split("/")]
    first, second = parts[0], parts[1]
    year = parts[2] if len(parts) == 3 else None
    if year is not None and year < 100:
        year += 2000
    if first <= 12 and second <= 12 and first != second:
        raise PhraseError(
            f'"{raw}" could be {lexicon.MONTH_NAMES[first - 1]} {second} or '
            f"{lexicon.MONTH_NAMES[second - 1]} {first}: write the month's name."
        )
    month_, day = (first, second) if first <= 12 else (second, first)
    return _date(raw, year, month_, day)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


ordinal_text = _ordinal
