"""`/atom ask`, usage, settings, forget; the buttons under answers; the "Summarize thread" shortcut."""

from __future__ import annotations

import logging
import uuid

from slack_sdk.errors import SlackApiError

from bot.conversations import Ask, ConversationService
from bot.handlers.replies import EphemeralReply, ThreadReply
from bot.identity import Person, slack_id
from bot.llm.models import available_models, catalog_ready
from bot.runtime import Runtime
from bot.usage import MODES, Preferences, UsageService
from bot.views import serialise
from bot.views.answers import answer_message_blocks, model_label, share_credit, split_text, why_modal
from bot.views.keys import message_modal
from bot.views.usage import SETTINGS, TASK_LABELS, budget_modal, parse_budget, settings_modal, usage_blocks

log = logging.getLogger(__name__)

SUMMARIZE = "summarize_thread"
SHARE_NOT_YOURS = "Only the person who asked can share this answer."
SHARE_GONE = "That answer can no longer be shared (it may have been forgotten)."
SHARE_NOT_MEMBER = (
    "I can't post in this channel because I'm not a member of it. Add me (type `/invite @Atom` "
    "there), then press *Share in channel* again."
)
SHARE_REFUSED = "Slack did not accept the shared answer ({error}). Please try again in a moment."
NOT_A_MEMBER = {"not_in_channel", "channel_not_found", "is_archived", "restricted_action"}
MAX_THREAD_MESSAGES = 200


