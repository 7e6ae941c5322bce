"""Block Kit for answers Slack would not take, answers a crash cut short, and long waits."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.views import serialise

UNDELIVERED_TEXT = (
    "⚠️ Slack did not accept the answer, so I could not show it here. Your provider did answer: "
    "it is kept for you. Press *Retry* to have it delivered again."
)
INTERRUPTED_TEXT = "⚠️ Atom restarted before this answer was finished."
REDELIVER = "answer_redeliver"
TRY_AGAIN = "answer_try_again"


def waiting_text(provider_label: str) -> str:
    return f"⏳ Still waiting for {provider_label} to answer…"


def undelivered_blocks(delivery_id: str) -> list[dict]:
    return serialise(
        [
            SectionBlock(text=MarkdownTextObject(text=UNDELIVERED_TEXT)),
            ActionsBlock(
                block_id="undelivered",
                elements=[
                    ButtonElement(text="Retry", action_id=REDELIVER, value=delivery_id, style="primary")
                ],
            ),
        ]
    )


def interrupted_blocks(delivery_id: str) -> list[dict]:
    """Appended under a half answer (or posted alone when nothing had been shown)."""
    return serialise(
        [
            ContextBlock(elements=[MarkdownTextObject(text=INTERRUPTED_TEXT)]),
            ActionsBlock(
                block_id="interrupted",
                elements=[
                    ButtonElement(text="Try again", action_id=TRY_AGAIN, value=delivery_id, style="primary")
                ],
            ),
        ]
    )
