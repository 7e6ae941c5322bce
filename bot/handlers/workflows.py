"""Workflows in Slack: `/atom workflow <description>`, `/atom workflows`, the preview's Enable /
Edit / Cancel, the list's Pause / Resume / Run now / Edit / History / Delete, and the failure DM's
Retry / Pause. Parse, call `WorkflowService` / `WorkflowPlanner`, render; nothing else.

Button values carry a workflow id (and, on Enable, the fingerprint of the side effects the
preview showed); who clicks always comes from the verified request, and the service acts only on
that person's own workflows.
"""

from __future__ import annotations

import json
import logging

from bot.conversations import without_lone_surrogates
from bot.identity import Person
from bot.runtime import Runtime
from bot.views import workflows as views
from bot.workflows.planner import PlanFailed, WorkflowPlanner
from bot.workflows.service import WorkflowError

log = logging.getLogger(__name__)

USAGE = "Tell me what to do and when, like `/atom workflow every weekday at 9am, summarize my unread email`."
PLANNING = "📝 Planning your workflow…"


async def zone_of(client, person: Person) -> str:
    """The person's Slack time zone (users.info), UTC when Slack does not say."""
    try:
        info = await client.users_info(user=person.user_id)
        return (info.get("user") or {}).get("tz") or "UTC"
    except Exception as exc:  # a missing zone is no reason to fail: UTC, and the preview says so
        log.info("users.info failed for a workflow preview: %s", type(exc).__name__)
        return "UTC"


def dm_planning(runtime: Runtime):
    """(is this DM a workflow request?, plan it and answer in its thread) for the DM listener."""
    from bot.workflows.planner import clearly_scheduled

    async def plan_in_thread(person: Person, event: dict, client) -> None:
        channel, thread_ts = event["channel"], event.get("thread_ts") or event.get("ts")

        async def say(text: str, blocks: list[dict]) -> None:
            await client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text, blocks=blocks)

        await say(PLANNING, views.notice_blocks(PLANNING))
        await _plan_and_preview(runtime, WorkflowPlanner(runtime), person, event.get("text") or "", client, say)

    return clearly_scheduled, plan_in_thread


async def _plan_and_preview(runtime: Runtime, planner: WorkflowPlanner, person: Person, text: str, client, say) -> None:
    service = runtime.workflow_service
    text = without_lone_surrogates(text)  # as for any question (bot/conversations.Ask)
    zone = await zone_of(client, person)
    try:
        draft = await planner.plan(person, text, zone)
    except PlanFailed as exc:
        await say(text=str(exc), blocks=views.notice_blocks(str(exc)))
        return
    workflow_id = await service.create_draft(person, draft.spec)
    data = await service.preview(person, workflow_id)
    blocks = views.preview_blocks(
        workflow_id, data.spec, steps_in_words=data.steps, next_runs=data.next_runs, zone=zone,
        effects=data.effects, digest=data.digest, to_connect=data.to_connect, cost=draft.cost,
    )
    await say(text=f"New workflow: {draft.spec.name}. Review it, then Enable.", blocks=blocks)


