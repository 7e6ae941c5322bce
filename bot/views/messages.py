"""Small replies Atom posts in conversations."""

from __future__ import annotations

import functools

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, MarkdownTextObject, SectionBlock

from bot.views import serialise

NO_KEY_TEXT = (
    "I'd love to help, but I need an AI provider key first. Add your own OpenAI, Anthropic, Gemini, "
    "DeepSeek or Azure OpenAI key in a private form: only you can use it, and it is stored encrypted."
)


@functools.cache  # the same blocks every time: build and validate them once
def no_key_blocks() -> list[dict]:
    return serialise(
        [
            SectionBlock(text=MarkdownTextObject(text=NO_KEY_TEXT)),
            ActionsBlock(
                block_id="no_key",
                elements=[ButtonElement(text="Add a provider key", action_id="keys_open", style="primary")],
            ),
        ]
    )


def pasted_key_blocks(provider_id: str | None) -> list[dict]:
    from bot.llm.providers import CATALOG
    from bot.views.keys import pasted_key_text

    return serialise(
        [
            SectionBlock(text=MarkdownTextObject(text=pasted_key_text(CATALOG.get(provider_id or "")))),
            ActionsBlock(
                block_id="pasted_key",
                elements=[ButtonElement(text="Add a key privately", action_id="keys_open", style="primary")],
            ),
        ]
    )
