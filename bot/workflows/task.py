"""The task: what is left of a request once its schedule is cut out, and the message for a
request that has no schedule in it.

"remind me to move the car every other tuesday" → "remind me to move the car": the pieces are cut
with the little words that led into them ("at", "on", "starting"). A time said apart from the
repeat ("every weekday at 8:45 remind the team about standup at 9:00") is part of the task.
"""

from __future__ import annotations

import re

from bot.workflows.clock import Day
from bot.workflows.pieces import Found, Repeat, Times

_CONNECTORS = frozenset({"at", "on", "in", "by", "from", "starting", "until", "for", "@", "and", "then"})
_EDGE = " ,;:.-–—&"
_VAGUE = re.compile(
    r"\b(once in a while|every now and then|now and then|from time to time|whenever|sometimes|"
    r"occasionally|at some point|some ?day|soon|later|eventually|regularly|often|periodically|asap|"
    r"every so often|once in a blue moon|every time|at times)\b",
    re.IGNORECASE,
)


def without_far_times(found: Found) -> list:
    """Times said apart from the repeat belong to the task when the repeat has its own time.

    "every weekday at 8:45 remind the team about standup at 9:00" runs at 8:45; the 9:00 is what
    the reminder says. Pieces are together when only connecting words or punctuation lie between.
    """
    pieces = found.pieces
    if sum(isinstance(piece, Times) for _, _, piece in pieces) < 2:
        return pieces
    tokens = found.tokens.items
    groups: list[list[tuple[int, int, object]]] = []
    for item in pieces:
        gap = tokens[groups[-1][-1][1] : item[0]] if groups else None
        if gap is not None and all(token.text in _JOINERS for token in gap):
            groups[-1].append(item)
        else:
            groups.append([item])
    main = [group for group in groups if any(isinstance(p, Repeat | Day) for _, _, p in group)]
    if len(main) != 1 or not any(isinstance(p, Times) for _, _, p in main[0]):
        return pieces
    return [item for item in pieces if not isinstance(item[2], Times) or item in main[0]]


_JOINERS = frozenset({"and", ",", "at", "on", "in", "from", "starting", "until", "by", "@", "-", "(", ")", "&"})


def no_time_message(text: str) -> str:
    vague = _VAGUE.search(text)
    if vague:
        return (
            f'"{vague.group(0)}" does not say when; say it like "every weekday at 9am" or "tomorrow at 3pm".'
        )
    return 'There is no time or date in that; say when, like "every weekday at 9am" or "tomorrow at 3pm".'


def task_text(found: Found) -> str:
    """The request without its schedule: the pieces cut out, and the words that led into them."""
    tokens = found.tokens.items
    text = found.tokens.text
    cut: list[tuple[int, int]] = []
    for start, end, piece in found.pieces:
        if isinstance(piece, Repeat) and piece.weak:
            continue  # "the daily digest" keeps its adjective
        begin = start
        while begin > 0 and tokens[begin - 1].text in _CONNECTORS and not _covered(found, begin - 1):
            begin -= 1
        cut.append((tokens[begin].start, tokens[end - 1].end))
    kept, position = [], 0
    for begin, end in sorted(cut):
        if begin > position:
            kept.append(text[position:begin])
        position = max(position, end)
    kept.append(text[position:])
    task = _SPACE_BEFORE_PUNCT.sub(r"\1", _RUNS_OF_SPACE.sub(" ", " ".join(kept))).strip(_EDGE + " ")
    words = task.split(" ")
    while words and words[0].lower() in _CONNECTORS:
        words.pop(0)
    while words and words[-1].lower().strip(_EDGE) in _CONNECTORS:
        words.pop()
    task = " ".join(words).strip(_EDGE + " ")
    return _EMPTY_PARENS.sub("", task).strip()


_RUNS_OF_SPACE = re.compile(r"\s+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,;:.!?])")
_EMPTY_PARENS = re.compile(r"\(\s*\)")


def _covered(found: Found, index: int) -> bool:
    return any(start <= index < end for start, end, _ in found.pieces)

