"""Provider keys: the Home tab section, `/atom keys`, `/atom admin`, the key form and its buttons.

Who acts always comes from Bolt's verified context. Button values carry only a provider id and
callback ids a provider and a scope, all re-checked here (unknown provider, admin rights); the
only view id used for updates is the one Slack put in the signed payload.
"""

from __future__ import annotations

import logging
import re

from bot.identity import Person
from bot.keys_service import KeyService, parse_submission
from bot.llm.providers import CATALOG
from bot.runtime import Runtime
from bot.vault import PERSONAL, WORKSPACE
from bot.views import keys as views

log = logging.getLogger(__name__)

NOT_ADMIN = "Only workspace admins and owners can change workspace keys and providers."
UNKNOWN_PROVIDER = "That provider is not one Atom knows. Nothing was changed."


def register(surface, runtime: Runtime, routes: dict, home) -> None:
    vault = runtime.vault
    service = KeyService(vault, runtime.settings)

    async def is_admin(client, person: Person) -> bool:
        return await runtime.admins.is_admin(client, person)

    async def refresh(client, person: Person, body: dict | None = None) -> None:
        """Show the new state wherever the person is looking: Home, and the open keys modal."""
        states = await vault.states(person)
        await home.publish(client, person, states)
        view = (body or {}).get("view") or {}
        root_id = view.get("root_view_id") or view.get("id")
        if view.get("type") == "modal" and root_id:
            admin = await is_admin(client, person)
            allowed = admin and await vault.allows_external(person)
            await client.views_update(view_id=root_id, view=views.keys_modal(states, admin, allowed))

    async def open_here(client, body: dict, view: dict) -> None:
        """Open a view right where the person clicked: stacked on their modal, or a new one."""
        if (body.get("view") or {}).get("type") == "modal":
            await client.views_push(trigger_id=body["trigger_id"], view=view)
        else:
            await client.views_open(trigger_id=body["trigger_id"], view=view)

    async def show(client, body: dict, title: str, text: str) -> None:
        await open_here(client, body, views.message_modal(title, text))

    def provider_from(body: dict):
        actions = body.get("actions") or [{}]
        return CATALOG.get(str(actions[0].get("value") or ""))

    async def acting_on_provider(ack, body, client, context, *, admin_only: bool):
        """Ack, then (person, provider) for a provider button, or None after telling the person why not."""
        await ack()
        provider = provider_from(body)
        person = Person.from_context(context)
        if provider is None:
            await show(client, body, "Atom", UNKNOWN_PROVIDER)
            return None
        if admin_only and not await is_admin(client, person):
            await show(client, body, "Atom", NOT_ADMIN)
            return None
        return person, provider

    # ------------------------------------------------------------------ opening

    async def open_keys(client, trigger_id: str, person: Person) -> None:
        states = await vault.states(person)
        admin = await is_admin(client, person)
        allowed = admin and await vault.allows_external(person)
        await client.views_open(trigger_id=trigger_id, view=views.keys_modal(states, admin, allowed))

    @surface.action("keys_open")
    async def on_keys_open(ack, body, client, context):
        await ack()
        await open_keys(client, body["trigger_id"], Person.from_context(context))

    async def keys_command(ack, person, command, client, **_):
        await ack()
        await open_keys(client, command["trigger_id"], person)

    async def admin_command(ack, person, command, client, **_):
        if not await is_admin(client, person):
            await ack(text=NOT_ADMIN)
            return
        await ack()
        await open_keys(client, command["trigger_id"], person)  # the keys modal, with its admin section

    @surface.action(views.EXTERNAL_TOGGLE)
    async def on_external_toggle(ack, body, client, context):
        await ack()
        person = Person.from_context(context)
        if person.external or not await is_admin(client, person):
            await show(client, body, "Atom", NOT_ADMIN)
            return
        allowed = str(((body.get("actions") or [{}])[0]).get("value") or "") == "on"
        async with runtime.inflight.hold():
            await vault.set_allow_external(person, allowed)
            await refresh(client, person, body)

    routes["keys"] = keys_command
    routes["admin"] = admin_command

    # ------------------------------------------------------------------ the key form

    async def open_form(ack, body, client, context, scope: str) -> None:
        if not (
            target := await acting_on_provider(ack, body, client, context, admin_only=scope == WORKSPACE)
        ):
            return
        _, provider = target
        await open_here(client, body, views.key_form(provider, scope, validate=service.validates))

    @surface.action("key_add")
    async def on_key_add(ack, body, client, context):
        await open_form(ack, body, client, context, PERSONAL)

    @surface.action("ws_key_add")
    async def on_ws_key_add(ack, body, client, context):
        await open_form(ack, body, client, context, WORKSPACE)

    @surface.view(re.compile(rf"^{views.KEY_FORM}:"))
    async def on_key_form(ack, body, view, client, context):
        person = Person.from_context(context)
        _, provider_id, scope = (view.get("callback_id", "").split(":") + ["", ""])[:3]
        provider = CATALOG.get(provider_id)
        if provider is None or scope not in (PERSONAL, WORKSPACE):
            await ack(response_action="update", view=views.message_modal("Atom", UNKNOWN_PROVIDER))
            return
        if scope == WORKSPACE and not await is_admin(client, person):
            await ack(response_action="update", view=views.message_modal("Atom", NOT_ADMIN))
            return
        state = (view.get("state") or {}).get("values") or {}
        values = {block: (fields.get("value") or {}).get("value") for block, fields in state.items()}
        submission = parse_submission(provider, scope, values)
        submission.errors.update(await service.endpoint_errors(submission))
        if submission.errors:
            await ack(response_action="errors", errors=submission.errors)
            return
        if service.validates:
            # The check may take seconds: answer Slack now, show the result when it is in.
            await ack(response_action="update", view=views.checking_modal(provider))
        async with runtime.inflight.hold():
            outcome = await service.save(person, submission)
            title = f"{provider.label} key"
            result = views.message_modal(title, ("✅ " if outcome.saved else "❌ ") + outcome.message)
            if service.validates:
                await client.views_update(view_id=view["id"], view=result)
            else:
                await ack(response_action="update", view=result)
            # Pushed from the keys modal? Then that modal (the root) shows the new state too.
            pushed = view.get("root_view_id") not in (None, view.get("id"))
            await refresh(
                client, person, {"view": {"type": "modal", "id": view["root_view_id"]}} if pushed else None
            )

    # ------------------------------------------------------------------ check and remove

    async def check(ack, body, client, context, scope: str) -> None:
        if not (
            target := await acting_on_provider(ack, body, client, context, admin_only=scope == WORKSPACE)
        ):
            return
        person, provider = target
        async with runtime.inflight.hold():
            await service.check(person, provider, scope)
            await refresh(client, person, body)

    @surface.action("key_check")
    async def on_key_check(ack, body, client, context):
        await check(ack, body, client, context, PERSONAL)

    @surface.action("ws_key_check")
    async def on_ws_key_check(ack, body, client, context):
        await check(ack, body, client, context, WORKSPACE)

    async def remove(ack, body, client, context, scope: str) -> None:
        if not (
            target := await acting_on_provider(ack, body, client, context, admin_only=scope == WORKSPACE)
        ):
            return
        person, provider = target
        async with runtime.inflight.hold():
            await vault.remove(person, provider.id, scope)
            await refresh(client, person, body)

    @surface.action("key_remove")
    async def on_key_remove(ack, body, client, context):
        await remove(ack, body, client, context, PERSONAL)

    @surface.action("ws_key_remove")
    async def on_ws_key_remove(ack, body, client, context):
        await remove(ack, body, client, context, WORKSPACE)

    # ------------------------------------------------------------------ admin

    async def set_blocked(ack, body, client, context, blocked: bool) -> None:
        if not (target := await acting_on_provider(ack, body, client, context, admin_only=True)):
            return
        person, provider = target
        async with runtime.inflight.hold():
            await vault.set_blocked(person, provider.id, blocked)
            await refresh(client, person, body)

    @surface.action("provider_block")
    async def on_block(ack, body, client, context):
        await set_blocked(ack, body, client, context, True)

    @surface.action("provider_unblock")
    async def on_unblock(ack, body, client, context):
        await set_blocked(ack, body, client, context, False)

    @surface.action("audit_open")
    async def on_audit(ack, body, client, context):
        await ack()
        person = Person.from_context(context)
        if not await is_admin(client, person):
            await show(client, body, "Atom", NOT_ADMIN)
            return
        events = await vault.audit.recent(person.enterprise_id, person.team_id, limit=40)
        await open_here(client, body, views.audit_modal(events))
