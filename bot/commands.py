"""`/atom` text → subcommand. Pure parsing, no Slack."""

from __future__ import annotations

from dataclasses import dataclass

SUBCOMMANDS = (
    "ask",
    "keys",
    "settings",
    "usage",
    "connect",
    "workflow",
    "workflows",
    "forget",
    "export",
    "admin",
    "help",
)
MAX_COMMAND_TEXT = 4000


@dataclass(frozen=True)
class ParsedCommand:
    name: str  # one of SUBCOMMANDS
    argument: str = ""
    note: str | None = None  # shown above the help when the input was not understood


def parse(text: str | None) -> ParsedCommand:
    text = (text or "").strip()
    if not text:
        return ParsedCommand("help")
    if len(text) > MAX_COMMAND_TEXT:
        return ParsedCommand(
            "help",
            note=f"That is too long for a command ({len(text)} characters, at most {MAX_COMMAND_TEXT}).",
        )
    head, _, rest = text.partition(" ")
    word = head.lower()
    if word in SUBCOMMANDS:
        if word == "ask" and not rest.strip():
            return ParsedCommand(
                "help", note="`/atom ask` needs a question, like `/atom ask what is a mutex?`"
            )
        return ParsedCommand(word, rest.strip())
    if word in ("?", "-h", "--help"):
        return ParsedCommand("help")
    if not rest.strip() and not text.endswith("?"):
        # One unknown word is more likely a mistyped subcommand than a question.
        return ParsedCommand(
            "help",
            note=f"I don't know the command `{head[:40]}`. To ask a question, use `/atom ask {head[:40]}`.",
        )
    # A bare question: "/atom what is the capital of France?"
    return ParsedCommand("ask", text)
