"""Prompt caching: marking the stable prefix of a request so providers can reuse it.

Owns `with_cache_breakpoints`, a pure function over the messages sent to litellm. Anthropic caches
only what the request marks with `cache_control` (up to four breakpoints): Atom marks the system
prompt, which never changes, and the last turn before the new question, so the next question in the
same conversation re-reads everything before it from the cache at a tenth of the input price.
Prefixes shorter than Anthropic's minimum (1,024–4,096 tokens by model) are simply not cached.
OpenAI, Azure, DeepSeek and Gemini cache long prompts on their own and report the cached tokens in
their usage, which bot.llm.calls reads and bot.llm.pricing prices.
"""

from __future__ import annotations

EPHEMERAL = {"type": "ephemeral"}
MARKED_PROVIDERS = frozenset({"anthropic"})


def _marked(message: dict) -> dict:
    content = message.get("content")
    if isinstance(content, str):
        content = [{"type": "text", "text": content}]
    elif not isinstance(content, list) or not content:
        return message
    else:
        content = [dict(part) for part in content]
    content[-1] = {**content[-1], "cache_control": EPHEMERAL}
    return {**message, "content": content}


def with_cache_breakpoints(provider: str, messages: list[dict]) -> list[dict]:
    """The messages with cache breakpoints for `provider`; unchanged where it caches on its own."""
    if provider not in MARKED_PROVIDERS or not messages:
        return messages
    marked = list(messages)
    if marked[0].get("role") == "system":
        marked[0] = _marked(marked[0])
    # The turn before the new question ends the prefix the next question will share.
    if len(marked) >= 3 and marked[-2].get("role") != "system":
        marked[-2] = _marked(marked[-2])
    return marked
