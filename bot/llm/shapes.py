"""Text shapes the task classifier reads: the words of a request, code lines, tracebacks, equations.

Owns `Text` (a request's scanned window, prepared once) and the structural detectors used by
bot.llm.classify. Each regex runs only where a cheap test (str.startswith, `in`, str.find, all in
C) has found a place it could match: Python's regex engine is slow on patterns that could start at
any character, ~40 ns a character each.

Why it is fast cold (classify runs right after a model call has evicted the CPU caches, where each
table probed, each function run and each kind of operation costs trips to memory): `Text` looks
each of the request's words up once, in bot.llm.lexicon's one INDEX, and keeps the few words found
there, the bits of the lists they are in and the phrases present (tried only under their longest
word). `found` returns at a bit test for a list with nothing in the text, and the detectors return
at a bit test or an `in` on most text (no operator, no newline, no "error"…). Builtins that are
costly cold (generators, max(), sorted() with a key) stay off the common path.
"""

from __future__ import annotations

import re

from bot.llm.lexicon import CODE_START_WORDS, DESIGN_WORDS, INDEX, SQL_WORDS, Vocabulary

SCAN_HEAD, SCAN_TAIL = 1_200, 400  # characters searched for signals

# Punctuation and line breaks become spaces before the text is split into words. A string indexed
# by code point (characters past its end are left alone) is a cheaper table than a dict.
_SEPARATOR_CHARS = '.,!?:;()[]{}<>"`*/\\|=~@$%&_^\n\t\r¿¡«»“”'
_SEPARATORS = "".join(
    " " if chr(point) in _SEPARATOR_CHARS else chr(point)
    for point in range(max(map(ord, _SEPARATOR_CHARS)) + 1)
)

