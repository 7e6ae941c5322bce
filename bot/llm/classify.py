"""Task classification: what kind of job a request is and the least model tier it needs.

Owns `classify()`, a deterministic keyword-and-shape classifier that runs before every model call,
so it must be fast (typically 10–60 µs; bench/classify.py measures it) and explainable: every
decision carries human-readable reasons for the "Why this model?" view.

How a request is scored:

* code — a ``` fence, code-shaped lines (def/class/import/function/SELECT … FROM), a stack trace,
  heavy `{ } ;` punctuation and "architecture"/"design a system" weigh 2 each; words such as
  "bug", "refactor", "regex", "python" 1 each. Needs standard; premium when the input is over
  4k tokens or it asks for architecture/system design.
* reasoning — "prove", "step by step" and equations with digits and operators weigh 2 each;
  "calculate", "probability", "optimise", "plan", "schedule for", "trade-off" 1 each. Needs
  standard; premium for proofs/rigour or three or more constraints at once.
* long_document — "summarise", "tl;dr", "key points" weigh 2, an input over ~6k tokens 2 more.
  Needs only economy: the routing policy's context-window rule does the rest.
* chat — anything else, economy.

The highest score wins; ties go code > reasoning > long_document (the more demanding job).

Why it is fast: words are matched by set lookups on one lower-cased, split copy of the text;
the few regexes (code lines, SQL, tracebacks, equations, design phrases) run only when a cheap
substring test says they might match. Signals are read from the first 1,200 and last 400
characters (where people put the ask and where pastes show their shape), so a 200k-character
paste costs the same as a short question; the token estimate always counts every character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TASKS = ("code", "reasoning", "long_document", "chat")
CHARS_PER_TOKEN = 4  # the usual English-text rule of thumb; good enough for choosing a model
LONG_INPUT_TOKENS = 6_000  # above this a request is a long-document job even without "summarise"
LARGE_CODE_TOKENS = 4_000  # code this big (a whole module, a long log) needs the premium tier
SCAN_HEAD, SCAN_TAIL = 1_200, 400  # characters searched for signals
MULTI_CONSTRAINT = 3
MAX_KEYWORD_REASONS = 3


@dataclass(frozen=True)
class TaskProfile:
    """What a request is. `need` is the least tier that does it well: economy < standard < premium."""

    task: str  # code | reasoning | long_document | chat
    need: str  # economy | standard | premium
    est_input_tokens: int
    reasons: tuple[str, ...]


class _Vocabulary:
    """Word groups ("refactor refactoring …", one idea each, split by "|") and phrases for one signal.

    Words are matched whole after lower-casing ("+" and "#" stay part of words: c++, c#); phrases
    on word boundaries.
    """

    __slots__ = ("forms", "order", "phrases")

    def __init__(self, groups: str, phrases: str = ""):
        split = [group.split() for group in groups.split("|")]
        self.forms = {form: words[0] for words in split for form in words}
        self.order = tuple(words[0] for words in split)
        self.phrases = tuple(
            (f" {p.strip()} ", _SHOWN.get(p.strip(), p.strip())) for p in phrases.split("|") if p.strip()
        )


_SHOWN = {"tl dr": "tl;dr"}  # ";" is a separator, so "tl;dr" arrives as the phrase "tl dr"

CODE_WORDS = _Vocabulary(
    "bug bugs buggy | refactor refactoring refactored refactors | regex regexes regexp | function functions"
    " | compile compiler compiling compilation compiles | python | javascript js | typescript | sql"
    " | debug debugging debugger | stacktrace | segfault | dockerfile | kubernetes k8s | golang | java | c++ | c#",
    phrases="stack trace | unit test | null pointer | bash script",
)
REASONING_WORDS = _Vocabulary(
    "calculate calculating calculation calculations compute | probability probabilities odds"
    " | optimise optimize optimising optimizing optimisation optimization | plan planning"
    " | trade-off trade-offs tradeoff tradeoffs | derive | riddle",
    phrases="schedule for | expected value | how many ways | logic puzzle",
)
STEPWISE = _Vocabulary("step-by-step", phrases="step by step")
PROOF_WORDS = _Vocabulary("prove proving | proof proofs | rigorous rigorously", phrases="formally show")
SUMMARY_WORDS = _Vocabulary(
    "summarise summarize summarised summarized summarising summarizing | summary summaries | tldr | recap"
    " | condense",
    phrases="tl dr | key points | main points | key takeaways",
)
CONSTRAINT_WORDS = _Vocabulary(
    "must | without | unless | cannot can't | constraint constraints",
    phrases="at most | at least | no more than | no later than | only if | budget of | given that",
)

# Punctuation and line breaks become spaces before the text is split into words.
_SEPARATORS = str.maketrans({c: " " for c in '.,!?:;()[]{}<>"`*/\\|=~@$%&_^\n\t\r'})

# Structural signals. Each regex runs only where a cheap test (str.startswith, `in`, str.find,
# all in C) has found a place it could match: Python's regex engine is slow on patterns that
# could start at any character, ~40 ns a character each.
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


class _Text:
    """The scanned window of a request, prepared once: raw, as a set of words, and space-separated."""

    __slots__ = ("raw", "words", "spaced")

    def __init__(self, text: str):
        if len(text) > SCAN_HEAD + SCAN_TAIL:
            text = text[:SCAN_HEAD] + "\n" + text[-SCAN_TAIL:]
        self.raw = text
        spaced = text.lower().translate(_SEPARATORS)
        self.words = set(spaced.split())
        self.spaced = f" {spaced} "  # phrases are looked for as " at most " in here

    def has(self, phrase: str) -> bool:
        return f" {phrase} " in self.spaced

    def found(self, vocabulary: _Vocabulary) -> list[str]:
        """The vocabulary's words (one form per group, as written) and phrases present, in its order."""
        matched: dict[str, str] = {}
        for word in sorted(self.words.intersection(vocabulary.forms)):  # sorted: "bug" before "bugs"
            matched.setdefault(vocabulary.forms[word], word)
        shown = [matched[group] for group in vocabulary.order if group in matched]
        return shown + [name for padded, name in vocabulary.phrases if padded in self.spaced]


def _looks_like_code(t: _Text) -> bool:
    raw = t.raw
    for start in _CODE_STARTS:  # only where a line starts with one of them
        if start.strip() not in t.words:  # a set lookup first: most text has none of these words
            continue
        at = raw.find(start)
        while at != -1:
            if not raw[raw.rfind("\n", 0, at) + 1 : at].strip(" \t") and _CODE_LINE.match(raw, at):
                return True
            at = raw.find(start, at + 1)
    return "select" in t.words and "from" in t.words and _SQL.search(raw) is not None


def _has_trace(raw: str) -> bool:
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


def _has_equation(raw: str) -> bool:
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


def _design(t: _Text) -> str | None:
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


def _mentions(words: list[str]) -> str:
    shown = ", ".join(f"'{w}'" for w in words[:MAX_KEYWORD_REASONS])
    return f"mentions {shown}" + (" …" if len(words) > MAX_KEYWORD_REASONS else "")


def _code_score(t: _Text, reasons: list[str]) -> tuple[int, bool]:
    """Score, and whether it asks for system design (which needs the premium tier)."""
    score = 0
    raw = t.raw
    if "```" in raw:
        score += 2
        reasons.append("contains a code block")
    if _looks_like_code(t):
        score += 2
        reasons.append("has lines that look like code (def/class/import/SELECT…)")
    if _has_trace(raw):
        score += 2
        reasons.append("contains a stack trace or error output")
    punct = raw.count("{") + raw.count("}") + raw.count(";")
    if punct >= _PUNCT_MIN and punct >= _PUNCT_SHARE * len(raw):
        score += 2
        reasons.append("heavy use of { } ; like source code")
    if words := t.found(CODE_WORDS):
        score += len(words)
        reasons.append(_mentions(words))
    if design := _design(t):
        score += 2
        reasons.append(f"asks for system design ('{design}')")
    return score, design is not None


def _reasoning_score(t: _Text, reasons: list[str]) -> tuple[int, bool]:
    """Score, and whether the reasoning needs the premium tier."""
    score, premium = 0, False
    if proof := t.found(PROOF_WORDS):
        score += 2
        premium = True
        reasons.append(f"asks for a proof / rigour ('{proof[0]}')")
    if t.found(STEPWISE):
        score += 2
        reasons.append("asks to work step by step")
    if _has_equation(t.raw):
        score += 2
        reasons.append("contains an equation or arithmetic")
    if words := t.found(REASONING_WORDS):
        score += len(words)
        reasons.append(_mentions(words))
    if score and len(constraints := t.found(CONSTRAINT_WORDS)) >= MULTI_CONSTRAINT:
        premium = True
        reasons.append(f"several constraints at once ({len(constraints)}: {', '.join(constraints[:3])}…)")
    return score, premium


def _format_tokens(tokens: int) -> str:
    return f"~{tokens / 1000:.0f}k" if tokens >= 1000 else f"~{tokens}"


def classify(text: str, *, history_chars: int = 0, attachments_chars: int = 0) -> TaskProfile:
    """Classify one request. History and attachments count towards the size, not the signals."""
    text = text or ""
    total_chars = len(text) + max(0, history_chars) + max(0, attachments_chars)
    tokens = -(-total_chars // CHARS_PER_TOKEN)  # ceiling: a 1-character message is 1 token
    t = _Text(text)

    code_reasons: list[str] = []
    reasoning_reasons: list[str] = []
    doc_reasons: list[str] = []
    code, design = _code_score(t, code_reasons)
    reasoning, reasoning_premium = _reasoning_score(t, reasoning_reasons)
    document = 0
    if words := t.found(SUMMARY_WORDS):
        document += 2
        doc_reasons.append(f"asks for a summary ('{words[0]}')")
    if tokens > LONG_INPUT_TOKENS:
        document += 2
        doc_reasons.append(f"input is {_format_tokens(tokens)} tokens")

    best = max(code, reasoning, document)
    if best == 0:
        return TaskProfile("chat", "economy", tokens, ("no code, maths or summary signals: general chat",))
    if code == best:
        need = "standard"
        if tokens > LARGE_CODE_TOKENS:
            need = "premium"
            code_reasons.append(f"large code input ({_format_tokens(tokens)} tokens)")
        elif design:
            need = "premium"
        return TaskProfile("code", need, tokens, tuple(code_reasons))
    if reasoning == best:
        return TaskProfile(
            "reasoning", "premium" if reasoning_premium else "standard", tokens, tuple(reasoning_reasons)
        )
    return TaskProfile("long_document", "economy", tokens, tuple(doc_reasons))
