"""The buttons delivery failures leave: *Retry* (an answer Slack refused) and *Try again* (an
answer a crash cut short). Both are for the person who asked only."""

from __future__ import annotations

from bot.conversations import Ask, ConversationService
from bot.handlers.replies import EphemeralReply, ThreadReply
from bot.identity import Person
from bot.runtime import Runtime
from bot.views.delivery import REDELIVER, TRY_AGAIN

GONE = "That answer is no longer kept (it was delivered, retried already, or is more than a week old)."
NOT_YOURS = "Only the person who asked can use this button."


def register(surface, runtime: Runtime, conversations: ConversationService) -> None:
    async def stored_for(body, context, respond):
        """The stored answer behind the button, if it belongs to the person clicking."""
        person = Person.from_context(context)
        delivery_id = str(((body.get("actions") or [{}])[0]).get("value") or "")
        stored = await runtime.answers.get(delivery_id, person)
        if stored is None:
            exists = await runtime.answers.exists(delivery_id)
            await respond(
                text=NOT_YOURS if exists else GONE, response_type="ephemeral", replace_original=False
            )
        return person, stored

    def thread_reply(client, stored) -> ThreadReply:
        return ThreadReply(
            client,
            stored.channel,
            stored.thread_ts,
            team_id=stored.person.team_id,
            user_id=stored.person.user_id,
            policy=runtime.delivery_policy,
        )

    @surface.action(REDELIVER)
    async def on_redeliver(ack, body, context, client, respond):
        await ack()
        _, stored = await stored_for(body, context, respond)
        if stored is None or stored.answer is None:
            return
        async with runtime.inflight.hold():
            if stored.surface == "command":  # a private answer goes back privately
                reply = EphemeralReply(
                    respond,
                    client=client,
                    channel=stored.channel,
                    user_id=stored.person.user_id,
                    policy=runtime.delivery_policy,
                )
            else:
                reply = thread_reply(client, stored)
            reply.tracker.delivery_id = stored.id  # a second refusal offers the same Retry
            delivered = await reply.deliver_whole(stored.answer, stored.footer)
            if delivered:
                await runtime.answers.forget(stored.id)

    @surface.action(TRY_AGAIN)
    async def on_try_again(ack, body, context, client, respond):
        await ack()
        _, stored = await stored_for(body, context, respond)
        if stored is None:
            return
        await runtime.answers.forget(stored.id)  # one new answer per click, not one per click
        async with runtime.inflight.hold():
            ask = Ask(stored.person, stored.question, stored.channel, stored.thread_ts, stored.surface)
            await thread_reply(client, stored).answer(conversations.respond, ask)
