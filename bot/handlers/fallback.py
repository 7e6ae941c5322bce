"""Interactions no listener claimed (an old button, a crafted action, a shortcut or menu this
version does not have): acknowledged and explained, never a bare 404 Slack shows as an error."""

from __future__ import annotations

import logging
import re

from bot.views.keys import message_modal

log = logging.getLogger(__name__)

STALE = "That button is no longer available. Open Atom's Home tab or type `/atom help` to carry on."
UNKNOWN_SHORTCUT = (
    "That shortcut is not available in this version of Atom. Type `/atom help` to see what is."
)
ANY = re.compile(".*")


def register(surface) -> None:
    app = surface.app

    @app.action(ANY)
    async def on_unknown_action(ack, body, respond):
        await ack()
        action = (body.get("actions") or [{}])[0].get("action_id", "?")
        log.info("unknown action %s", str(action)[:80])
        if body.get("response_url"):
            await respond(text=STALE, response_type="ephemeral", replace_original=False)

    @app.shortcut(ANY)
    async def on_unknown_shortcut(ack, body, client, respond):
        await ack()
        log.info("unknown shortcut %s", str(body.get("callback_id"))[:80])
        if body.get("response_url"):  # a message shortcut: answer privately where it was used
            await respond(text=UNKNOWN_SHORTCUT, response_type="ephemeral", replace_original=False)
        elif body.get("trigger_id"):  # a global one has no conversation: a small modal
            await client.views_open(trigger_id=body["trigger_id"], view=message_modal("Atom", UNKNOWN_SHORTCUT))

    @app.options(ANY)
    async def on_unknown_options(ack):
        await ack(options=[])  # Atom has no external menus: an empty list, not an error

    @app.view(ANY)
    async def on_unknown_view(ack):
        await ack()

    @app.view_closed(ANY)
    async def on_unknown_view_closed(ack):
        await ack()
