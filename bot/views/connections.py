"""Connections: the Home tab section, the private "connect" link, the Reconnect DM and the pages
the browser sees at the end of an OAuth dance. Pure builders; nothing here calls anything."""

from __future__ import annotations

import html

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.views import serialise

GOOGLE_SERVICES = "Calendar, Gmail and Drive"


def _when(moment) -> str:
    return f"<!date^{int(moment.timestamp())}^{{date_short}}|{moment:%Y-%m-%d}>" if moment else ""


def _scope_names(scopes) -> str:
    names = sorted({s.rsplit("/", 1)[-1] for s in scopes})
    return ", ".join(f"`{n}`" for n in names)


def connection_line(state) -> str:
    c = state.connector
    if state.status == "connected":
        who = f" as *{state.account}*" if state.account else ""
        since = f" since {_when(state.since)}" if state.since else ""
        allowed = f"\nAllowed: {_scope_names(state.scopes)}" if state.scopes else ""
        return f"✅ *{c.label}*: connected{who}{since}{allowed}"
    if state.status == "broken":
        return f"⚠️ *{c.label}*: needs reconnecting ({state.detail or 'the service refused Atom'})"
    if state.status == "needs_permission":
        return f"➕ *{c.label}*: your {c.provider.title()} account is connected, but not allowed for {c.label} yet"
    return f"⚪ *{c.label}*: not connected — {c.summary}"


def _button(state):
    c = state.connector
    if c.provider is None:
        return None
    if state.status == "connected":
        shared = c.provider == "google"
        return ButtonElement(
            text="Disconnect",
            action_id="connector_disconnect",
            value=c.name,
            style="danger",
            confirm=ConfirmObject(
                title="Disconnect?",
                text=(
                    f"Atom will revoke its access to your Google account ({GOOGLE_SERVICES}) and delete the tokens."
                    if shared
                    else f"Atom will revoke its access to {c.label} and delete the tokens."
                ),
                confirm="Disconnect",
                deny="Keep",
            ),
        )
    label = "Reconnect" if state.status == "broken" else ("Allow" if state.status == "needs_permission" else "Connect")
    return ButtonElement(text=label, action_id="connector_connect", value=c.name, style="primary")


def connections_blocks(states) -> list:
    """The Home tab's Connections section."""
    blocks: list = [HeaderBlock(text="Connections")]
    for state in states:
        blocks.append(
            SectionBlock(
                block_id=f"connection_{state.connector.name}",
                text=MarkdownTextObject(text=connection_line(state)),
                accessory=_button(state),
            )
        )
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="Atom reads these for you in chat and workflows. Sending email, posting, creating events "
                    "or tasks always waits for your Approve. Tokens are stored encrypted; only you can use them."
                )
            ]
        )
    )
    return blocks


def connect_link_blocks(connector, url: str) -> list[dict]:
    return serialise(
        [
            SectionBlock(
                text=MarkdownTextObject(
                    text=f"*Connect {connector.label}* — {connector.summary}.\n"
                    f"The button opens {connector.provider.title()} in your browser. The link is yours alone: it "
                    "works once, for ten minutes."
                )
            ),
            ActionsBlock(
                block_id="connector_link",
                elements=[ButtonElement(text=f"Open {connector.provider.title()}", action_id="connector_open_link",
                                        url=url, style="primary")],
            ),
        ]
    )


def connect_choice_blocks(states, note: str = "") -> list[dict]:
    """`/atom connect` without (or with an unknown) service: what can be connected."""
    lines = [note] if note else []
    lines.append("Which service? `/atom connect <service>` with one of:")
    lines += [f"• `{s.connector.name}` — {connection_line(s)}" for s in states if s.connector.provider]
    return serialise([SectionBlock(text=MarkdownTextObject(text="\n".join(lines)[:2900]))])


def reconnect_blocks(connector, reason: str) -> list[dict]:
    return serialise(
        [
            SectionBlock(
                text=MarkdownTextObject(
                    text=f"⚠️ Your *{connector.label}* connection stopped working ({reason}). Atom cannot use it "
                    "until you reconnect; scheduled workflows that need it will say so."
                )
            ),
            ActionsBlock(
                block_id="connector_reconnect",
                elements=[ButtonElement(text="Reconnect", action_id="connector_connect", value=connector.name,
                                        style="primary")],
            ),
        ]
    )


def reconnect_text(connector, reason: str) -> str:
    return f"Your {connector.label} connection stopped working ({reason}): reconnect it."


def oauth_page(title: str, message: str) -> str:
    """The page the browser shows at the end of a connection attempt."""
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<meta name=viewport content='width=device-width'><title>{html.escape(title)} · Atom</title>"
        "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:34em;margin:4em auto;padding:0 1em}</style>"
        f"</head><body><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p></body></html>"
    )
