"""Block Kit builders: small pure functions from plain data to validated blocks and views.

Everything is built from `slack_sdk.models` and serialised through `to_dict()`, which enforces
Slack's size limits, so a block that Slack would reject fails in tests, not in Slack.
"""

from __future__ import annotations

from slack_sdk.models.blocks import Block


def serialise(blocks: list[Block]) -> list[dict]:
    if not 0 < len(blocks) <= 50:
        raise ValueError(f"a message holds 1 to 50 blocks, not {len(blocks)}")
    return [b.to_dict() for b in blocks]
