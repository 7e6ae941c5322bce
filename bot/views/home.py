"""The App Home tab."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View


def home_view(sections: list[list] | None = None) -> dict:
    """The Home tab: a welcome, then each feature's section (providers, usage, admin…)."""
    blocks: list = [
        HeaderBlock(text="Atom"),
        SectionBlock(
            text=MarkdownTextObject(
                text=(
                    "Your AI assistant in Slack, with *your own provider keys*. DM me, open me in the "
                    "Assistant panel, mention *@Atom* in a channel, or use `/atom`."
                )
            )
        ),
        ContextBlock(
            elements=[MarkdownTextObject(text="Keys are stored encrypted and only you can use them.")]
        ),
    ]
    for section in sections or []:
        blocks.append(DividerBlock())
        blocks.extend(section)
    blocks.append(DividerBlock())
    blocks.append(
        ActionsBlock(block_id="home_help", elements=[ButtonElement(text="Help", action_id="help_open")])
    )
    view = View(type="home", blocks=blocks)
    return view.to_dict()


def admin_unknown_blocks() -> list:
    """In place of the admin section when Slack could not say whether the person is an admin."""
    return [
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=(
                        "⚠️ Workspace settings are hidden for now: Slack did not answer whether you are "
                        "a workspace admin. Reopen the Home tab in a minute to see them."
                    )
                )
            ]
        )
    ]
