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
    ConversationFilter,
    ConversationSelectElement,
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
HOME_LIMIT = 8  # workflows shown in the Home tab (a Home view holds 100 blocks in all)
LIST_LIMIT = 20  # in `/atom workflows` (a message holds 50 blocks)


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


def edit_modal(workflow_id: str, name: str, phrase: str, steps_json: str, channel: str | None = None) -> dict:
    """Name, schedule phrase, step parameters (JSON) and where results go (`channel`; None: the DM),
    re-validated on submit."""
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
        InputBlock(
            block_id="output",
            label="Post results in",
            optional=True,
            hint="Leave empty for your DM with Atom. A channel is confirmed again before Enable.",
            element=ConversationSelectElement(
                action_id="value",
                placeholder="Your DM with Atom",
                initial_conversation=channel,
                filter=ConversationFilter(include=["public", "private"], exclude_bot_users=True),
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


# ---------------------------------------------------------------- the preview


def preview_blocks(
    workflow_id: str,
    spec,
    *,
    steps_in_words: list[tuple[str, bool]],
    next_runs: list[datetime],
    zone: str,
    effects: list[str],
    digest: str,
    to_connect: list[tuple[str, str]],
    cost: float = 0.0,
) -> list[dict]:
    """The plan, for the owner to check: schedule in words, next runs, steps, side effects above
    Enable. `to_connect`: (connector name, label) the owner must connect first (no Enable then)."""
    blocks: list = [header(f"New workflow: {spec.name}")]
    runs = "\n".join(f"• {_when(run, zone)}" for run in next_runs) or "• no future runs"
    blocks.append(
        SectionBlock(
            text=MarkdownTextObject(
                text=f"*When:* {spec.trigger.description or 'on its schedule'}\n*Next runs:*\n{runs}"[:3000]
            )
        )
    )
    lines = [
        f"{number}. {'⚠️ ' if effect else ''}{words}" for number, (words, effect) in enumerate(steps_in_words, 1)
    ]
    where = "your DM with Atom" if spec.output.to == "dm" else f"<#{spec.output.channel}>"
    blocks.append(SectionBlock(text=MarkdownTextObject(text=("*Steps:*\n" + "\n".join(lines))[:2900])))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"Results go to {where}.")]))
    if to_connect:
        names = ", ".join(label for _name, label in to_connect)
        blocks.append(
            SectionBlock(text=MarkdownTextObject(text=f"🔌 *Connect first:* {names}. Connect below, then ask again."))
        )
        blocks += [connect_section(name, label) for name, label in to_connect]
    if effects:
        listed = "\n".join(f"• {e}" for e in effects)
        blocks.append(
            SectionBlock(
                block_id="workflow_side_effects",
                text=MarkdownTextObject(
                    text=f"⚠️ *This workflow acts outside your DM.* Enabling it confirms, on every run:\n{listed}"[:3000]
                ),
            )
        )
    buttons = []
    if not to_connect:
        buttons.append(
            ButtonElement(
                text="Enable", action_id="workflow_enable", value=f"{workflow_id}:{digest}", style="primary"
            )
        )
    buttons += [
        ButtonElement(text="Edit", action_id="workflow_edit", value=workflow_id),
        ButtonElement(text="Cancel", action_id="workflow_cancel", value=workflow_id),
    ]
    blocks.append(ActionsBlock(block_id="workflow_preview", elements=buttons))
    if cost:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"Planning cost {format_usd(cost)}.")]))
    return serialise(blocks)


def connect_section(name: str, label: str) -> SectionBlock:
    """The connectors feature's own Connect button (`connector_connect`): the click opens a private
    link for whoever clicks, so it only ever connects the clicker's (the owner's) account. One
    section per service because Slack wants an action_id once per block."""
    return SectionBlock(
        block_id=f"workflow_connect_{name}"[:255],
        text=MarkdownTextObject(text=f"⚪ *{label}*: not connected"),
        accessory=ButtonElement(text="Connect", action_id="connector_connect", value=name, style="primary"),
    )


