"""The words of schedules: tokens, day and month names (misspellings too), numbers and units.

The tokenizer keeps each token's character span so the parser can cut the schedule out of a
longer request and hand the rest back as the task. Misspelled day and month names are matched by
edit distance (one typo, or two in long names), and only where the grammar expects a day or a
month, so "sundry" or "match" in the task text stays untouched.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
# Days in each month in a leap year: "February 29" is a real (if rare) date.
MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

_DAY_ABBREVIATIONS = {
    "mon": 0, "tue": 1, "tues": 1, "tu": 1, "wed": 2, "weds": 2, "thu": 3, "thur": 3,
    "thurs": 3, "thr": 3, "thrs": 3, "fri": 4, "sat": 5, "sun": 6,
}  # fmt: skip
_MONTH_ABBREVIATIONS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8,
    "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
# Real words one typo away from a day or month name; never read them as one.
_NOT_NAMES = frozenset({"sundry", "sundae", "mundane", "marches", "jane", "junes"})

NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40, "fortyfive": 45, "sixty": 60,
    "ninety": 90,
}  # fmt: skip
ORDINAL_WORDS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
    "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
    "nineteenth": 19, "twentieth": 20, "thirtieth": 30,
}  # fmt: skip
# Interval words for "every N <unit>" and "in N <unit>": the RRULE FREQ each one means.
UNITS = {
    "minute": "MINUTELY", "minutes": "MINUTELY", "min": "MINUTELY", "mins": "MINUTELY",
    "m": "MINUTELY", "hour": "HOURLY", "hours": "HOURLY", "hr": "HOURLY", "hrs": "HOURLY",
    "h": "HOURLY", "day": "DAILY", "days": "DAILY", "d": "DAILY", "week": "WEEKLY",
    "weeks": "WEEKLY", "wk": "WEEKLY", "wks": "WEEKLY", "w": "WEEKLY", "month": "MONTHLY",
    "months": "MONTHLY", "year": "YEARLY", "years": "YEARLY", "yr": "YEARLY", "yrs": "YEARLY",
}  # fmt: skip

_TOKEN = re.compile(
    r"""
      (?<![\w/.\-])(?P<iso>\d{4}-\d{1,2}-\d{1,2})(?![\w/\-])
    | (?<![\w/.\-])(?P<slash>\d{1,2}/\d{1,2}(?:/\d{2,4})?)(?![\w/])
    | (?P<clock>\d{1,2}:\d{2})(?:\s?(?P<cmer>[ap])\.?m\b\.?)?
    | (?P<num>\d+)(?P<suf>[a-z]+(?:\.m\b\.?)?)?
    | (?P<mer>[ap]\.m\b\.?)
    | (?P<word>[^\W\d_]+(?:['’][^\W\d_]+)?)(?P<zone>(?:/[A-Za-z][A-Za-z0-9_+\-]*)+)?
    | (?P<punct>[,&;()+\-–—])
    """,
    re.VERBOSE | re.IGNORECASE,
)
_SLASH_PARTS = re.compile(r"[^/]+|/")


class Token:
    """One token: `kind` is word, num, clock, iso, slash, zone or punct; `text` is lower-case.

    A plain class with slots, not a dataclass: a request makes a dozen of these per parse.
    """

    __slots__ = ("kind", "text", "start", "end", "raw", "value", "suffix")

    def __init__(self, kind: str, text: str, start: int, end: int, raw: str, value: int = 0, suffix: str = ""):
        self.kind = kind
        self.text = text
        self.start = start
        self.end = end
        self.raw = raw
        self.value = value  # the number, for num tokens
        self.suffix = suffix  # glued to a number ("pm", "th", "h") or a clock ("am"/"pm")

    def __repr__(self) -> str:
        return f"Token({self.kind}, {self.raw!r})"


def tokenize(text: str, is_zone: Callable[[str], bool] = lambda name: True) -> list[Token]:
    """The tokens of `text`; a slashed name that `is_zone` rejects ("mon/wed") is split up."""
    tokens: list[Token] = []
    append = tokens.append
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        raw = match.group(0)
        start, end = match.span()
        if kind == "word":
            append(Token("word", raw.lower().replace("’", "'"), start, end, raw))
        elif kind == "zone":
            if is_zone(raw):
                append(Token("zone", raw, start, end, raw))
                continue
            for part in _SLASH_PARTS.finditer(raw):
                piece = part.group(0)
                append(Token("punct" if piece == "/" else "word", piece.lower(), start + part.start(),
                             start + part.end(), piece))  # fmt: skip
        elif kind in ("num", "suf"):  # the group that closed last names the token
            suffix = (match.group("suf") or "").lower().replace(".", "")
            append(Token("num", raw.lower(), start, end, raw, int(match.group("num")[:9]), suffix))
        elif kind in ("clock", "cmer"):
            meridiem = (match.group("cmer") or "").lower()
            append(Token("clock", match.group("clock"), start, end, raw, 0, meridiem + "m" if meridiem else ""))
        elif kind == "mer":
            append(Token("word", raw.lower().replace(".", ""), start, end, raw))
        else:
            append(Token(kind, raw.lower(), start, end, raw))
    return tokens


def weekday(word: str) -> int | None:
    """0 for Monday … 6 for Sunday, for a day name, abbreviation, plural or misspelling."""
    return _weekday(word)[0]


def weekday_plural(word: str) -> bool:
    """Whether the word names a day in the plural ("tuesdays"), which means every such day."""
    return _weekday(word)[1]


@lru_cache(maxsize=4096)
def _weekday(word: str) -> tuple[int | None, bool]:
    if word in _DAY_ABBREVIATIONS:
        return _DAY_ABBREVIATIONS[word], False
    if word in _FULL_DAYS:
        return _FULL_DAYS.index(word), False
    if word.endswith("s") and len(word) > 3:
        stem = word[:-1]
        if stem in _FULL_DAYS:
            return _FULL_DAYS.index(stem), True
        if stem in _DAY_ABBREVIATIONS:  # "mons", "fris"
            return _DAY_ABBREVIATIONS[stem], True
    found = _closest(word, _FULL_DAYS)
    if found is not None:
        return found, False
    if word.endswith("s"):
        found = _closest(word[:-1], _FULL_DAYS)
        if found is not None:
            return found, True
    return None, False


@lru_cache(maxsize=4096)
def month(word: str) -> int | None:
    """1 for January … 12 for December, for a month name, abbreviation or misspelling."""
    if word in _MONTH_ABBREVIATIONS:
        return _MONTH_ABBREVIATIONS[word]
    found = _closest(word, _FULL_MONTHS)
    return None if found is None else found + 1


_FULL_DAYS = tuple(name.lower() for name in WEEKDAY_NAMES)
_FULL_MONTHS = tuple(name.lower() for name in MONTH_NAMES)


def _closest(word: str, names: tuple[str, ...]) -> int | None:
    if word in names:
        return names.index(word)
    if len(word) < 5 or word in _NOT_NAMES or not word.isalpha():
        return None
    allowed = 1 if len(word) < 8 else 2
    best, best_distance = None, allowed + 1
    for index, name in enumerate(names):
        if name[0] != word[0] or abs(len(name) - len(word)) > allowed:
            continue
        distance = _typo_distance(word, name, allowed)
        if distance < best_distance:
            best, best_distance = index, distance
    return best


def _typo_distance(a: str, b: str, limit: int) -> int:
    """Edit distance counting a swap of two neighbouring letters as one typo ("wendesday")."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def ordinal(token: Token | None) -> int | None:
    """The number of "1st", "15th", "third" (None for anything else)."""
    if token is None:
        return None
    if token.kind == "num" and token.suffix in ("st", "nd", "rd", "th"):
        return token.value
    if token.kind == "word":
        return ORDINAL_WORDS.get(token.text)
    return None


def count(token: Token | None) -> int | None:
    """The number of "3" or "three" (a plain count, no suffix)."""
    if token is None:
        return None
    if token.kind == "num" and not token.suffix:
        return token.value
    if token.kind == "word":
        return NUMBER_WORDS.get(token.text)
    return None
