"""Interactions no listener claimed (an old button, a crafted action): acknowledged, explained."""

from __future__ import annotations

import logging
import re

log = logging.getLogger(__name__)

STALE = "That button is no longer available. Open Atom's Home tab or type `/atom help` to carry on."


def register(surface) -> None:
    @surface.app.action(re.compile(".*"))
    async def on_unknown_action(ack, body, respond):
        await ack()
        action = (body.get("actions") or [{}])[0].get("action_id", "?")
        log.info("unknown action %s", str(action)[:80])
        if body.get("response_url"):
            await respond(text=STALE, response_type="ephemeral", replace_original=False)

    @surface.app.view(re.compile(".*"))
    async def on_unknown_view(ack):
        await ack()
