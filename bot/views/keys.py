"""Block Kit for provider keys: the providers list (Home tab and `/atom keys`), the key form,
results, the admin section and the audit log. Nothing here ever receives a key, only hints."""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.llm.providers import CATALOG, Provider, with_article
from bot.vault import NEEDS_REENTRY, PERSONAL, WORKSPACE, KeyInfo, ProviderState
from bot.views.modal import info_modal

KEY_FORM = "key_form"  # callback ids are "key_form:<provider>:<scope>"
STATUS_TEXT = {
    "ok": "working",
    "unchecked": "not checked",
    "failing": "failing",
    NEEDS_REENTRY: "needs re-entry",
    "checking": "checking…",
}
STATUS_ICON = {"ok": "✅", "unchecked": "⚪", "failing": "❌", NEEDS_REENTRY: "⚠️", "checking": "⏳"}


EXTERNAL_TOGGLE = "ws_external_toggle"

def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


def describe_key(info: KeyInfo) -> str:
    parts = [
        f"`{info.hint}`",
        f"{STATUS_ICON.get(info.status, '')} {STATUS_TEXT.get(info.status, info.status)}",
    ]
    parts.append(f"added {_when(info.created_at)}")
    if info.checked_at:
        parts.append(f"last checked {_when(info.checked_at)}")
    text = " · ".join(parts)
    if info.status in ("failing", NEEDS_REENTRY) and info.status_detail:
        text += f"\n_{info.status_detail}_"
    if info.settings.get("endpoint"):
        deployments = ", ".join(f"{d} ({m})" for d, m in (info.settings.get("deployments") or {}).items())
        text += f"\n{info.settings['endpoint']} · {deployments}"
    return text


def _used_line(state: ProviderState) -> str:
    if state.blocked:
        return "🚫 Blocked by your workspace admin."
    effective = state.effective
    if effective is None:
        return "Not usable yet: add a key." if not state.personal else "Your key is not usable: replace it."
    return (
        "Atom uses *your key*."
        if effective.scope == PERSONAL
        else "Atom uses the *workspace key* (shared by an admin)."
    )


def _button(
    text: str, action_id: str, value: str, style: str | None = None, confirm: ConfirmObject | None = None
):
    return ButtonElement(text=text, action_id=action_id, value=value, style=style, confirm=confirm)


def _remove_confirm(provider: Provider, scope: str) -> ConfirmObject:
    whose = "the workspace's" if scope == WORKSPACE else "your"
    return ConfirmObject(
        title="Remove key?",
        text=f"Remove {whose} {provider.label} key? It is deleted from Atom's database.",
        confirm="Remove",
        deny="Keep it",
        style="danger",
    )


def provider_blocks(states: list[ProviderState]) -> list:
    """The person's providers: state and Add / Replace / Check / Remove."""
    blocks: list = [
        HeaderBlock(text="AI providers"),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="Your keys are encrypted at rest and only you can use them. Atom shows only the last 4 characters."
                )
            ]
        ),
    ]
    for state in states:
        provider = state.provider
        mine = state.personal
        line = f"*{provider.label}*: " + (describe_key(mine) if mine else "not set")
        if state.workspace and not mine:
            line += f"\nWorkspace key available: `{state.workspace.hint}`"
        line += f"\n{_used_line(state)}"
        blocks.append(SectionBlock(block_id=f"provider_{provider.id}", text=MarkdownTextObject(text=line)))
        buttons = [
            _button("Replace" if mine else "Add key", "key_add", provider.id, None if mine else "primary"),
        ]
        if mine:
            buttons.append(_button("Check", "key_check", provider.id))
            buttons.append(
                _button("Remove", "key_remove", provider.id, "danger", _remove_confirm(provider, PERSONAL))
            )
        blocks.append(ActionsBlock(block_id=f"provider_actions_{provider.id}", elements=buttons))
    return blocks


def admin_blocks(states: list[ProviderState], allow_external: bool = False) -> list:
    """Workspace keys, blocked providers and Slack Connect guests, for admins and owners."""
    blocks: list = [
        HeaderBlock(text="Workspace settings (admins)"),
        ContextBlock(
            elements=[
                MarkdownTextObject(text="Workspace keys are used by members who have not added their own.")
            ]
        ),
    ]
    for state in states:
        provider = state.provider
        ws = state.workspace
        line = f"*{provider.label}*: workspace key " + (describe_key(ws) if ws else "not set")
        line += "\n🚫 Blocked for everyone in this workspace." if state.blocked else "\nAllowed."
        blocks.append(SectionBlock(block_id=f"ws_provider_{provider.id}", text=MarkdownTextObject(text=line)))
        buttons = [_button("Replace workspace key" if ws else "Set workspace key", "ws_key_add", provider.id)]
        if ws:
            buttons.append(_button("Check", "ws_key_check", provider.id))
            buttons.append(
                _button(
                    "Remove", "ws_key_remove", provider.id, "danger", _remove_confirm(provider, WORKSPACE)
                )
            )
        buttons.append(
            _button("Unblock", "provider_unblock", provider.id)
            if state.blocked
            else _button("Block", "provider_block", provider.id, "danger")
        )
        blocks.append(ActionsBlock(block_id=f"ws_actions_{provider.id}", elements=buttons))
    blocks += external_blocks(allow_external)
    blocks.append(
        ActionsBlock(block_id="admin_more", elements=[_button("Audit log", "audit_open", "recent")])
    )
    return blocks


