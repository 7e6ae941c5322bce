"""Task classification: what kind of job a request is and the least model tier it needs.

Owns `classify()`, a deterministic scorer that runs before every model call, so it must be fast
(tens of µs; bench/classify.py times it over the labelled set) and explainable: every decision
carries human-readable reasons for the "Why this model?" view. The words it looks for live in
bot.llm.lexicon; tests/data/routing/ holds the labelled prompts it is measured on (docs/routing.md).

Hard tasks need the standard tier or above; easy ones take economy:

* code (hard) — a ``` fence, code-shaped lines (def/class/import/SELECT … FROM), a stack trace or
  error line, heavy `{ } ;` punctuation and "write/implement <a function, script, query …>" weigh
  2 each; words such as "bug", "regex", "python", "deadlock" 1 each. Premium when the input is over
  4k tokens or it asks for system design.
* reasoning (hard) — mathematics (equations, "derivative", "probability", percentages, word
  problems: several numbers and a "how much / how many / how long" question), logic puzzles and
  multi-step reasoning ("riddle", family relations, "taller than", knights and knaves, several
  constraints at once) and careful analysis ("compare", "pros and cons", "trade-off", "root
  cause", "should we … or …"). Premium for proofs, or three or more constraints at once.
* long_document (easy) — a summary is asked for ("summarise", "tl;dr", "recap") or the input is
  over ~6k tokens.
* chat (easy) — anything else: conversation, writing, translation, extraction, simple facts.

An easy intent — translate, summarise, write a poem/email/story…, extract — outweighs topic words,
so "write a poem about maths" and "translate this error message" stay easy; code shapes (a fence,
a traceback) and equations still make a request hard. When the signals are weak but present the
request is hard: between economy and standard, standard is the safer mistake.

A follow-up with no signal of its own ("make it shorter", "and in Go?", "why?") keeps the task of
the exchange it continues: pass that exchange's profile as `previous` (`previous_profile` finds it
in a conversation's history).

Why it is fast: words are matched by set lookups on one lower-cased, split copy of the text;
the few regexes (code lines, SQL, tracebacks, equations, design phrases) run only when a cheap
substring test says they might match. Signals are read from the first 1,200 and last 400
characters (where people put the ask and where pastes show their shape), so a 200k-character
paste costs the same as a short question; the token estimate always counts every character.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.llm.lexicon import (
    ANALYSIS_WORDS,
    CHAT_WORDS,
    CODE_MAKERS,
    CODE_THINGS,
    CODE_WORDS,
    CONSTRAINT_WORDS,
    EXTRACT_WORDS,
    FACT_STARTS,
    FAMILY,
    GENRES,
    LANGUAGES,
    LOGIC_WORDS,
    MATHS_WORDS,
    NOT_SIMPLE,
    NUMBER_WORDS,
    PROOF_WORDS,
    SUMMARY_WORDS,
    TRANSLATE_WORDS,
    WRITING_VERBS,
    Vocabulary,
)

TASKS = ("code", "reasoning", "long_document", "chat")
HARD_TASKS = ("code", "reasoning")
CHARS_PER_TOKEN = 4  # the usual English-text rule of thumb; good enough for choosing a model
LONG_INPUT_TOKENS = 6_000  # above this a request is a long-document job even without "summarise"
LARGE_CODE_TOKENS = 4_000  # code this big (a whole module, a long log) needs the premium tier
SCAN_HEAD, SCAN_TAIL = 1_200, 400  # characters searched for signals
MULTI_CONSTRAINT = 3
MAX_KEYWORD_REASONS = 3
FOLLOW_UP_WORDS = 12  # a message this short with no signal of its own continues the exchange
SIMPLE_QUESTION_WORDS = 14  # a factual question longer than this is not "simple"


@dataclass(frozen=True)
class TaskProfile:
    """What a request is. `need` is the least tier that does it well: economy < standard < premium."""

    task: str  # code | reasoning | long_document | chat
    need: str  # economy | standard | premium
    est_input_tokens: int
    reasons: tuple[str, ...]
    own_signal: bool = True  # False: nothing in the text itself said what it is (a bare follow-up)

    @property
    def hard(self) -> bool:
        return self.task in HARD_TASKS


# Punctuation and line breaks become spaces before the text is split into words.
_SEPARATORS = str.maketrans({c: " " for c in '.,!?:;()[]{}<>"`*/\\|=~@$%&_^\n\t\r¿¡«»“”'})

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
_SQL_WRITE = re.compile(r"UPDATE \w+ SET\b|INSERT INTO \w+|DELETE FROM \w+|(?:CREATE|ALTER|DROP) TABLE\b")
# Exception names anywhere in a line (IndexError, NullPointerException) and compiler error codes.
_ERROR_NAME = re.compile(r"[A-Z][a-z]+(?:[A-Z][a-z]*)*(?:Error|Exception)\b")  # matched backwards from the suffix
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


class _Text:
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
        if hits := self.words.intersection(vocabulary.forms):
            matched: dict[str, str] = {}
            for word in sorted(hits):  # sorted: "bug" before "bugs"
                matched.setdefault(vocabulary.forms[word], word)
            shown = sorted(matched.values(), key=lambda word: vocabulary.rank[vocabulary.forms[word]])
        # Only phrases whose first word is in the text are searched for (a set intersection, in C).
        for first in self.words.intersection(vocabulary.phrase_starts):
            shown.extend(name for padded, name in vocabulary.phrase_starts[first] if padded in self.spaced)
        return shown


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
    if "select" in t.words and "from" in t.words and _SQL.search(raw) is not None:
        return True
    if t.words & {"update", "insert", "delete", "create", "alter", "drop"} and _SQL_WRITE.search(raw):
        return True
    # A block opened by ":" or "{" and indented on the next line (Python, C-like languages, YAML).
    return any(opener in raw for opener in (":\n    ", ":\n\t", "{\n  ", "{\n\t"))


def _has_trace(raw: str) -> bool:
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


def _code_structure(t: _Text, reasons: list[str]) -> int:
    """Shapes only code has: these make a request code whatever else it asks."""
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
    if _calls(raw) >= 2:
        score += 2
        reasons.append("has function calls like name(…)")
    return score


_MAKER_REACH = 5  # "write me a small python function": the thing comes within a few words of the verb


def _asks_for_code(t: _Text) -> tuple[str, str] | None:
    """(verb, thing) when the request asks to write, build or make a piece of code."""
    if t.asked is False:
        t.asked = _find_code_ask(t)
    return t.asked


def _find_code_ask(t: _Text) -> tuple[str, str] | None:
    if not (t.words & CODE_MAKERS and t.words & CODE_THINGS):
        return None
    tokens = t.tokens
    for at, token in enumerate(tokens):
        if token in CODE_MAKERS and tokens[at + 1 : at + 2] != ["sure"]:
            for thing in tokens[at + 1 : at + 1 + _MAKER_REACH]:
                if thing in CODE_THINGS:
                    return token, thing
    return None


def _calls(raw: str) -> int:
    """How many "(" follow a name directly (range(len(a)), fetch(url)); prose puts a space first."""
    calls, at = 0, raw.find("(")
    while at != -1 and calls < 2:
        if at and raw[at - 1] in _NAME_CHARS and not raw[at - 1].isdigit():
            calls += 1
        at = raw.find("(", at + 1)
    return calls


def _code_words(t: _Text, reasons: list[str]) -> tuple[int, bool]:
    """Score from what the request says, and whether it asks for system design (premium)."""
    score = 0
    if asked := _asks_for_code(t):
        score += 2
        reasons.append(f"asks to {asked[0]} code (a {asked[1]})")
    if words := t.found(CODE_WORDS):
        score += len(words)
        reasons.append(_mentions(words))
    if design := _design(t):
        score += 2
        reasons.append(f"asks for system design ('{design}')")
    return score, design is not None


_QUANTITY_CUES = frozenset(
    "much many long old each per total left cost costs pays paid price more less twice half fastest"
    " minimum add adds".split()
)


def _numbers(t: _Text) -> int:
    """How many numbers the request holds, in digits or words."""
    if t.numbers is None:
        t.numbers = sum(1 for token in t.tokens if token[0].isdigit()) + len(t.words & NUMBER_WORDS)
    return t.numbers


def _reasoning_score(t: _Text, reasons: list[str]) -> tuple[int, bool]:
    """Mathematics, logic and careful analysis. Score, and whether it needs the premium tier."""
    score, premium = 0, False
    if proof := t.found(PROOF_WORDS):
        score += 2
        premium = True
        reasons.append(f"asks for a proof / rigour ('{proof[0]}')")
    if _has_equation(t.raw):
        t.equation = True
        score += 2
        reasons.append("maths: contains an equation or arithmetic")
    if "%" in t.raw and _numbers(t):
        score += 1
        reasons.append("maths: percentages")
    if words := t.found(MATHS_WORDS):
        score += len(words)
        reasons.append("maths: " + _mentions(words))
    numbers = _numbers(t)
    asks = "?" in t.raw or bool(t.words & {"what", "how", "when", "which", "who", "find", "is"})
    if numbers >= 2 and asks:
        if t.words & _QUANTITY_CUES:
            score += 2
            reasons.append(f"a word problem: {numbers} numbers and a quantity question")
        else:
            score += 1
            reasons.append(f"a question with {numbers} numbers in it")
    if words := t.found(LOGIC_WORDS):
        score += len(words)
        reasons.append("logic: " + _mentions(words))
    if len(family := t.words & FAMILY) >= 2:
        score += 2
        reasons.append(f"logic: family relations ({', '.join(sorted(family)[:3])})")
    if numbers and asks and "if" in t.words:
        score += 1
        reasons.append("a conditional question with numbers")
    if words := t.found(ANALYSIS_WORDS):
        score += len(words)
        reasons.append("careful analysis: " + _mentions(words))
    constraints = t.found(CONSTRAINT_WORDS)
    if len(constraints) >= 2:
        score += 1
        if len(constraints) >= MULTI_CONSTRAINT:
            premium = True
        reasons.append(f"several constraints at once ({len(constraints)}: {', '.join(constraints[:3])}…)")
    return score, premium


def _easy_intent(t: _Text) -> tuple[str, str] | None:
    """(kind, reason) when the request asks for an easy job: translate, summarise, write, extract."""
    if words := t.found(TRANSLATE_WORDS):
        return "translate", f"asks for a translation ('{words[0]}')"
    if words := t.found(SUMMARY_WORDS):
        return "summary", f"asks for a summary ('{words[0]}')"
    if _asks_for_code(t):
        return None
    if verbs := t.found(WRITING_VERBS):
        genre = t.words & GENRES
        if genre or verbs[0] not in _WRITE_ONLY:
            what = f"a {min(genre)}" if genre else f"'{verbs[0]}'"
            return "writing", f"asks for writing ({what})"
    if words := t.found(EXTRACT_WORDS):
        return "extraction", f"asks to extract ('{words[0]}')"
    return None


# "write" alone is no writing intent ("write a function"); these need a genre word after them.
_WRITE_ONLY = frozenset(
    {"write", "writing", "create", "schreibe", "schreib", "écris", "escribe", "escreva", "scrivi", "napisz"}
)


def _format_tokens(tokens: int) -> str:
    return f"~{tokens / 1000:.0f}k" if tokens >= 1000 else f"~{tokens}"


def classify(
    text: str,
    *,
    history_chars: int = 0,
    attachments_chars: int = 0,
    previous: TaskProfile | None = None,
) -> TaskProfile:
    """Classify one request. History and attachments count towards the size, not the signals.
    `previous` is the profile of the exchange this message continues, if any."""
    text = text or ""
    total_chars = len(text) + max(0, history_chars) + max(0, attachments_chars)
    tokens = -(-total_chars // CHARS_PER_TOKEN)  # ceiling: a 1-character message is 1 token
    t = _Text(text)

    code_reasons: list[str] = []
    reasoning_reasons: list[str] = []
    structure = _code_structure(t, code_reasons)
    words, design = _code_words(t, code_reasons)
    code = structure + words
    reasoning, reasoning_premium = _reasoning_score(t, reasoning_reasons)
    intent = _easy_intent(t)

    if intent is not None and not structure:
        kind, why = intent
        translating_code = kind == "translate" and len(t.words & LANGUAGES) >= 2
        if translating_code:
            code += 2
            code_reasons.append("translates between programming languages")
        elif not (kind != "writing" and t.equation):
            task = "long_document" if kind == "summary" or tokens > LONG_INPUT_TOKENS else "chat"
            reasons = [why]
            if tokens > LONG_INPUT_TOKENS:
                reasons.append(f"input is {_format_tokens(tokens)} tokens")
            return TaskProfile(task, "economy", tokens, tuple(reasons))

    if code or reasoning:
        if code >= reasoning:
            need = "standard"
            if tokens > LARGE_CODE_TOKENS and structure:
                need = "premium"
                code_reasons.append(f"large code input ({_format_tokens(tokens)} tokens)")
            elif design:
                need = "premium"
            return TaskProfile("code", need, tokens, tuple(code_reasons))
        need = "premium" if reasoning_premium else "standard"
        return TaskProfile("reasoning", need, tokens, tuple(reasoning_reasons))

    chat = t.found(CHAT_WORDS)
    if chat and set(chat) - _ACKNOWLEDGEMENTS:  # "hello, how are you?" is a new subject, not a follow-up
        return TaskProfile("chat", "economy", tokens, (f"conversation ({_mentions(chat)})",))
    if previous is not None and len(text.split()) <= FOLLOW_UP_WORDS:
        task = previous.task.replace("_", " ")
        reasons = (f"no signal of its own: continues the previous {task} exchange", *previous.reasons[:2])
        return TaskProfile(previous.task, previous.need, tokens, reasons, own_signal=False)
    if tokens > LONG_INPUT_TOKENS:
        return TaskProfile("long_document", "economy", tokens, (f"input is {_format_tokens(tokens)} tokens",))
    if easy := _plainly_easy(t):
        return TaskProfile("chat", "economy", tokens, (easy,), own_signal=False)
    return TaskProfile(
        "chat",
        "standard",
        tokens,
        ("no clear signal either way: standard, the safer choice when unsure",),
        own_signal=False,
    )


# "ok", "thanks", "lol": they acknowledge the exchange rather than start another one.
_ACKNOWLEDGEMENTS = frozenset({"ok", "thanks", "lol"})


def _plainly_easy(t: _Text) -> str | None:
    """Why a request with no hard signal is plainly easy (conversation, a simple fact), else None."""
    if words := t.found(CHAT_WORDS):
        return f"conversation ({_mentions(words)}), no code, maths, logic or analysis"
    tokens = t.tokens
    if not tokens:
        return "an empty message"
    if len(tokens) <= 3:
        return "a short message with no code, maths, logic or analysis"
    if (
        len(tokens) <= SIMPLE_QUESTION_WORDS
        and FACT_STARTS.intersection(tokens[:2])
        and not t.words & NOT_SIMPLE
    ):
        return "a simple factual question"
    return None


def previous_profile(user_messages: Sequence[str]) -> TaskProfile | None:
    """The task of the exchange a new message continues: the newest earlier question with a signal
    of its own (`user_messages` oldest first). Usually one classify call: the newest question."""
    for message in reversed(user_messages):
        profile = classify(message)
        if profile.own_signal:
            return profile
    return None


def history_questions(history: Iterable[Mapping[str, str]]) -> list[str]:
    """The person's own turns in a conversation history (the role/content dicts sent to models)."""
    return [m["content"] for m in history if m.get("role") == "user" and isinstance(m.get("content"), str)]