def notice_blocks(text: str) -> list[dict]:
    return serialise([SectionBlock(text=MarkdownTextObject(text=text[:3000]))])


# ---------------------------------------------------------------- the list and the history


def workflow_section(overview, zone: str) -> list:
    """One workflow in the list: name, schedule, next run, last status, its buttons."""
    workflow, spec = overview.workflow, overview.spec
    state = {"enabled": "▶️ running", "paused": "⏸️ paused", "draft": "📝 draft"}.get(workflow.status, workflow.status)
    last = f"{STATUS_ICON.get(workflow.last_status, '·')} {workflow.last_status}" if workflow.last_status else "never run"
    text = (
        f"*{workflow.name}* · {state}\n{spec.trigger.description or 'on its schedule'}"
        f" · next: {_when(overview.next_run, zone) if workflow.status == 'enabled' else '—'} · last: {last}"
    )
    if workflow.status == "paused" and workflow.paused_reason:
        text += f"\n_{workflow.paused_reason}_"
    value = workflow.id
    toggle = (
        ButtonElement(text="Pause", action_id="workflow_pause", value=value)
        if workflow.status == "enabled"
        else ButtonElement(text="Resume", action_id="workflow_resume", value=value)
    )
    buttons = [
        toggle,
        ButtonElement(text="Run now", action_id="workflow_run_now", value=value),
        ButtonElement(text="Edit", action_id="workflow_edit", value=value),
        ButtonElement(text="History", action_id="workflow_history", value=value),
        ButtonElement(
            text="Delete", action_id="workflow_delete", value=value, style="danger", confirm=confirm_delete()
        ),
    ]
    return [
        SectionBlock(text=MarkdownTextObject(text=text[:3000])),
        ActionsBlock(block_id=f"workflow_{workflow.id}"[:255], elements=buttons),
    ]


def list_blocks(overviews: list, zone: str, limit_note: str = "", limit: int = LIST_LIMIT) -> list:
    """`/atom workflows` and the Home tab's section (unserialised, for the Home view to embed)."""
    blocks: list = [header("Your workflows")]
    if not overviews:
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text="No workflows yet. Try `/atom workflow every weekday at 9am, summarize my unread email`."
                )
            )
        )
        return blocks
    for overview in overviews[:limit]:  # 2 blocks each
        blocks.extend(workflow_section(overview, zone))
    if len(overviews) > limit:
        more = f"…and {len(overviews) - limit} more: `/atom workflows` lists {LIST_LIMIT}."
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=more)]))
    if limit_note:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=limit_note)]))
    return blocks


def history_modal(name: str, runs: list, zone: str) -> dict:
    blocks: list = []
    if not runs:
        blocks.append(SectionBlock(text=MarkdownTextObject(text="No runs yet.")))
    for run in runs[:20]:
        when = _when(run.due_at if run.due_at.tzinfo else run.due_at.replace(tzinfo=ZoneInfo("UTC")), zone)
        line = f"{STATUS_ICON.get(run.status, '·')} *{run.status}* · {when} · {run.trigger}"
        if run.cost_usd:
            line += f" · {format_usd(run.cost_usd)}"
        steps = ", ".join(f"{s.get('id')} {s.get('status')} {s.get('ms', 0)} ms" for s in (run.steps or [])[:6])
        if steps:
            line += f"\n{steps}"
        if run.error:
            line += f"\n_{run.error[:300]}_"
        blocks.append(SectionBlock(text=MarkdownTextObject(text=line[:3000])))
    return View(
        type="modal", callback_id="workflow_history", title="Workflow history", close="Close",
        blocks=[header(name), *blocks],
    ).to_dict()


def serialise_list(blocks: list) -> list[dict]:
    return serialise(blocks)
