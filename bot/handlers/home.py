"""App Home tab: published when opened."""

from __future__ import annotations

import logging

from bot.handlers.once import first_delivery
from bot.runtime import Runtime
from bot.views.help import help_blocks
from bot.views.home import home_view

log = logging.getLogger(__name__)


def register(surface, runtime: Runtime) -> None:
    @surface.event("app_home_opened")
    async def on_home_opened(body, event, client, context):
        if event.get("tab", "home") != "home" or not await first_delivery(runtime, body):
            return
        async with runtime.inflight.hold():
            await client.views_publish(user_id=context["user_id"], view=home_view())

    @surface.action("help_open")
    async def on_help(ack, body, client):
        await ack()
        from slack_sdk.models.views import View

        from bot.views.modal import info_modal

        view: View = info_modal("Atom help", help_blocks())
        await client.views_open(trigger_id=body["trigger_id"], view=view)