# (word, how a code line starts with it)
_CODE_STARTS = (
    ("def", "def "), ("class", "class "), ("import", "import "), ("from", "from "), ("function", "function"),
    ("async", "async "), ("const", "const "), ("let", "let "), ("var", "var "), ("#include", "#include"),
    ("public", "public "), ("return", "return "),
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
_SQL_WRITE_WORDS = frozenset({"update", "insert", "delete", "create", "alter", "drop"})
_MICROSERVICES = frozenset({"microservice", "microservices"})
_ARCHITECTURE_OF = frozenset({"software", "system", "service", "backend", "cloud", "app", "application"})
_PUNCT_MIN, _PUNCT_SHARE = 8, 0.02  # at least 8 of { } ; and 2% of the characters: code, not prose


class Text:
    """The scanned window of a request, prepared once: raw, lower-cased, split into words and
    space-separated. `hits` maps its words that some list holds to those lists' bits (INDEX), `mask`
    is all their bits; `phrases` holds the vocabularies' phrases present, `phrase_mask` their bits."""

    __slots__ = (
        "raw", "lower", "spaced", "tokens", "hits", "mask", "phrases", "phrase_mask", "numbers", "equation", "asked",
    )  # fmt: skip

    def __init__(self, text: str):
        if len(text) > SCAN_HEAD + SCAN_TAIL:
            text = text[:SCAN_HEAD] + "\n" + text[-SCAN_TAIL:]
        self.raw = text
        self.lower = text.lower()
        spaced = self.lower.translate(_SEPARATORS)
        self.tokens = tokens = spaced.split()
        self.spaced = spaced = f" {spaced} "  # phrases are looked for as " at most " in here
        # One probe per word into one table. A plain loop: cold, it costs less than `keys() & tokens`.
        hits: dict[str, int] = {}
        phrases: list[tuple[int, int, str]] = []  # (vocabulary's bit, place in it, name)
        mask = phrase_mask = 0
        for word in tokens:
            if word in INDEX and word not in hits:  # `in` and [], not .get(): no call for most words
                entry = INDEX[word]
                hits[word] = bits = entry[0]
                mask |= bits
                for bit, padded, order, name in entry[1]:  # phrases with this word in them
                    if padded in spaced:
                        phrase_mask |= bit
                        phrases.append((bit, order, name))
        self.hits, self.mask, self.phrases, self.phrase_mask = hits, mask, phrases, phrase_mask
        self.numbers: int | None = None  # counted when first needed
        self.equation = False  # set by the reasoning score
        self.asked: tuple[str, str] | None | bool = False  # _asks_for_code's answer once known

    def has(self, phrase: str) -> bool:
        return f" {phrase} " in self.spaced

    def found(self, vocabulary: Vocabulary) -> list[str] | tuple[()]:
        """The vocabulary's words (one form per group, as written) and phrases present, in its order.
        (Phrases used to come in the order of a set of their first words, which follows the strings'
        hashes: "Why this model?" could list the same reasons in another order in another process.)"""
        bit = vocabulary.bit
        if not (self.mask & bit or self.phrase_mask & bit):
            return ()  # most calls: none of its words or phrases is in the text
        shown: list[str] = []
        if self.mask & bit:
            for word, bits in self.hits.items():
                if bits & bit:
                    shown.append(word)
            if len(shown) > 1:  # one form per group ("bug" before "bugs"), in the groups' order
                ranked = [(vocabulary.rank[vocabulary.forms[word]], word) for word in shown]
                ranked.sort()
                shown, group = [], -1
                for rank, word in ranked:
                    if rank != group:
                        shown.append(word)
                        group = rank
        if self.phrase_mask & bit:
            matched: list[tuple[int, str]] = []
            for phrase_bit, order, name in self.phrases:
                if phrase_bit == bit:
                    matched.append((order, name))
            matched.sort()  # the vocabulary's order, the same in every process
            for _order, name in matched:
                shown.append(name)
        return shown


def looks_like_code(t: Text) -> bool:
    raw, mask = t.raw, t.mask
    if mask & CODE_START_WORDS.bit:
        for word, start in _CODE_STARTS:  # only where a line starts with one of them
            if word not in t.hits:
                continue
            at = raw.find(start)
            while at != -1:
                if not raw[raw.rfind("\n", 0, at) + 1 : at].strip(" \t") and _CODE_LINE.match(raw, at):
                    return True
                at = raw.find(start, at + 1)
    if mask & SQL_WORDS.bit:
        hits = t.hits
        if "select" in hits and "from" in hits and _SQL.search(raw) is not None:
            return True
        if not _SQL_WRITE_WORDS.isdisjoint(hits) and _SQL_WRITE.search(raw):
            return True
    # A block opened by ":" or "{" and indented on the next line (Python, C-like languages, YAML).
    return "\n" in raw and (":\n    " in raw or ":\n\t" in raw or "{\n  " in raw or "{\n\t" in raw)


def has_trace(t: Text) -> bool:
    raw, lowered = t.raw, t.lower
    # Every check below needs one of these (the names and "Traceback" lower-cased): most text has none.
    if not (
        "error" in lowered
        or "exception" in lowered
        or "traceback" in lowered
        or "\tat " in raw
        or "  at " in raw
    ):
        return False
    for suffix in ("Error", "Exception"):  # IndexError, NullPointerException: CamelCase before the suffix
        at = raw.find(suffix)
        while at > 0:
            start = at
            while start and raw[start - 1].isalpha():
                start -= 1
            if start < at and (not start or not raw[start - 1].isalnum()) and _ERROR_NAME.match(raw, start):
                return True
            at = raw.find(suffix, at + 1)
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
    # Each `in` is a C scan; the regex engine is started only when an operator is there.
    if "=" in raw or "+" in raw or "*" in raw or "^" in raw or "×" in raw or "÷" in raw:
        for match in _OPERATOR.finditer(raw):
            at = match.start()
            left = raw[at - 3 if at > 3 else 0 : at].rstrip()
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
    if not t.mask & DESIGN_WORDS.bit:
        return None
    if t.has("system design"):
        return "system design"
    if micro := _MICROSERVICES.intersection(t.hits):
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
    if "(" not in raw:
        return 0
    calls, at = 0, raw.find("(")
    while at != -1 and calls < 2:
        if at and raw[at - 1] in _NAME_CHARS and not raw[at - 1].isdigit():
            calls += 1
        at = raw.find("(", at + 1)
    return calls


def code_punctuation(raw: str) -> bool:
    """Heavy use of { } ; — source code, not prose."""
    if not ("{" in raw or "}" in raw or ";" in raw):
        return False
    punct = raw.count("{") + raw.count("}") + raw.count(";")
    return punct >= _PUNCT_MIN and punct >= _PUNCT_SHARE * len(raw)
