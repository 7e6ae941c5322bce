"""Fit a conversation into a model's context window, newest turns first.

Counting uses litellm's token counter for the target model (bundled tokenizers, offline).
"""

from __future__ import annotations

from collections.abc import Callable

Message = dict[str, str]
Counter = Callable[[str, list[Message]], int]
TRUNCATION_MARK = "\n\n[… middle of this message left out to fit the model's context …]\n\n"


def litellm_counter(litellm) -> Counter:
    def count(model: str, messages: list[Message]) -> int:
        return int(litellm.token_counter(model=model, messages=messages))

    return count


def _surely_fits(messages: list[Message], budget_tokens: int) -> bool:
    """A token is at least one byte in every tokenizer these providers use, plus a few tokens of
    framing per message: when the bytes fit, the tokens do, and no tokenizer needs loading
    (tiktoken's encodings cost ~100 MB of memory)."""
    return sum(len(m["content"].encode()) + 8 for m in messages) <= budget_tokens


def fit(
    system: Message,
    history: list[Message],
    question: Message,
    *,
    model: str,
    budget_tokens: int,
    count: Counter,
) -> list[Message]:
    """System prompt + as much recent history as fits + the question (cut in the middle if it alone is too big)."""
    if _surely_fits([system, *history, question], budget_tokens):
        return [system, *history, question]
    fixed = [system, question]
    if count(model, fixed) > budget_tokens:
        question = _shorten(system, question, model=model, budget_tokens=budget_tokens, count=count)
        return [system, question]
    kept: list[Message] = []
    # Newest first: a thread's latest turns matter most.
    for turn in reversed(history):
        candidate = [system, turn, *kept, question]
        if count(model, candidate) > budget_tokens:
            break
        kept.insert(0, turn)
    return [system, *kept, question]


def _shorten(
    system: Message, question: Message, *, model: str, budget_tokens: int, count: Counter
) -> Message:
    text = question["content"]
    low, high = 0, len(text)
    best = ""
    while low <= high:  # binary search on kept characters, keeping the head and the tail
        mid = (low + high) // 2
        half = mid // 2
        trial = text[:half] + TRUNCATION_MARK + text[len(text) - half :] if mid < len(text) else text
        if count(model, [system, {"role": question["role"], "content": trial}]) <= budget_tokens:
            best, low = trial, mid + 1
        else:
            high = mid - 1
    return {"role": question["role"], "content": best or TRUNCATION_MARK}