def register(surface, runtime: Runtime, routes: dict, home_tab) -> None:
    service = runtime.workflow_service
    planner = WorkflowPlanner(runtime)

    async def preview(person: Person, workflow_id: str, zone: str, cost: float = 0.0) -> list[dict]:
        data = await service.preview(person, workflow_id)
        return views.preview_blocks(
            workflow_id, data.spec, steps_in_words=data.steps, next_runs=data.next_runs, zone=zone,
            effects=data.effects, digest=data.digest, to_connect=data.to_connect, cost=cost,
        )

    async def plan_and_preview(person: Person, text: str, client, say) -> None:
        await _plan_and_preview(runtime, planner, person, text, client, say)

    async def workflow_route(ack, parsed, person, command, client, respond, runtime):
        if not parsed.argument.strip():
            await ack(text=USAGE)
            return
        await ack(text=PLANNING)  # planning calls a model: after the ack

        async def say(text: str, blocks: list[dict]) -> None:
            await respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)

        async with runtime.inflight.hold():
            await plan_and_preview(person, parsed.argument, client, say)

    async def list_message(person: Person, client) -> tuple[str, list[dict]]:
        zone = await zone_of(client, person)
        overviews = await service.overview(person)
        return "Your workflows", views.serialise_list(views.list_blocks(overviews, zone, service.limit_note()))

    async def workflows_route(ack, parsed, person, command, client, respond, runtime):
        await ack()
        text, blocks = await list_message(person, client)
        await respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)

    routes["workflow"] = workflow_route
    routes["workflows"] = workflows_route

    async def after(body, client, respond, person: Person, note: str) -> None:
        """Show what changed where the click came from: the Home tab, the list, or a notice."""
        if (body.get("container") or {}).get("type") == "view" and home_tab is not None:
            await home_tab.publish(client, person)
            return
        if not body.get("response_url"):
            return
        block_id = ((body.get("actions") or [{}])[0]).get("block_id", "")
        if block_id.startswith("workflow_") and block_id not in ("workflow_preview", "workflow_failure"):
            text, blocks = await list_message(person, client)
            await respond(text=text, blocks=blocks, replace_original=True)
        await respond(text=note, response_type="ephemeral", replace_original=False)

    def clicked(body) -> str:
        return str(((body.get("actions") or [{}])[0]).get("value") or "")[:200]

    async def act(body, client, respond, context, operation) -> None:
        person = Person.from_context(context)
        async with runtime.inflight.hold():
            try:
                note = await operation(person, clicked(body))
            except WorkflowError as exc:
                note = f"⚠️ {exc}"
            await after(body, client, respond, person, note)

    @surface.action("workflow_enable")
    async def on_enable(ack, body, client, respond, context):
        await ack()

        async def enable(person: Person, value: str) -> str:
            workflow_id, _, digest = value.partition(":")
            workflow = await service.enable(person, workflow_id, digest)
            zone = await zone_of(client, person)
            when = views._when(workflow.next_run_at and service.utc(workflow.next_run_at), zone)
            return f"✅ *{workflow.name}* is enabled. First run: {when}. Manage it with `/atom workflows`."

        await act(body, client, respond, context, enable)

    @surface.action("workflow_cancel")
    async def on_cancel(ack, body, client, respond, context):
        await ack()

        async def cancel(person: Person, workflow_id: str) -> str:
            if await service.cancel_draft(person, workflow_id):
                return "Cancelled: nothing was scheduled."
            return "There is no draft of yours to cancel there (already enabled or gone)."

        await act(body, client, respond, context, cancel)

    simple = {
        "workflow_pause": (service.pause, "⏸️ Paused *{name}*. Resume it from `/atom workflows`."),
        "workflow_resume": (service.resume, "▶️ Resumed *{name}*."),
    }
    for action_id, (operation, words) in simple.items():
        surface.action(action_id)(_simple_handler(act, operation, words))

    @surface.action("workflow_run_now")
    async def on_run_now(ack, body, client, respond, context):
        await ack()

        async def run_now(person: Person, workflow_id: str) -> str:
            await service.run_now(person, workflow_id, "manual")
            return "⏳ Running it now; the result comes to your DM."

        await act(body, client, respond, context, run_now)

    @surface.action("workflow_retry")
    async def on_retry(ack, body, client, respond, context):
        await ack()

        async def retry(person: Person, workflow_id: str) -> str:
            await service.run_now(person, workflow_id, "retry")
            return "⏳ Retrying now."

        await act(body, client, respond, context, retry)

    @surface.action("workflow_delete")
    async def on_delete(ack, body, client, respond, context):
        await ack()

        async def delete(person: Person, workflow_id: str) -> str:
            await service.delete(person, workflow_id)
            return "🗑️ Deleted."

        await act(body, client, respond, context, delete)

    @surface.action("workflow_history")
    async def on_history(ack, body, client, respond, context):
        await ack()
        person = Person.from_context(context)
        try:
            workflow, runs = await service.history(person, clicked(body))
        except WorkflowError as exc:
            await after(body, client, respond, person, f"⚠️ {exc}")
            return
        zone = await zone_of(client, person)
        await client.views_open(trigger_id=body["trigger_id"], view=views.history_modal(workflow.name, runs, zone))

    @surface.action("workflow_edit")
    async def on_edit(ack, body, client, respond, context):
        await ack()
        person = Person.from_context(context)
        try:
            workflow = await service.get(person, clicked(body))
        except WorkflowError as exc:
            await after(body, client, respond, person, f"⚠️ {exc}")
            return
        spec = service.spec_of(workflow)
        steps = json.dumps([s.model_dump(mode="json") for s in spec.steps], indent=1)
        channel = spec.output.channel if spec.output.to == "channel" else None
        modal = views.edit_modal(workflow.id, spec.name, spec.trigger.description, steps, channel)
        await client.views_open(trigger_id=body["trigger_id"], view=modal)

    @surface.view(views.EDIT_MODAL)
    async def on_edit_submit(ack, body, view, client, context):
        person = Person.from_context(context)
        values = view["state"]["values"]

        def field(block: str) -> str:
            return str(((values.get(block) or {}).get("value") or {}).get("value") or "")

        # The output picker: absent (an older form) keeps where results go; cleared means the DM.
        picked = (values.get("output") or {}).get("value")
        channel = None if picked is None else str(picked.get("selected_conversation") or "")
        zone = await zone_of(client, person)
        workflow_id = str(view.get("private_metadata") or "")[:64]
        try:
            errors = await service.edit(
                person, workflow_id, field("name"), field("schedule"), field("steps"), zone, channel=channel
            )
        except WorkflowError as exc:
            await ack(response_action="errors", errors={"name": str(exc)[:150]})
            return
        if errors:
            await ack(response_action="errors", errors={k: v[:150] for k, v in errors.items()})
            return
        await ack()
        blocks = await preview(person, workflow_id, zone)
        await client.chat_postMessage(
            channel=person.user_id, text="Your edited workflow: review it, then Enable.", blocks=blocks
        )


def _simple_handler(act, operation, words: str):
    async def handler(ack, body, client, respond, context):
        await ack()

        async def run(person: Person, workflow_id: str) -> str:
            workflow = await operation(person, workflow_id)
            return words.format(name=workflow.name)

        await act(body, client, respond, context, run)

    return handler
