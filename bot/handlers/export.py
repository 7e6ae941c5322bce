"""`/atom export`: acknowledge at once, then build the person's export and upload it to their DM.

Thin: the export itself is bot/export.py. Who asked comes from the verified request only.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from bot import export
from bot.runtime import Runtime

log = logging.getLogger(__name__)

PREPARING = "Preparing your export… I'll send it to you as a file in our DM."
SENT = "Your export is in our DM: a JSON file with your conversations, usage, settings, key hints, connections and workflows."
BUILD_FAILED = "Sorry, I could not put your export together just now; nothing was changed, please try `/atom export` again in a moment."
UPLOAD_FAILED = "Sorry, Slack did not accept the export file in our DM; nothing was changed, please try `/atom export` again in a moment."
COMMENT = "Here is your Atom export. It holds your own data only; your keys appear as hints, never in full."


def register(surface, runtime: Runtime, routes: dict) -> None:
    async def export_command(ack, person, client, respond, **_):
        await ack(text=PREPARING)
        async with runtime.inflight.hold():  # shutdown lets a started export finish
            now = datetime.now(UTC)
            try:
                document = export.assemble(await export.gather(runtime, person), now)
            except Exception as exc:
                log.error("export could not be built: %s", type(exc).__name__)
                await respond(text=BUILD_FAILED, response_type="ephemeral", replace_original=False)
                return
            try:
                opened = await client.conversations_open(users=person.user_id)
                await client.files_upload_v2(
                    channel=opened["channel"]["id"],
                    content=export.to_json(document),
                    filename=export.filename(person, now),
                    title="Your Atom export",
                    initial_comment=COMMENT,
                )
            except Exception as exc:
                # The type only: an upload error's text can echo what was sent.
                log.warning("export upload failed: %s", type(exc).__name__)
                await respond(text=UPLOAD_FAILED, response_type="ephemeral", replace_original=False)
                return
            await respond(text=SENT, response_type="ephemeral", replace_original=False)

    routes["export"] = export_command
