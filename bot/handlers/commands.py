"""`/atom` and its subcommands: parse the text, hand over to the surface that owns the feature."""

from __future__ import annotations

import logging

from bot import commands
from bot.identity import Person
from bot.llm.providers import CATALOG, find_pasted_key
from bot.runtime import Runtime
from bot.views import serialise
from bot.views.help import help_blocks
from bot.views.keys import pasted_key_text
from bot.views.messages import pasted_key_blocks

log = logging.getLogger(__name__)

NOT_YET = "`/atom {name}` is not available in this version of Atom yet. `/atom help` lists what is."


def register(surface, runtime: Runtime, routes: dict) -> None:
    """`routes`: subcommand → async fn(ack, parsed, person, command, client, runtime)."""

    @surface.command("/atom")
    async def on_atom(ack, command, context, client, respond):
        parsed = commands.parse(command.get("text"))
        person = Person.from_context(context)
        if parsed.name == "help":
            await ack(blocks=serialise(help_blocks(parsed.note)), text="Atom help")
        elif parsed.name == "ask" and (pasted := find_pasted_key(parsed.argument)):
            # Answered in the ack itself: the text goes nowhere else.
            await ack(text=pasted_key_text(CATALOG.get(pasted)), blocks=pasted_key_blocks(pasted))
        elif parsed.name in routes:
            await routes[parsed.name](
                ack=ack,
                parsed=parsed,
                person=person,
                command=command,
                client=client,
                respond=respond,
                runtime=runtime,
            )
        else:
            await ack(text=NOT_YET.format(name=parsed.name))
