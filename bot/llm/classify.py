"""Task classification: what kind of job a request is and the least model tier it needs.

Owns `classify()`, a deterministic scorer that runs before every model call, so it must be fast
(tens of µs; bench/classify.py times it over the labelled set) and explainable: every decision
carries human-readable reasons for the "Why this model?" view. The words it looks for live in
bot.llm.lexicon, the code and maths shapes in bot.llm.shapes; tests/data/routing/ holds the
labelled prompts it is measured on (docs/routing.md).

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

Why it is fast: it runs right after a model call, with the CPU caches cold, so what counts is the
memory it touches. The text's words are looked up once each, in one table that holds every listed
word with the bits of the lists it is in (bot.llm.lexicon INDEX, read by bot.llm.shapes `Text`);
every later question ("any maths words?", "a family word?") is a bit test, and only lists whose bit
is set are read. The few regexes (code lines, SQL, tracebacks, equations, design phrases) run only
when a cheap substring test says they might match, and the common path avoids what is costly cold
(generators, max(), sorted() with a key): bench/classify_cold.py measures it that way. Signals are read from the first 1,200 and last
400 characters (where people put the ask and where pastes show their shape), so a 200k-character
paste costs the same as a short question; the token estimate always counts every character.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.llm.lexicon import (
    ANALYSIS_WORDS,
    CHAT_WORDS,
    CODE_MAKERS,
    CODE_THINGS,
    CODE_WORDS,
    CONDITIONAL,
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
    QUANTITY_CUES,
    QUESTION_WORDS,
    SUMMARY_WORDS,
    TRANSLATE_WORDS,
    WRITING_VERBS,
)
from bot.llm.shapes import (
    Text,
    call_count,
    code_punctuation,
    design_phrase,
    has_equation,
    has_trace,
    looks_like_code,
)

TASKS = ("code", "reasoning", "long_document", "chat")
HARD_TASKS = ("code", "reasoning")
CHARS_PER_TOKEN = 4  # the usual English-text rule of thumb; good enough for choosing a model
LONG_INPUT_TOKENS = 6_000  # above this a request is a long-document job even without "summarise"
LARGE_CODE_TOKENS = 4_000  # code this big (a whole module, a long log) needs the premium tier
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


def _mentions(words: Sequence[str]) -> str:
    """ "mentions 'a', 'b', 'c' …" for a non-empty list of words (a join, not a generator: cheaper cold)."""
    shown = "', '".join(words[:MAX_KEYWORD_REASONS])
    return f"mentions '{shown}'{' …' if len(words) > MAX_KEYWORD_REASONS else ''}"


def _code_structure(t: Text, reasons: list[str]) -> int:
    """Shapes only code has: these make a request code whatever else it asks."""
    score = 0
    raw = t.raw
    if "```" in raw:
        score += 2
        reasons.append("contains a code block")
    if looks_like_code(t):
        score += 2
        reasons.append("has lines that look like code (def/class/import/SELECT…)")
    if has_trace(t):
        score += 2
        reasons.append("contains a stack trace or error output")
    if code_punctuation(raw):
        score += 2
        reasons.append("heavy use of { } ; like source code")
    if call_count(raw) >= 2:
        score += 2
        reasons.append("has function calls like name(…)")
    return score


_MAKER_REACH = 5  # "write me a small python function": the thing comes within a few words of the verb


def _asks_for_code(t: Text) -> tuple[str, str] | None:
    """(verb, thing) when the request asks to write, build or make a piece of code."""
    if t.asked is False:
        t.asked = _find_code_ask(t)
    return t.asked


def _find_code_ask(t: Text) -> tuple[str, str] | None:
    if not (t.mask & CODE_MAKERS.bit and t.mask & CODE_THINGS.bit):
        return None
    tokens = t.tokens
    for at, token in enumerate(tokens):
        if token in CODE_MAKERS and tokens[at + 1 : at + 2] != ["sure"]:
            for thing in tokens[at + 1 : at + 1 + _MAKER_REACH]:
                if thing in CODE_THINGS:
                    return token, thing
    return None


def _code_words(t: Text, reasons: list[str]) -> tuple[int, bool]:
    """Score from what the request says, and whether it asks for system design (premium)."""
    score = 0
    if asked := _asks_for_code(t):
        score += 2
        reasons.append(f"asks to {asked[0]} code (a {asked[1]})")
    if words := t.found(CODE_WORDS):
        score += len(words)
        reasons.append(_mentions(words))
    if design := design_phrase(t):
        score += 2
        reasons.append(f"asks for system design ('{design}')")
    return score, design is not None


def _numbers(t: Text) -> int:
    """How many numbers the request holds, in digits or words."""
    if t.numbers is None:
        count = len(NUMBER_WORDS.intersection(t.hits)) if t.mask & NUMBER_WORDS.bit else 0
        for token in t.tokens:
            if token[0].isdigit():
                count += 1
        t.numbers = count
    return t.numbers


def _reasoning_score(t: Text, reasons: list[str]) -> tuple[int, bool]:
    """Mathematics, logic and careful analysis. Score, and whether it needs the premium tier."""
    score, premium = 0, False
    if proof := t.found(PROOF_WORDS):
        score += 2
        premium = True
        reasons.append(f"asks for a proof / rigour ('{proof[0]}')")
    if has_equation(t.raw):
        t.equation = True
        score += 2
        reasons.append("maths: contains an equation or arithmetic")
    if "%" in t.raw and _numbers(t):
        score += 1
        reasons.append("maths: percentages")
    if words := t.found(MATHS_WORDS):
        score += len(words)
        reasons.append(f"maths: {_mentions(words)}")
    numbers = _numbers(t)
    asks = "?" in t.raw or t.mask & QUESTION_WORDS.bit != 0
    if numbers >= 2 and asks:
        if t.mask & QUANTITY_CUES.bit:
            score += 2
            reasons.append(f"a word problem: {numbers} numbers and a quantity question")
        else:
            score += 1
            reasons.append(f"a question with {numbers} numbers in it")
    if words := t.found(LOGIC_WORDS):
        score += len(words)
        reasons.append(f"logic: {_mentions(words)}")
    if t.mask & FAMILY.bit and len(family := FAMILY.intersection(t.hits)) >= 2:
        score += 2
        reasons.append(f"logic: family relations ({', '.join(sorted(family)[:3])})")
    if numbers and asks and t.mask & CONDITIONAL.bit:
        score += 1
        reasons.append("a conditional question with numbers")
    if words := t.found(ANALYSIS_WORDS):
        score += len(words)
        reasons.append(f"careful analysis: {_mentions(words)}")
    constraints = t.found(CONSTRAINT_WORDS)
    if len(constraints) >= 2:
        score += 1
        if len(constraints) >= MULTI_CONSTRAINT:
            premium = True
        reasons.append(f"several constraints at once ({len(constraints)}: {', '.join(constraints[:3])}…)")
    return score, premium


def _easy_intent(t: Text) -> tuple[str, str] | None:
    """(kind, reason) when the request asks for an easy job: translate, summarise, write, extract."""
    if words := t.found(TRANSLATE_WORDS):
        return "translate", f"asks for a translation ('{words[0]}')"
    if words := t.found(SUMMARY_WORDS):
        return "summary", f"asks for a summary ('{words[0]}')"
    if _asks_for_code(t):
        return None
    if verbs := t.found(WRITING_VERBS):
        genre = GENRES.intersection(t.hits)
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
    # Conditionals, not max(): cold, a builtin's argument parsing costs more than the sum.
    total_chars = len(text)
    total_chars += history_chars if history_chars > 0 else 0
    total_chars += attachments_chars if attachments_chars > 0 else 0
    tokens = -(-total_chars // CHARS_PER_TOKEN)  # ceiling: a 1-character message is 1 token
    t = Text(text)

    code_reasons: list[str] = []
    reasoning_reasons: list[str] = []
    structure = _code_structure(t, code_reasons)
    words, design = _code_words(t, code_reasons)
    code = structure + words
    reasoning, reasoning_premium = _reasoning_score(t, reasoning_reasons)
    intent = _easy_intent(t)

    if intent is not None and not structure:
        kind, why = intent
        translating_code = kind == "translate" and len(LANGUAGES.intersection(t.hits)) >= 2
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
        reasons = (
            f"no signal of its own: continues the previous {task} exchange ({'; '.join(previous.reasons[:2])})",
        )
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


def _plainly_easy(t: Text) -> str | None:
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
        and (tokens[0] in FACT_STARTS or tokens[1] in FACT_STARTS)
        and not t.mask & NOT_SIMPLE.bit
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
