"""Block Kit for workflows: a run's output, failure and pause notices, the plan preview, the list
(`/atom workflows` and the Home tab), the history and the edit modal.

Button values carry only a workflow id; every handler re-checks that the clicking person owns it.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.llm.pricing import format_usd
from bot.views import serialise
from bot.views.answers import split_text

STATUS_ICON = {
    "success": "✅",
    "failed": "❌",
    "skipped": "⏭️",
    "missed": "⏰",
    "running": "⏳",
    "": "·",
}
EDIT_MODAL = "workflow_edit"


def _when(moment: datetime | None, zone: str) -> str:
    if moment is None:
        return "not scheduled"
    local = moment.astimezone(ZoneInfo(zone))
    return local.strftime("%a %d %b %Y, %H:%M ") + (local.tzname() or zone)


def run_output_blocks(name: str, text: str, cost: float, notes: list[str]) -> list[dict]:
    parts = split_text(text or "(no output)")
    blocks: list = [MarkdownBlock(text=parts[0])]
    line = f"Workflow *{name}* · {format_usd(cost)}"
    elements = [MarkdownTextObject(text=line)] + [MarkdownTextObject(text=n[:300]) for n in notes[:5]]
    blocks.append(ContextBlock(elements=elements))
    return serialise(blocks)


def failure_blocks(workflow_id: str, name: str, reason: str, *, paused: bool) -> list[dict]:
    text = f"❌ Workflow *{name}* failed: {reason}"
    blocks: list = [SectionBlock(text=MarkdownTextObject(text=text[:3000]))]
    if paused:
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text="It failed 3 times in a row, so I paused it. Fix the cause, then *Resume* it "
                    "from `/atom workflows`."
                )
            )
        )
        buttons = [ButtonElement(text="Resume", action_id="workflow_resume", value=workflow_id)]
    else:
        buttons = [
            ButtonElement(text="Retry", action_id="workflow_retry", value=workflow_id, style="primary"),
            ButtonElement(text="Pause", action_id="workflow_pause", value=workflow_id),
        ]
    blocks.append(ActionsBlock(block_id="workflow_failure", elements=buttons))
    return serialise(blocks)


def paused_notice_blocks(names: list[str], reason: str) -> list[dict]:
    listed = ", ".join(f"*{n}*" for n in names[:20])
    return serialise([SectionBlock(text=MarkdownTextObject(text=f"⏸️ I paused {listed}: {reason}"[:3000]))])


def edit_modal(workflow_id: str, name: str, phrase: str, steps_json: str) -> dict:
    """Name, schedule phrase and step parameters (JSON), re-validated on submit."""
    blocks = [
        InputBlock(
            block_id="name",
            label="Name",
            element=PlainTextInputElement(action_id="value", initial_value=name[:80], max_length=80),
        ),
        InputBlock(
            block_id="schedule",
            label="When",
            hint="In words, like “every weekday at 9am” or “every Monday at 8:30”.",
            element=PlainTextInputElement(action_id="value", initial_value=phrase[:300], max_length=300),
        ),
        InputBlock(
            block_id="steps",
            label="Steps (JSON)",
            hint="Each step's parameters. Side effects you add here are shown again before they run.",
            element=PlainTextInputElement(
                action_id="value", initial_value=steps_json[:3000], multiline=True, max_length=3000
            ),
        ),
    ]
    return View(
        type="modal",
        callback_id=EDIT_MODAL,
        private_metadata=workflow_id,
        title="Edit workflow",
        submit="Preview",
        close="Cancel",
        blocks=blocks,
    ).to_dict()


def confirm_delete() -> ConfirmObject:
    return ConfirmObject(
        title="Delete workflow?", text="It stops running and its history is deleted.", confirm="Delete", deny="Keep"
    )


def divider() -> DividerBlock:
    return DividerBlock()


def header(text: str) -> HeaderBlock:
    return HeaderBlock(text=text[:150])
