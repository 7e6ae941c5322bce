"""The schedule grammar: find every piece of "when" in a request, wherever it sits.

The scanner walks the tokens left to right and tries, at each one, the matchers below (repeats,
windows, bounds, relative instants, days, times, zones). What a matcher takes becomes part of the
schedule; every token no matcher takes stays in the task. Matchers are anchored on words that
only mean time in that position ("every", "at", "on the 1st of every month", "tuesdays"), so
"may this work" or "once in a while" never become schedules.
"""

from __future__ import annotations

from datetime import timedelta

from bot.workflows import lexicon, zones
from bot.workflows.clock import MAX_YEARS_AHEAD, Day, PhraseError, Tokens, day_at, time_at, times_at, too_far
from bot.workflows.pieces import Bound, Found, Relative, Repeat, Times, Window, Zone
from bot.workflows.repeats import FREQ_WORDS, repeat_at

_STARTS = ("starting", "start", "starts", "from", "beginning", "begin", "begins", "effective")
_ENDS = ("until", "till", "til", "through", "thru", "ending", "ends", "end")


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
    if unit in ("MINUTELY", "HOURLY") and too_far(amount, unit, token.raw):
        raise PhraseError(
            f'"{p.span(i, end)}" is too far in the future: a schedule looks at most {MAX_YEARS_AHEAD} years ahead.'
        )
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


_MATCHERS = (_zone, repeat_at, _window, _bound, _except, _relative, _day, _times)
# Every word a matcher can start on; other words are task text and are skipped at once.
_TRIGGERS = frozenset(
    {"in", "on", "every", "each", "evry", "eveyr", "weekdays", "weekends", "workdays", "weeknights",
     "twice", "thrice", "the", "last", "from", "between", "as", "for", "within", "today", "tomorrow",
     "tmrw", "tmr", "tomorow", "tommorow", "tommorrow", "tonight", "day", "this", "next", "coming",
     "by", "at", "around", "@", "except", "excluding", "but", "noon", "midday", "midnight", "lunchtime", "eod", "end", "half", "yesterday",
     "quarter"}
    | set(_STARTS) | set(_ENDS) | set(FREQ_WORDS) | set(zones.ABBREVIATIONS) | set(lexicon.NUMBER_WORDS)
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
