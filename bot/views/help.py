"""The `/atom help` answer."""

from __future__ import annotations

from slack_sdk.models.blocks import ContextBlock, HeaderBlock, MarkdownTextObject, SectionBlock

COMMANDS: list[tuple[str, str]] = [
    ("/atom <question>", "ask Atom anything (same as `/atom ask <question>`); the answer is private"),
    ("/atom keys", "add, replace, check or remove your AI provider keys (private modal)"),
    ("/atom settings", "choose how Atom picks a model: Save, Balanced or Best"),
    ("/atom usage", "this month's requests, spend and savings"),
    ("/atom connect <service>", "connect Google Calendar, Gmail, Google Drive or Asana (private link)"),
    ("/atom workflow <what and when>", "plan a scheduled workflow, e.g. `every weekday at 9, summarize my unread email`"),
    ("/atom workflows", "your workflows: pause, resume, run now, edit, history, delete"),
    ("/atom forget", "delete your conversation history with Atom"),
    ("/atom export", "your own data from Atom as a JSON file in your DM (keys as hints only)"),
    ("/atom admin", "workspace admins: providers, shared keys, budgets, audit log"),
    ("/atom help", "this list"),
]


def help_blocks(note: str | None = None) -> list:
    blocks: list = []
    if note:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=note)))
    blocks.append(HeaderBlock(text="Atom: what you can ask"))
    lines = "\n".join(f"• `{cmd}`: {what}" for cmd, what in COMMANDS)
    blocks.append(SectionBlock(text=MarkdownTextObject(text=lines)))
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="You can also DM me, open me in the Assistant panel, or mention @Atom in a channel."
                )
            ]
        )
    )
    return blocks
