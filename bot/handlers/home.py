"""App Home tab: each feature's section, published when the tab opens and after every change."""

from __future__ import annotations

import logging

from bot.handlers.once import first_delivery
from bot.identity import Person
from bot.runtime import Runtime
from bot.views import keys as key_views
from bot.views.connections import connections_blocks
from bot.views.help import help_blocks
from bot.views.home import admin_unknown_blocks, home_view
from bot.views.modal import info_modal
from bot.views.usage import settings_button, usage_blocks

log = logging.getLogger(__name__)


class HomeTab:
    def __init__(self, runtime: Runtime):
        self.runtime = runtime

    async def publish(self, client, person: Person, states=None) -> None:
        """`states`: the person's provider states when the caller has just read them."""
        states = states if states is not None else await self.runtime.vault.states(person)
        summary = await self.runtime.usage.month(person)
        sections = [
            usage_blocks(summary) + [settings_button()],
            key_views.provider_blocks(states),
            connections_blocks(await self.runtime.connectors.states(person)),
            await self.workflows_section(client, person),
        ]
        admin = await self.runtime.admins.is_admin_or_unknown(client, person)
        if admin:
            allowed = await self.runtime.vault.allows_external(person)
            sections.append(key_views.admin_blocks(states, allowed))
        elif admin is None:
            sections.append(admin_unknown_blocks())
        await client.views_publish(user_id=person.user_id, view=home_view(sections))


    async def workflows_section(self, client, person: Person) -> list:
        from bot.handlers.workflows import zone_of
        from bot.views.workflows import HOME_LIMIT, list_blocks

        overviews = await self.runtime.workflow_service.overview(person)
        return list_blocks(overviews, await zone_of(client, person), limit=HOME_LIMIT)


def register(surface, runtime: Runtime) -> HomeTab:
    home = HomeTab(runtime)

    @surface.event("app_home_opened")
    async def on_home_opened(body, event, client, context):
        if event.get("tab", "home") != "home" or not await first_delivery(runtime, body, context):
            return
        async with runtime.inflight.hold():
            await home.publish(client, Person.from_context(context))

    @surface.action("help_open")
    async def on_help(ack, body, client):
        await ack()
        await client.views_open(trigger_id=body["trigger_id"], view=info_modal("Atom help", help_blocks()))

    return home
