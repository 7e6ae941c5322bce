"""Connections in Slack: Connect / Disconnect buttons, `/atom connect <service>`, the Reconnect DM.

Who acts comes from Bolt's verified context; a button's value names only a connector, re-checked
against the registry. The connection a state completes is always the clicker's own.
"""

from __future__ import annotations

import logging

from bot.identity import Person
from bot.runtime import Runtime
from bot.views import connections as views
from bot.views.approvals import decided_blocks
from bot.views.modal import info_modal

log = logging.getLogger(__name__)

UNKNOWN = "Atom cannot connect to that service here. `/atom connect` lists what it can."
SLACK_NEEDS_NOTHING = "Slack needs no connecting: Atom reads and posts (after you approve) only where you both are."


def register(surface, runtime: Runtime, routes: dict, home) -> None:
    service = runtime.connectors

    def chosen(body: dict):
        value = str(((body.get("actions") or [{}])[0]).get("value") or "")
        return service.registry.connector(value)

    async def show(client, body: dict, title: str, blocks: list) -> None:
        view = info_modal(title, blocks)
        if (body.get("view") or {}).get("type") == "modal":
            await client.views_push(trigger_id=body["trigger_id"], view=view)
        else:
            await client.views_open(trigger_id=body["trigger_id"], view=view)

    @surface.action("connector_connect")
    async def on_connect(ack, body, client, context):
        await ack()
        person = Person.from_context(context)
        connector = chosen(body)
        if connector is None or connector.provider is None:
            await show(client, body, "Atom", views.connect_choice_blocks(await service.states(person), UNKNOWN))
            return
        url = await service.oauth.begin(person, connector)
        await show(client, body, f"Connect {connector.label}"[:24], views.connect_link_blocks(connector, url))

    @surface.action("connector_open_link")
    async def on_open_link(ack):
        await ack()  # the browser follows the link; Slack only tells Atom it was clicked

    @surface.action("connector_disconnect")
    async def on_disconnect(ack, body, client, context):
        await ack()
        person = Person.from_context(context)
        connector = chosen(body)
        if connector is None or connector.provider is None:
            return
        async with runtime.inflight.hold():  # shutdown waits for the revocation
            await service.oauth.disconnect(person, connector)
            await home.publish(client, person)

    async def decide(ack, body, context, respond, approve: bool) -> None:
        await ack()
        person = Person.from_context(context)
        approval_id = str(((body.get("actions") or [{}])[0]).get("value") or "")
        async with runtime.inflight.hold():  # an approved action finishes even during shutdown
            decision = await service.approvals.decide(person, approval_id, approve)
            if decision.final:
                await respond(text=decision.text[:3000], blocks=decided_blocks(decision.preview, decision.text),
                              replace_original=True)
            else:  # not theirs, or already decided: only the clicker is told, the message stays
                await respond(text=decision.text, response_type="ephemeral", replace_original=False)

    @surface.action("connector_approve")
    async def on_approve(ack, body, context, respond):
        await decide(ack, body, context, respond, approve=True)

    @surface.action("connector_cancel")
    async def on_cancel(ack, body, context, respond):
        await decide(ack, body, context, respond, approve=False)

    async def connect_command(ack, parsed, person, **_):
        word = parsed.argument.strip()
        connector = service.registry.resolve(word) if word else None
        if connector is not None and connector.provider is None:
            await ack(text=SLACK_NEEDS_NOTHING)
            return
        if connector is None:
            note = f"I don't know the service `{word[:40]}`." if word else ""
            await ack(text="Connect a service", blocks=views.connect_choice_blocks(await service.states(person), note))
            return
        url = await service.oauth.begin(person, connector)
        await ack(text=f"Connect {connector.label}", blocks=views.connect_link_blocks(connector, url))

    routes["connect"] = connect_command

    async def tell_broken(person: Person, connector, reason: str) -> None:
        client = await runtime.slack_for(person)
        opened = await client.conversations_open(users=person.user_id)
        await client.chat_postMessage(
            channel=opened["channel"]["id"],
            text=views.reconnect_text(connector, reason),
            blocks=views.reconnect_blocks(connector, reason),
        )

    async def after_connect(person: Person, connector) -> None:
        await home.publish(await runtime.slack_for(person), person)

    service.on_broken = tell_broken
    service.on_connected = after_connect
