"""Block Kit for answers: long text split cleanly, the cost line, feedback and "Why this model?"."""

from __future__ import annotations

import re

from slack_sdk.models.blocks import (
    ContextBlock,
    MarkdownBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.llm.calls import Attempt
from bot.llm.pricing import format_usd
from bot.llm.providers import CATALOG
from bot.views import serialise

MARKDOWN_LIMIT = 12_000  # a markdown block, and one chat.appendStream call
SECTION_LIMIT = 3_000


def split_text(text: str, limit: int = MARKDOWN_LIMIT) -> list[str]:
    """Split at paragraph, then line, then word boundaries; an open code fence is closed at the
    end of a part and reopened at the start of the next, so every part renders on its own."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        budget = limit - 8  # room for a closing and reopening fence
        cut = max(rest.rfind("\n\n", 0, budget), rest.rfind("\n", 0, budget))
        if cut < budget // 2:
            cut = rest.rfind(" ", 0, budget)
        if cut < budget // 2:
            cut = budget
        part, rest = rest[:cut], rest[cut:].lstrip("\n")
        if part.count("```") % 2 == 1:
            part += "\n```"
            rest = "```\n" + rest
        parts.append(part)
    if rest or not parts:
        parts.append(rest)
    return parts


def model_label(litellm_name: str) -> str:
    return litellm_name.split("/", 1)[-1]


def switch_notes(attempts: list[Attempt], answered_by: str | None) -> list[str]:
    """ "OpenAI was rate-limited; answered by claude-haiku-4-5"."""
    failed = [a for a in attempts if a.outcome not in ("ok", "cut_off")]
    if not failed or answered_by is None:
        return []
    what = "; ".join(f"{a.label} {a.detail}" for a in failed)
    return [f"{what}; answered by {model_label(answered_by)}"]


def footer_blocks(
    record_id: str,
    *,
    model: str,
    cost: float,
    saving: float,
    notes: list[str],
    cut_off: bool = False,
    share: bool = False,
) -> list[dict]:
    """The cost line and the answer's buttons. Plain Block Kit dicts rather than slack_sdk models:
    this runs under every answer, and the models cost several times more to build and serialise
    (tests/test_answer_rendering.py checks the dicts against the models' own output)."""
    line = f"{model_label(model)} · {format_usd(cost)}"
    line += f" · saved {format_usd(saving)}" if saving > 0 else " · no saving (premium model)"
    texts = [line, *(f"↪ {note}" for note in notes)]
    if cut_off:
        texts.append("⚠️ The provider stopped mid-answer: this answer is cut off.")
    buttons = [
        _button("👍", "feedback_good", record_id),
        _button("👎", "feedback_bad", record_id),
        _button("Why this model?", "why_model", record_id),
    ]
    if share:
        buttons.insert(0, {**_button("Share in channel", "share_answer", record_id), "style": "primary"})
    return [
        {
            "type": "context",
            "block_id": "answer_meta",
            "elements": [{"type": "mrkdwn", "text": text} for text in texts[:10]],
        },
        {"type": "actions", "block_id": "answer_actions", "elements": buttons},
    ]


def _button(text: str, action_id: str, value: str) -> dict:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "action_id": action_id,
        "value": value,
    }


def answer_message_blocks(text: str, footer: list) -> list[dict]:
    """One message: the answer (already short enough for a markdown block) and its footer."""
    return serialise([MarkdownBlock(text=neutralise_mentions(text) or " "), *footer])


def share_credit(user_id: str, model: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=f"Shared by <@{user_id}> · answered by {model}")])


# Slack's broadcast and mention syntax: <!channel>, <!here>, <!everyone>, <!subteam^S1|@team>,
# <@U1>, <@W1|name>. A model's answer (a prompt-injected one, say) must never ping anyone.
_MENTION = re.compile(r"<(?:!(channel|here|everyone|group)|!subteam\^([^<>|]*)|@([^<>|]*))(?:\|([^<>]*))?>")
_ZWSP = "\u200b"  # between @ and the name: reads the same, pings nobody


def _inert(match: re.Match) -> str:
    broadcast, group, user, label = match.groups()
    name = (label or broadcast or group or user or "").lstrip("@")
    return f"@{_ZWSP}{name}"


def neutralise_mentions(text: str) -> str:
    """Model output with every broadcast and mention turned into plain, inert text. Every streamed
    chunk passes here: a chunk without "<" (most of them) holds no mention and is returned as is."""
    return _MENTION.sub(_inert, text) if "<" in text else text


class MentionGuard:
    """`neutralise_mentions` over streamed deltas: a `<` whose closing `>` has not arrived yet is
    held back until it does (or the answer ends), so a mention split across chunks is caught."""

    HOLD_LIMIT = 200

    def __init__(self) -> None:
        self._held = ""

    def feed(self, delta: str) -> str:
        text = self._held + delta
        cut = text.rfind("<")
        if cut != -1 and ">" not in text[cut:] and len(text) - cut <= self.HOLD_LIMIT:
            text, self._held = text[:cut], text[cut:]
        else:
            self._held = ""
        return neutralise_mentions(text)

    def flush(self) -> str:
        text, self._held = self._held, ""
        return neutralise_mentions(text)


def why_modal(explanation: str) -> dict:
    blocks = [
        SectionBlock(text=MarkdownTextObject(text=part))
        for part in split_text(explanation, SECTION_LIMIT)[:40]
    ]
    return View(
        type="modal", callback_id="why_model", title="Why this model?", close="Close", blocks=blocks
    ).to_dict()


def nothing_left_text(failures: list[Attempt], excluded: list[tuple[str, str]]) -> str:
    lines = ["I could not get an answer from any of your providers:"]
    seen = set()
    for attempt in failures:
        if attempt.provider in seen:
            continue
        seen.add(attempt.provider)
        lines.append(f"• *{attempt.label}* {attempt.detail}.")
    for what, reason in excluded:
        # Routing names providers by id and models by litellm name: show people the provider's name.
        name = CATALOG[what].label if what in CATALOG else what
        lines.append(f"• *{name}*: {reason}.")
    advice = []
    if any(a.outcome == "auth_failed" for a in failures):
        advice.append("replace the rejected key with `/atom keys`")
    if any(a.outcome in ("rate_limited", "server_error", "timeout", "unreachable") for a in failures) or any(
        "cooling down" in reason for _, reason in excluded
    ):
        advice.append("try again in a minute")
    if not advice:
        advice.append("add a key for another provider with `/atom keys`")
    lines.append("What to do: " + ", or ".join(advice) + ".")
    return "\n".join(lines)
