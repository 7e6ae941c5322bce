"""The Approve / Cancel message for a side effect proposed in chat, and what replaces it."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.views import serialise

PREVIEW_LIMIT = 2_900  # a section's text holds 3,000


def _preview_block(preview: str) -> SectionBlock:
    # Plain text: what the model wrote (addresses, links) shows literally, never as a link or mention.
    return SectionBlock(text=PlainTextObject(text=(preview or " ")[:PREVIEW_LIMIT], emoji=False))


def approval_blocks(approval_id: str, label: str, preview: str, warning: str = "") -> list[dict]:
    blocks = [
        SectionBlock(text=MarkdownTextObject(text=f"*Approve this {label} action?* Nothing happens until you click Approve.")),
        _preview_block(preview),
    ]
    if warning:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"⚠️ {warning}")]))
    blocks.append(
        ActionsBlock(
            block_id="connector_approval",
            elements=[
                ButtonElement(text="Approve", action_id="connector_approve", value=approval_id, style="primary"),
                ButtonElement(text="Cancel", action_id="connector_cancel", value=approval_id),
            ],
        )
    )
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text="Only you can approve this, once, within 24 hours.")]))
    return serialise(blocks)


def approval_text(label: str, preview: str) -> str:
    return f"Approve this {label} action? {preview[:200]}"


def decided_blocks(preview: str, outcome: str) -> list[dict]:
    blocks = [SectionBlock(text=MarkdownTextObject(text=outcome[:PREVIEW_LIMIT]))]
    if preview:
        blocks.append(_preview_block(preview))
    return serialise(blocks)
