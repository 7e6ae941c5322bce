"""Task cards: the thinking steps Atom shows in a streamed answer (Slack's `task_update` chunks).

While Atom works, the stream shows what it is doing — the model it chose and why, a provider
that failed and the one tried next, the channel it read — in Slack's timeline display, then the
answer, with the cost line at the end. Pure builders over `slack_sdk.models.messages.chunk`, so
a card Slack would reject fails in tests; `bot/handlers/replies.py` sends them.
"""

from __future__ import annotations

from slack_sdk.models.messages.chunk import TaskUpdateChunk

from bot.llm.calls import Attempt
from bot.views.answers import model_label

STATUSES = ("pending", "in_progress", "complete", "error")
DISPLAY_MODE = "timeline"  # one card per step, in order (the other mode, "plan", groups them)
TITLE_LIMIT = 150
DETAILS_LIMIT = 500
TASK_NAMES = {
    "code": "code",
    "reasoning": "reasoning",
    "long_document": "long document",
    "chat": "general",
}


def task_card(step_id: str, title: str, status: str = "complete", details: str | None = None) -> dict:
    """One `task_update` chunk as Slack's wire dict. The same `step_id` updates the same card."""
    if status not in STATUSES:
        raise ValueError(f"a task card's status is one of {STATUSES}, not {status!r}")
    chunk = TaskUpdateChunk(
        id=step_id[:64],
        title=_clip(title, TITLE_LIMIT) or "Working",
        status=status,
        details=_clip(details, DETAILS_LIMIT) if details else None,
    )
    return chunk.to_dict()


def model_choice(task: str, model: str, mode: str) -> tuple[str, str]:
    """("Choosing a model", "code task → claude-sonnet-4-5 · Balanced")."""
    name = TASK_NAMES.get(task, task.replace("_", " "))
    return "Choosing a model", f"{name} task → {model_label(model)} · {mode.capitalize()}"


def failover(failed: Attempt, next_model: str | None) -> str:
    """"Anthropic was rate-limited, trying gpt-4o-mini"."""
    then = f", trying {model_label(next_model)}" if next_model else ""
    return f"{failed.label} {failed.detail}{then}"


def reading(place: str, count: int, what: str = "message") -> tuple[str, str]:
    """("Reading #launch", "40 recent messages")."""
    return f"Reading {place}", f"{count} {what}{'s' if count != 1 else ''}"


def _clip(text: str | None, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
