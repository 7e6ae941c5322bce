"""Text shapes the task classifier reads: the words of a request, code lines, tracebacks, equations.

Owns `Text` (a request's scanned window, prepared once) and the structural detectors used by
bot.llm.classify. Each regex runs only where a cheap test (str.startswith, `in`, str.find, all in
C) has found a place it could match: Python's regex engine is slow on patterns that could start at
any character, ~40 ns a character each.
"""

from __future__ import annotations

import re

from bot.llm.lexicon import Vocabulary

SCAN_HEAD, SCAN_TAIL = 1_200, 400  # characters searched for signals

# Punctuation and line breaks become spaces before the text is split into words.
_SEPARATORS = str.maketrans({c: " " for c in '.,!?:;()[]{}<>"`*/\\|=~@$%&_^\n\t\r¿¡«»“”'})

_CODE_STARTS = (
    "def ", "class ", "import ", "from ", "function", "async ", "const ", "let ", "var ",
    "#include", "public ", "return ",
)  # fmt: skip
_CODE_LINE = re.compile(
    r"def [A-Za-z_]\w*\s*\(|class [A-Za-z_]\w*\s*[(:]|import [\w.]+\s*$|from [\w.]+ import "
    r"|(?:async )?function\s*\w*\s*\(|(?:const|let|var) \w+ *=|#include\s*<|public (?:static )?\w+ \w+\("
    r"|return\b.*;[ \t]*$",
    re.MULTILINE,
)
# Upper-case SELECT … FROM is SQL; lower-case needs a clause too ("select a dish from the menu" is not).
_SQL = re.compile(
    r"SELECT\b[^;]{1,200}?\bFROM\b|select\b[^;]{1,200}?\bfrom\s+\w+\s+(?:where|join|group by|order by|limit)\b"
)
_SQL_WRITE = re.compile(r"UPDATE \w+ SET\b|INSERT INTO \w+|DELETE FROM \w+|(?:CREATE|ALTER|DROP) TABLE\b")
# Exception names anywhere in a line (IndexError, NullPointerException) and compiler error codes.
_ERROR_NAME = re.compile(
    r"[A-Z][a-z]+(?:[A-Z][a-z]*)*(?:Error|Exception)\b"
)  # matched backwards from the suffix
_ERROR_CODE = re.compile(r"error [A-Z]{0,4}\d{3,}", re.IGNORECASE)
# A name directly followed by "(": calls and definitions (range(len(a)), fetch(url)); prose puts a space.
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.")
_JAVA_FRAME = re.compile(r"(?:\t|  )at [\w.$<>]+\(.*?:\d+\)")
_ERROR_LINE = re.compile(r"[\w.]*(?:Error|Exception): ")
# Arithmetic, not dates or ranges: an operator with a number after it ("3x + 7", "x^2", "2x = 10",
# "17*23"); "-" and "/" only with spaces and digits around them ("5 - 3"), so 2026-11-25, 24/7 and
# 10:00-11:00 are not maths. The left side is checked by hand: a digit, or a one-letter variable.
_OPERATOR = re.compile(r"[+*^×÷=]\s*\(?\s*\d")
_DESIGN_AFTER = re.compile(
    r"(?:design|architect) (?:a|an|the|our|my) (?:\S+ )?(?:system|service|platform|schema|backend|api)\b"
    r"|architecture (?:for|of) (?:a|an|the|our|my) (?:\S+ )?(?:app|service|system|platform|backend|api)\b"
)
_DESIGN_WORDS = frozenset({"design", "architect", "architecture", "microservice", "microservices"})
_ARCHITECTURE_OF = frozenset({"software", "system", "service", "backend", "cloud", "app", "application"})
_PUNCT_MIN, _PUNCT_SHARE = 8, 0.02  # at least 8 of { } ; and 2% of the characters: code, not prose


class Text:
    """The scanned window of a request, prepared once: raw, as a set of words, and space-separated."""

    __slots__ = ("raw", "words", "spaced", "tokens", "numbers", "equation", "asked")

    def __init__(self, text: str):
        if len(text) > SCAN_HEAD + SCAN_TAIL:
            text = text[:SCAN_HEAD] + "\n" + text[-SCAN_TAIL:]
        self.raw = text
        spaced = text.lower().translate(_SEPARATORS)
        self.tokens = spaced.split()
        self.numbers: int | None = None  # counted when first needed
        self.equation = False  # set by the reasoning score
        self.asked: tuple[str, str] | None | bool = False  # _asks_for_code's answer once known
        self.words = set(self.tokens)
        self.spaced = f" {spaced} "  # phrases are looked for as " at most " in here

    def has(self, phrase: str) -> bool:
        return f" {phrase} " in self.spaced

    def found(self, vocabulary: Vocabulary) -> list[str]:
        """The vocabulary's words (one form per group, as written) and phrases present, in its order."""
        shown: list[str] = []
        if hits := self.words & vocabulary.form_set:
            matched: dict[str, str] = {}
            for word in sorted(hits):  # sorted: "bug" before "bugs"
                matched.setdefault(vocabulary.forms[word], word)
            shown = sorted(matched.values(), key=lambda word: vocabulary.rank[vocabulary.forms[word]])
        # Only phrases whose first word is in the text are searched for (a set intersection, in C).
        for first in self.words & vocabulary.start_set:
            shown.extend(name for padded, name in vocabulary.phrase_starts[first] if padded in self.spaced)
        return shown