def external_blocks(allowed: bool) -> list:
    """Whether people from other organisations (Slack Connect channels) may spend the workspace keys."""
    state = (
        "✅ *Allowed*: they use the workspace keys when they have none of their own."
        if allowed
        else "🚫 *Not allowed* (the default): they need keys of their own or of their own workspace."
    )
    return [
        SectionBlock(
            block_id="ws_external",
            text=MarkdownTextObject(
                text=f"*People from other organisations* (Slack Connect channels) and the workspace keys\n{state}"
            ),
        ),
        ActionsBlock(
            block_id="ws_external_actions",
            elements=[
                _button("Stop allowing", EXTERNAL_TOGGLE, "off", "danger")
                if allowed
                else _button("Allow", EXTERNAL_TOGGLE, "on")
            ],
        ),
    ]


def keys_modal(states: list[ProviderState], admin: bool = False, allow_external: bool = False) -> dict:
    blocks = provider_blocks(states) + (admin_blocks(states, allow_external) if admin else [])
    title = "AI keys and admin" if admin else "Your AI keys"
    return View(type="modal", callback_id="keys_manage", title=title, close="Done", blocks=blocks).to_dict()


def key_form(provider: Provider, scope: str, *, validate: bool, error: str | None = None) -> dict:
    whose = "the workspace" if scope == WORKSPACE else "you"
    intro = (
        f"Paste {'a' if scope == WORKSPACE else 'your'} {provider.label} API key ({provider.key_example}). "
        f"Get one at <{provider.console_url}|{provider.label}>. It is encrypted before it is stored, "
        f"and only {whose} can use it."
    )
    if validate:
        intro += " Atom checks it with one tiny request before saving."
    blocks: list = [SectionBlock(text=MarkdownTextObject(text=intro))]
    if error:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f"❌ {error}")))
    blocks.append(
        InputBlock(
            block_id="key",
            label="API key",
            element=PlainTextInputElement(action_id="value", placeholder=provider.key_example[:150]),
        )
    )
    for field in provider.fields:
        blocks.append(
            InputBlock(
                block_id=field.name,
                label=field.label,
                optional=field.optional,
                hint=field.hint or None,
                element=PlainTextInputElement(
                    action_id="value",
                    placeholder=field.placeholder,
                    multiline=field.multiline,
                    initial_value=field.default or None,
                ),
            )
        )
    title = f"{provider.label} key" if len(provider.label) <= 20 else "Provider key"
    return View(
        type="modal",
        callback_id=f"{KEY_FORM}:{provider.id}:{scope}",
        title=title,
        submit="Check and save" if validate else "Save",
        close="Cancel",
        blocks=blocks,
    ).to_dict()


def message_modal(title: str, text: str) -> dict:
    return info_modal(title, [SectionBlock(text=MarkdownTextObject(text=text))], callback_id="atom_message")


def checking_modal(provider: Provider) -> dict:
    return message_modal(
        f"{provider.label} key"[:24], f"⏳ Checking your {provider.label} key with one tiny request…"
    )


def audit_modal(events) -> dict:
    blocks: list = []
    if not events:
        blocks.append(SectionBlock(text=MarkdownTextObject(text="Nothing recorded yet.")))
    lines = [
        f"{_when(e.created_at)} · <@{e.actor_user_id}> · *{e.action.replace('_', ' ')}*"
        + (f" · {CATALOG[e.provider].label if e.provider in CATALOG else e.provider}" if e.provider else "")
        + (" (workspace)" if e.scope == WORKSPACE else "")
        for e in events
    ]
    for start in range(0, len(lines), 10):  # a section holds 3,000 characters
        blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(lines[start : start + 10])[:3000])))
    return View(
        type="modal", callback_id="audit_log", title="Audit log", close="Close", blocks=blocks
    ).to_dict()


def pasted_key_text(provider: Provider | None) -> str:
    what = f"{with_article(provider.label)} API key" if provider else "an API key"
    where = f" at <{provider.console_url}|{provider.label}>" if provider else " at your provider"
    return (
        f"⚠️ Your message seems to contain {what}. I did not send it to any AI model and did not store it. "
        f"Anyone who can read this conversation can see it, so please revoke it{where} and create a new one, "
        "then add the new key in the private form below."
    )