def register(
    surface, runtime: Runtime, routes: dict, conversations: ConversationService, usage: UsageService, home
) -> None:
    # ------------------------------------------------------------------ /atom subcommands

    async def ask_command(ack, parsed, person, command, respond, client, **_):
        await ack()  # answered privately through response_url once the model has spoken
        ask = Ask(
            person,
            parsed.argument,
            command["channel_id"],
            f"ask-{uuid.uuid4().hex[:12]}",
            "command",
            use_history=False,
        )
        async with runtime.inflight.hold():
            reply = EphemeralReply(
                respond,
                client=client,
                channel=command["channel_id"],
                user_id=person.user_id,
                policy=runtime.delivery_policy,
            )
            await conversations.respond(ask, reply)

    async def usage_command(ack, person, **_):
        summary = await usage.month(person)
        await ack(blocks=serialise(usage_blocks(summary)), text="Your Atom usage this month")

    async def settings_command(ack, person, command, client, **_):
        await ack()
        await open_settings(client, command["trigger_id"], person)

    async def forget_command(ack, person, **_):
        removed = await conversations.memory.forget(person)
        await ack(
            text=f"Done: I deleted {removed} stored message{'s' if removed != 1 else ''} of your conversations with me. "
            "Usage and cost records stay (they hold no text)."
        )

    routes.update(ask=ask_command, usage=usage_command, settings=settings_command, forget=forget_command)

    # ------------------------------------------------------------------ settings

    async def model_names(person: Person) -> list[str]:
        credentials = await runtime.vault.usable(person)
        azure = next((c for c in credentials if c.provider == "azure"), None)
        deployments = dict(azure.settings.get("deployments") or {}) if azure else None
        await catalog_ready()
        available = available_models([c.provider for c in credentials], deployments)
        return sorted(m.litellm_name for models in available.values() for m in models)

    async def open_settings(client, trigger_id: str, person: Person) -> None:
        prefs = await usage.preferences(person)
        await client.views_open(trigger_id=trigger_id, view=settings_modal(prefs, await model_names(person)))

    @surface.action("settings_open")
    async def on_settings_open(ack, body, client, context):
        await ack()
        await open_settings(client, body["trigger_id"], Person.from_context(context))

    @surface.view(SETTINGS)
    async def on_settings_submit(ack, view, client, context):
        person = Person.from_context(context)
        values = (view.get("state") or {}).get("values") or {}

        def chosen(block: str) -> str | None:
            element = (values.get(block) or {}).get("value") or {}
            return (element.get("selected_option") or {}).get("value") or element.get("value")

        mode = chosen("mode") or "balanced"
        pin = chosen("pin") or "none"
        budget, problem = parse_budget(chosen("budget"))
        errors = {}
        if mode not in MODES:
            errors["mode"] = "Choose Save, Balanced or Best."
        if pin != "none" and pin not in await model_names(person):
            errors["pin"] = "That model is not available with your keys."
        if problem:
            errors["budget"] = problem
        overrides = {}
        for task in TASK_LABELS:
            value = chosen(f"task_{task}") or "default"
            if value not in ("default", *MODES):
                errors[f"task_{task}"] = "Choose a mode from the list."
            elif value != "default":
                overrides[task] = value
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        await usage.save_preferences(
            person,
            Preferences(mode=pin if pin != "none" else mode, overrides=overrides, monthly_budget=budget),
        )
        await home.publish(client, person)

    @surface.action("ws_budget_open")
    async def on_budget_open(ack, body, client, context):
        await ack()
        person = Person.from_context(context)
        if not await runtime.admins.is_admin(client, person):
            await client.views_open(
                trigger_id=body["trigger_id"],
                view=message_modal("Atom", "Only workspace admins can set the budget."),
            )
            return
        await client.views_open(
            trigger_id=body["trigger_id"], view=budget_modal(await usage.workspace_budget(person))
        )

    @surface.view("workspace_budget")
    async def on_budget_submit(ack, view, client, context):
        person = Person.from_context(context)
        if not await runtime.admins.is_admin(client, person):
            await ack(
                response_action="update",
                view=message_modal("Atom", "Only workspace admins can set the budget."),
            )
            return
        raw = (
            (((view.get("state") or {}).get("values") or {}).get("budget") or {})
            .get("value", {})
            .get("value")
        )
        budget, problem = parse_budget(raw)
        if problem:
            await ack(response_action="errors", errors={"budget": problem})
            return
        await ack()
        await usage.set_workspace_budget(person, budget)
        detail = "no limit" if budget is None else f"${budget:g} a month"
        await runtime.vault.record_audit(person, "budget_set", scope="workspace", detail=detail)
        await home.publish(client, person)

    # ------------------------------------------------------------------ under each answer

    async def find_record(body, context):
        """(person, the answer's usage record or None, whether it is this person's own)."""
        record_id = str(((body.get("actions") or [{}])[0]).get("value") or "")
        record = await usage.get(record_id) if record_id else None
        person = Person.from_context(context)
        mine = record is not None and (record.enterprise_id, record.team_id, record.user_id) == (
            person.enterprise_id,
            person.team_id,
            person.user_id,
        )
        return person, record, mine

    async def own_record(body, context):
        person, record, mine = await find_record(body, context)
        return person, record if mine else None

    async def feedback(ack, body, context, client, value: str):
        await ack()
        person, record = await own_record(body, context)
        if record is None:
            await client.views_open(
                trigger_id=body["trigger_id"],
                view=message_modal("Atom", "Only the person who asked can rate this answer."),
            )
            return
        await usage.set_feedback(person, record.id, value)

    @surface.action("feedback_good")
    async def on_good(ack, body, context, client):
        await feedback(ack, body, context, client, "good")

    @surface.action("feedback_bad")
    async def on_bad(ack, body, context, client):
        await feedback(ack, body, context, client, "bad")

    @surface.action("why_model")
    async def on_why(ack, body, context, client):
        await ack()
        _, record = await own_record(body, context)
        text = (
            record.explanation if record else "Only the person who asked can see how their answer was routed."
        )
        await client.views_open(
            trigger_id=body["trigger_id"], view=why_modal(text or "No routing details were kept.")
        )

    @surface.action("share_answer")
    async def on_share(ack, body, context, client, respond):
        await ack()
        person, record, mine = await find_record(body, context)

        async def tell(text: str, replace: bool = False) -> None:
            if body.get("response_url"):
                await respond(text=text, response_type="ephemeral", replace_original=replace)
            elif body.get("trigger_id"):
                await client.views_open(trigger_id=body["trigger_id"], view=message_modal("Atom", text))

        if record is not None and not mine:
            await tell(SHARE_NOT_YOURS)
            return
        answer = (
            await conversations.memory.answer_for(person, record.answer_turn_id)
            if record and record.answer_turn_id
            else None
        )
        channel = slack_id(body.get("channel"))
        if answer is None or not channel:
            await tell(SHARE_GONE)
            return
        credit = share_credit(person.user_id, model_label(record.model))
        parts = split_text(answer)
        try:
            for index, part in enumerate(parts):
                await client.chat_postMessage(
                    channel=channel,
                    text=part[:3000],
                    blocks=answer_message_blocks(part, [credit] if index == len(parts) - 1 else []),
                    unfurl_links=False,
                    unfurl_media=False,
                )
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "")
            log.info("could not share an answer: %s", error)
            await tell(SHARE_NOT_MEMBER if error in NOT_A_MEMBER else SHARE_REFUSED.format(error=error[:40]))
            return
        await tell("Shared in the channel.", replace=True)

    # ------------------------------------------------------------------ "Summarize thread"

    @surface.message_shortcut(SUMMARIZE)
    async def on_summarize(ack, shortcut, client, context):
        await ack()
        person = Person.from_context(context)
        channel = slack_id(shortcut.get("channel"))
        message = shortcut.get("message") or {}
        thread_ts = message.get("thread_ts") or message.get("ts")
        async with runtime.inflight.hold():
            reply = ThreadReply(
                client,
                person.user_id,
                None,
                team_id=person.team_id,
                user_id=person.user_id,
                policy=runtime.delivery_policy,
            )
            try:
                replies = await client.conversations_replies(
                    channel=channel, ts=thread_ts, limit=MAX_THREAD_MESSAGES
                )
            except SlackApiError as exc:
                log.info("cannot read thread for a summary: %s", exc.response.get("error"))
                await reply.post(
                    "I can't read that conversation, so I can't summarize it. Add me to the channel "
                    "(mention @Atom there) and try again."
                )
                return
            lines = [
                f"<@{m.get('user') or m.get('bot_id') or '?'}>: {m.get('text') or ''}"
                for m in replies.get("messages") or []
            ]
            question = (
                "Summarize this Slack thread: the key points, decisions and open questions.\n\n"
                + "\n".join(lines)
            )
            ask = Ask(
                person,
                question,
                person.user_id,
                f"summary-{uuid.uuid4().hex[:12]}",
                "shortcut",
                use_history=False,
            )
            await reply.answer(conversations.respond, ask)
