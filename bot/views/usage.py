"""Block Kit for usage and spend, and the settings modal."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ContextBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    RadioButtonsElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.llm.pricing import format_usd
from bot.llm.providers import CATALOG
from bot.usage import MonthSummary, Preferences

MODE_LABELS = {
    "save": "Save: cheapest; an economy model noted for the task counts as standard",
    "balanced": "Balanced (default): standard tier or above for code, maths, logic, analysis",
    "best": "Best: the premium model first, whatever it costs",
}
TASK_LABELS = {
    "code": "Code",
    "reasoning": "Reasoning (maths, logic, analysis)",
    "long_document": "Long documents",
    "chat": "General chat",
}
SETTINGS = "settings"


def usage_blocks(summary: MonthSummary) -> list:
    blocks: list = [HeaderBlock(text="Usage this month")]
    lines = [
        f"*{summary.requests}* answer{'' if summary.requests == 1 else 's'} · spent *{format_usd(summary.spend)}* · saved *{format_usd(summary.saving)}* "
        "compared with always using the premium model"
    ]
    if summary.budget is not None:
        lines.append(f"Your budget: {format_usd(summary.spend)} of {format_usd(summary.budget)}")
    if summary.workspace_budget is not None:
        lines.append(
            f"Workspace budget: {format_usd(summary.workspace_spend)} of {format_usd(summary.workspace_budget)}"
        )
    blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(lines))))
    if summary.by_provider:
        by_provider = " · ".join(
            f"{CATALOG[p].label if p in CATALOG else p}: {n} ({format_usd(c)})"
            for p, (n, c) in sorted(summary.by_provider.items())
        )
        by_task = " · ".join(
            f"{TASK_LABELS.get(t, t)}: {n} ({format_usd(c)})" for t, (n, c) in sorted(summary.by_task.items())
        )
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"By provider: {by_provider}")]))
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"By task: {by_task}")]))
    return blocks


def _option(value: str, text: str) -> Option:
    return Option(value=value, text=text[:75])


def settings_modal(prefs: Preferences, models: list[str]) -> dict:
    mode_options = [_option(m, label) for m, label in MODE_LABELS.items()]
    pin_options = [_option("none", "No pinned model")] + [_option(m, m) for m in models[:99]]
    current_mode = prefs.mode if prefs.mode in MODE_LABELS else "balanced"
    pinned = prefs.mode if prefs.mode not in MODE_LABELS and prefs.mode in models else "none"
    blocks: list = [
        InputBlock(
            block_id="mode",
            label="How Atom picks a model",
            element=RadioButtonsElement(
                action_id="value",
                options=mode_options,
                initial_option=next(o for o in mode_options if o.value == current_mode),
            ),
        ),
        InputBlock(
            block_id="pin",
            label="Or always use this model first",
            optional=True,
            element=StaticSelectElement(
                action_id="value",
                options=pin_options,
                initial_option=next(o for o in pin_options if o.value == pinned),
            ),
        ),
    ]
    task_options = [_option("default", "Same as above")] + [_option(m, m.capitalize()) for m in MODE_LABELS]
    for task, label in TASK_LABELS.items():
        current = prefs.overrides.get(task, "default")
        blocks.append(
            InputBlock(
                block_id=f"task_{task}",
                label=f"{label}: mode",
                optional=True,
                element=StaticSelectElement(
                    action_id="value",
                    options=task_options,
                    initial_option=next((o for o in task_options if o.value == current), task_options[0]),
                ),
            )
        )
    blocks.append(
        InputBlock(
            block_id="budget",
            label="Monthly budget in US dollars",
            optional=True,
            hint="Atom stops calling models for you once this month's spend reaches it. Empty: no limit.",
            element=PlainTextInputElement(
                action_id="value",
                placeholder="e.g. 20",
                initial_value=f"{prefs.monthly_budget:g}" if prefs.monthly_budget is not None else None,
            ),
        )
    )
    return View(
        type="modal",
        callback_id=SETTINGS,
        title="Atom settings",
        submit="Save",
        close="Cancel",
        blocks=blocks,
    ).to_dict()


def budget_modal(current: float | None) -> dict:
    return View(
        type="modal",
        callback_id="workspace_budget",
        title="Workspace budget",
        submit="Save",
        close="Cancel",
        blocks=[
            InputBlock(
                block_id="budget",
                label="Monthly budget for the whole workspace, in US dollars",
                optional=True,
                hint="Empty: no limit. Over it, Atom explains and does not call any model.",
                element=PlainTextInputElement(
                    action_id="value",
                    placeholder="e.g. 500",
                    initial_value=f"{current:g}" if current is not None else None,
                ),
            )
        ],
    ).to_dict()


def parse_budget(raw: str | None) -> tuple[float | None, str | None]:
    """(budget or None for no limit, error message)."""
    text = (raw or "").strip().lstrip("$").replace(",", "")
    if not text:
        return None, None
    try:
        value = float(text)
    except ValueError:
        return None, "Enter an amount in dollars, like 20 or 12.50, or leave it empty for no limit."
    if not 0 <= value <= 1_000_000 or value != value:
        return None, "The budget must be between 0 and 1,000,000 dollars."
    if 0 < value < 0.01:
        # Rounded to cents it would be $0, which blocks every answer: say so instead.
        return None, "The smallest budget is $0.01. Enter 0 to stop all spending, or leave it empty for no limit."
    return round(value, 2), None


def settings_button():
    from slack_sdk.models.blocks import ActionsBlock, ButtonElement

    return ActionsBlock(
        block_id="usage_actions", elements=[ButtonElement(text="Model settings", action_id="settings_open")]
    )