def looks_like_code(t: Text) -> bool:
    raw = t.raw
    for start in _CODE_STARTS:  # only where a line starts with one of them
        if start.strip() not in t.words:  # a set lookup first: most text has none of these words
            continue
        at = raw.find(start)
        while at != -1:
            if not raw[raw.rfind("\n", 0, at) + 1 : at].strip(" \t") and _CODE_LINE.match(raw, at):
                return True
            at = raw.find(start, at + 1)
    if "select" in t.words and "from" in t.words and _SQL.search(raw) is not None:
        return True
    if t.words & {"update", "insert", "delete", "create", "alter", "drop"} and _SQL_WRITE.search(raw):
        return True
    # A block opened by ":" or "{" and indented on the next line (Python, C-like languages, YAML).
    return any(opener in raw for opener in (":\n    ", ":\n\t", "{\n  ", "{\n\t"))


def has_trace(raw: str) -> bool:
    for suffix in ("Error", "Exception"):  # IndexError, NullPointerException: CamelCase before the suffix
        at = raw.find(suffix)
        while at > 0:
            start = at
            while start and raw[start - 1].isalpha():
                start -= 1
            if start < at and (not start or not raw[start - 1].isalnum()) and _ERROR_NAME.match(raw, start):
                return True
            at = raw.find(suffix, at + 1)
    lowered = raw.lower()
    at = lowered.find("error ")
    while at != -1:  # compiler and database error codes: "error TS2339", "ERROR 1452"
        if _ERROR_CODE.match(raw, at):
            return True
        at = lowered.find("error ", at + 1)
    if "Traceback (most recent call last)" in raw or (
        ("\tat " in raw or "  at " in raw) and _JAVA_FRAME.search(raw)
    ):
        return True
    for marker in ("Error: ", "Exception: "):
        end = raw.find(marker)
        if end != -1:
            line_start = raw.rfind("\n", 0, end) + 1
            if _ERROR_LINE.fullmatch(raw, line_start, end + len(marker)):
                return True
    return False


def has_equation(raw: str) -> bool:
    for match in _OPERATOR.finditer(raw):
        left = raw[max(0, match.start() - 3) : match.start()].rstrip()
        if left and (
            left[-1].isdigit() or (left[-1].isalpha() and (len(left) < 2 or not left[-2].isalpha()))
        ):
            return True
    for operator in (" - ", " / "):  # str.find: a regex starting with " " would try every space
        at = raw.find(operator)
        while at != -1:
            if at and raw[at - 1].isdigit() and raw[at + 3 : at + 5].lstrip("(")[:1].isdigit():
                return True
            at = raw.find(operator, at + 1)
    return False


def design_phrase(t: Text) -> str | None:
    """The phrase asking for software design, if any."""
    if not t.words & _DESIGN_WORDS:
        return None
    if t.has("system design"):
        return "system design"
    if micro := t.words & {"microservice", "microservices"}:
        return min(micro)
    for verb in (" design ", " architect"):
        at = t.spaced.find(verb)
        while at != -1:
            if match := _DESIGN_AFTER.match(t.spaced, at + 1):
                return match.group(0)
            at = t.spaced.find(verb, at + 1)
    at = t.spaced.find(" architecture ")
    while at != -1:
        before = t.spaced[:at].rsplit(" ", 1)[-1]
        if before in _ARCHITECTURE_OF:
            return f"{before} architecture"
        at = t.spaced.find(" architecture ", at + 1)
    return None


def call_count(raw: str) -> int:
    """How many "(" follow a name directly (range(len(a)), fetch(url)); prose puts a space first."""
    calls, at = 0, raw.find("(")
    while at != -1 and calls < 2:
        if at and raw[at - 1] in _NAME_CHARS and not raw[at - 1].isdigit():
            calls += 1
        at = raw.find("(", at + 1)
    return calls


def code_punctuation(raw: str) -> bool:
    """Heavy use of { } ; — source code, not prose."""
    punct = raw.count("{") + raw.count("}") + raw.count(";")
    return punct >= _PUNCT_MIN and punct >= _PUNCT_SHARE * len(raw)
