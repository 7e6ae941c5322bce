"""Builders for the bodies Slack sends *to* the app: events, slash commands, interactions.

This module owns the wire shapes only (plain dicts, no I/O), so the same body can go over HTTP
(`tests.fakes.signing.SlackRequestClient`) or through Socket Mode
(`tests.fakes.slack.FakeSlack.send_envelope`), and a test can tweak a field before sending.
Field names and nesting follow what Slack really sends (docs.slack.dev reference payloads), with
fixed test identities: workspace `T1`, app `A1`, bot user `UBOT` / bot id `BBOT`, human `U1`.

Every id and ts comes from process-wide counters rather than the clock or `random`, so bodies are
unique across tests yet reproducible, and message ts values sort in creation order (also against
the ts values `FakeSlack` hands out for the bot's own messages, which share the counter).
"""

from __future__ import annotations

import itertools
from typing import Any

APP_ID = "A1"
TEAM_ID = "T1"
TEAM_DOMAIN = "atom-test"
BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
# The legacy verification token Slack still puts in every payload; Bolt ignores it when a signing
# secret (HTTP) or app token (Socket Mode) authenticates the request.
VERIFICATION_TOKEN = "verification-token-fake"

_ts_counter = itertools.count(1)
_id_counter = itertools.count(1)


def next_ts() -> str:
    """A Slack message ts ("1700000000.000100", "1700000000.000200", …), strictly increasing."""
    micros = next(_ts_counter) * 100
    return f"{1_700_000_000 + micros // 1_000_000}.{micros % 1_000_000:06d}"


def next_id(prefix: str) -> str:
    """A unique Slack-looking id such as `Ev0000000007`."""
    return f"{prefix}{next(_id_counter):010d}"


def next_trigger_id() -> str:
    n = next(_id_counter)
    return f"{n}.{1_000_000 + n}.{n:032x}"


def _rich_text_blocks(text: str) -> list[dict[str, Any]]:
    # Messages typed by people arrive with a rich_text rendering next to `text`; apps that read
    # blocks instead of text must see something realistic.
    return [
        {
            "type": "rich_text",
            "block_id": next_id("rt"),
            "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
        }
    ]


# --------------------------------------------------------------------------------------------
# Events (the inner `event` object of an event_callback)
# --------------------------------------------------------------------------------------------


def message_event(
    text: str,
    *,
    user: str = "U1",
    channel: str = "C1",
    channel_type: str = "channel",
    ts: str | None = None,
    thread_ts: str | None = None,
    team: str = TEAM_ID,
    subtype: str | None = None,
    bot_id: str | None = None,
    blocks: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A `message` event as posted by a person (or, with bot_id, by a bot)."""
    ts = ts or next_ts()
    event: dict[str, Any] = {
        "type": "message",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "channel_type": channel_type,
        "team": team,
    }
    if bot_id is None:
        event["client_msg_id"] = next_id("cm")
        event["blocks"] = blocks if blocks is not None else _rich_text_blocks(text)
    else:
        event["bot_id"] = bot_id
        if blocks is not None:
            event["blocks"] = blocks
    if subtype is not None:
        event["subtype"] = subtype
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return event


def message_im_event(
    text: str,
    user: str = "U1",
    channel: str = "D1",
    ts: str | None = None,
    thread_ts: str | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """A DM to the bot. With thread_ts it is what Bolt's AsyncAssistant treats as `user_message`."""
    return message_event(
        text, user=user, channel=channel, channel_type="im", ts=ts, thread_ts=thread_ts, **kwargs
    )


def bot_message_event(
    text: str,
    *,
    bot_id: str = BOT_ID,
    user: str = BOT_USER_ID,
    channel: str = "D1",
    channel_type: str = "im",
    ts: str | None = None,
    thread_ts: str | None = None,
) -> dict[str, Any]:
    """A message posted by a bot (by default Atom itself, which Bolt ignores as a self event)."""
    return message_event(
        text,
        user=user,
        channel=channel,
        channel_type=channel_type,
        ts=ts,
        thread_ts=thread_ts,
        bot_id=bot_id,
    )


def app_mention_event(
    text: str,
    *,
    user: str = "U1",
    channel: str = "C1",
    ts: str | None = None,
    thread_ts: str | None = None,
    team: str = TEAM_ID,
) -> dict[str, Any]:
    """An `app_mention`. Slack's text always contains the mention, so `<@UBOT> ` is prefixed if absent."""
    if f"<@{BOT_USER_ID}>" not in text:
        text = f"<@{BOT_USER_ID}> {text}"
    ts = ts or next_ts()
    event: dict[str, Any] = {
        "type": "app_mention",
        "user": user,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "channel": channel,
        "team": team,
        "client_msg_id": next_id("cm"),
        "blocks": _rich_text_blocks(text),
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return event


def app_home_opened_event(
    user: str = "U1", tab: str = "home", *, channel: str = "D1", view: dict[str, Any] | None = None
) -> dict[str, Any]:
    """`app_home_opened`; `view` is absent the very first time a user opens the Home tab."""
    event: dict[str, Any] = {
        "type": "app_home_opened",
        "user": user,
        "channel": channel,
        "tab": tab,
        "event_ts": next_ts(),
    }
    if view is not None:
        event["view"] = view
    return event


def assistant_thread_started_event(
    user: str = "U1",
    channel: str = "D1",
    thread_ts: str | None = None,
    *,
    context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`assistant_thread_started`: the user opened a new thread in the assistant container."""
    return {
        "type": "assistant_thread_started",
        "assistant_thread": {
            "user_id": user,
            "context": context if context is not None else {},
            "channel_id": channel,
            "thread_ts": thread_ts or next_ts(),
        },
        "event_ts": next_ts(),
    }


def assistant_thread_context_changed_event(
    user: str = "U1",
    channel: str = "D1",
    thread_ts: str | None = None,
    *,
    context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`assistant_thread_context_changed`: the user switched channel while the thread is open."""
    event = assistant_thread_started_event(user, channel, thread_ts, context=context)
    event["type"] = "assistant_thread_context_changed"
    return event


def channel_entity(channel: str, team: str = TEAM_ID) -> dict[str, Any]:
    """An `app_context_changed` entity: the person is viewing a channel."""
    return {"type": "slack#/types/channel_id", "value": channel, "team_id": team}


def message_entity(channel: str, message_ts: str, team: str = TEAM_ID) -> dict[str, Any]:
    """An `app_context_changed` entity: the person is viewing a message (and its thread)."""
    return {
        "type": "slack#/types/message_context",
        "value": {"channel_id": channel, "message_ts": message_ts},
        "team_id": team,
    }


def canvas_entity(canvas: str, team: str = TEAM_ID) -> dict[str, Any]:
    return {"type": "slack#/types/canvas_id", "value": canvas, "team_id": team}


def app_context_changed_event(
    user: str = "U1", *, channel: str = "D1", entities: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """`app_context_changed` (agent_view): what the person views, most relevant first; no entities
    is an empty `context` object, as Slack sends it."""
    return {
        "type": "app_context_changed",
        "user": user,
        "channel": channel,
        "context": {"entities": entities} if entities else {},
        "event_ts": next_ts(),
    }


def app_uninstalled_event() -> dict[str, Any]:
    return {"type": "app_uninstalled", "event_ts": next_ts()}


def tokens_revoked_event(*, oauth: list[str] | None = None, bot: list[str] | None = None) -> dict[str, Any]:
    """`tokens_revoked`: lists the user ids whose user (oauth) or bot tokens were revoked."""
    return {
        "type": "tokens_revoked",
        "tokens": {"oauth": oauth or [], "bot": bot if bot is not None else [BOT_USER_ID]},
        "event_ts": next_ts(),
    }


def event_callback(
    event: dict[str, Any],
    *,
    event_id: str | None = None,
    team_id: str = TEAM_ID,
    enterprise_id: str | None = None,
    authorizations: list[dict[str, Any]] | None = None,
    event_time: int = 1_700_000_000,
) -> dict[str, Any]:
    """The `event_callback` envelope around an event, as POSTed (HTTP) or as a Socket Mode payload."""
    body: dict[str, Any] = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": enterprise_id,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or next_id("Ev"),
        "event_time": event_time,
        "authorizations": authorizations
        if authorizations is not None
        else [
            {
                "enterprise_id": enterprise_id,
                "team_id": team_id,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{next_id('ctx')}",
    }
    if enterprise_id is not None:
        body["enterprise_id"] = enterprise_id
    return body


def url_verification_body(challenge: str) -> dict[str, Any]:
    return {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}


# --------------------------------------------------------------------------------------------
# Slash commands (form fields over HTTP; the same dict is the Socket Mode payload)
# --------------------------------------------------------------------------------------------


def command_payload(
    text: str,
    *,
    user_id: str = "U1",
    team_id: str = TEAM_ID,
    channel_id: str = "C1",
    command: str = "/atom",
    enterprise_id: str | None = None,
    trigger_id: str | None = None,
    response_url: str | None = None,
) -> dict[str, str]:
    fields = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel_id,
        "channel_name": "directmessage" if channel_id.startswith("D") else f"channel-{channel_id.lower()}",
        "user_id": user_id,
        "user_name": f"user-{user_id.lower()}",
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        # Port 9 (discard) on loopback: a respond() that nobody set up fails fast and locally.
        "response_url": response_url or f"http://127.0.0.1:9/commands/{team_id}/{next_id('')}/fake",
        "trigger_id": trigger_id or next_trigger_id(),
    }
    if enterprise_id is not None:
        fields["enterprise_id"] = enterprise_id
        fields["enterprise_name"] = "Atom Grid"
    return fields


# --------------------------------------------------------------------------------------------
# Interactivity (the JSON inside the `payload=` form field)
# --------------------------------------------------------------------------------------------


def _user(user_id: str, team_id: str) -> dict[str, Any]:
    name = f"user-{user_id.lower()}"
    return {"id": user_id, "username": name, "name": name, "team_id": team_id}


def _team(team_id: str, enterprise_id: str | None) -> dict[str, Any]:
    team: dict[str, Any] = {"id": team_id, "domain": TEAM_DOMAIN}
    if enterprise_id is not None:
        team["enterprise_id"] = enterprise_id
    return team


def _enterprise(enterprise_id: str | None) -> dict[str, Any] | None:
    return None if enterprise_id is None else {"id": enterprise_id, "name": "Atom Grid"}


def view_dict(
    *,
    view_type: str = "home",
    view_id: str = "V1",
    callback_id: str = "",
    private_metadata: str = "",
    values: dict[str, Any] | None = None,
    blocks: list[dict[str, Any]] | None = None,
    team_id: str = TEAM_ID,
    title: str = "Atom",
) -> dict[str, Any]:
    """A view object as Slack embeds it in interaction payloads (Home tab or modal)."""
    view: dict[str, Any] = {
        "id": view_id,
        "team_id": team_id,
        "type": view_type,
        "blocks": blocks or [],
        "private_metadata": private_metadata,
        "callback_id": callback_id,
        "state": {"values": values or {}},
        "hash": f"1700000000.{view_id}",
        "clear_on_close": False,
        "notify_on_close": False,
        "close": None,
        "submit": None,
        "previous_view_id": None,
        "root_view_id": view_id,
        "app_id": APP_ID,
        "external_id": "",
        "app_installed_team_id": team_id,
        "bot_id": BOT_ID,
    }
    if view_type == "modal":
        view["title"] = {"type": "plain_text", "text": title, "emoji": True}
        view["close"] = {"type": "plain_text", "text": "Cancel", "emoji": True}
        view["submit"] = {"type": "plain_text", "text": "Submit", "emoji": True}
    return view


def block_actions_payload(
    action_id: str,
    *,
    value: str | None = None,
    user_id: str = "U1",
    team_id: str = TEAM_ID,
    view: dict[str, Any] | None = None,
    container: dict[str, Any] | None = None,
    channel_id: str | None = None,
    message: dict[str, Any] | None = None,
    block_id: str = "b1",
    enterprise_id: str | None = None,
    action_type: str = "button",
    action_extra: dict[str, Any] | None = None,
    response_url: str | None = None,
    trigger_id: str | None = None,
) -> dict[str, Any]:
    """A `block_actions` payload: a button (or, with action_type/action_extra, other element) was used."""
    action: dict[str, Any] = {
        "action_id": action_id,
        "block_id": block_id,
        "type": action_type,
        "action_ts": next_ts(),
    }
    if action_type == "button":
        action["text"] = {"type": "plain_text", "text": "Button", "emoji": True}
    if value is not None:
        action["value"] = value
    action.update(action_extra or {})

    if container is None:
        if view is not None:
            container = {"type": "view", "view_id": view.get("id", "V1")}
        elif message is not None:
            container = {
                "type": "message",
                "message_ts": message.get("ts"),
                "channel_id": channel_id,
                "is_ephemeral": False,
            }
        else:
            container = {}
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user_id, team_id),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": container,
        "trigger_id": trigger_id or next_trigger_id(),
        "team": _team(team_id, enterprise_id),
        "enterprise": _enterprise(enterprise_id),
        "is_enterprise_install": False,
        "state": {"values": (view or {}).get("state", {}).get("values", {})},
        "actions": [action],
    }
    if view is not None:
        payload["view"] = view
    if channel_id is not None:
        payload["channel"] = {"id": channel_id, "name": f"channel-{channel_id.lower()}"}
    if message is not None:
        payload["message"] = message
    # Only message-borne actions carry a response_url; Home tab and modal actions do not.
    if message is not None or channel_id is not None:
        payload["response_url"] = response_url or f"http://127.0.0.1:9/actions/{team_id}/{next_id('')}/fake"
    return payload


def view_submission_payload(
    callback_id: str,
    values: dict[str, Any],
    *,
    private_metadata: str = "",
    user_id: str = "U1",
    team_id: str = TEAM_ID,
    view_id: str = "V1",
    enterprise_id: str | None = None,
    trigger_id: str | None = None,
) -> dict[str, Any]:
    """A `view_submission`; `values` is already shaped {block_id: {action_id: {type, value}}}."""
    return {
        "type": "view_submission",
        "team": _team(team_id, enterprise_id),
        "user": _user(user_id, team_id),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id or next_trigger_id(),
        "view": view_dict(
            view_type="modal",
            view_id=view_id,
            callback_id=callback_id,
            private_metadata=private_metadata,
            values=values,
            team_id=team_id,
        ),
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": _enterprise(enterprise_id),
    }


def text_input_values(fields: dict[str, str | None]) -> dict[str, Any]:
    """Shorthand: {"block.action": "text"} -> view.state.values of plain_text_input elements."""
    values: dict[str, Any] = {}
    for key, text in fields.items():
        block_id, _, action_id = key.partition(".")
        values.setdefault(block_id, {})[action_id or block_id] = {"type": "plain_text_input", "value": text}
    return values


def message_action_payload(
    callback_id: str,
    *,
    message: dict[str, Any],
    channel_id: str = "C1",
    user_id: str = "U1",
    team_id: str = TEAM_ID,
    response_url: str | None = None,
    trigger_id: str | None = None,
) -> dict[str, Any]:
    """A message shortcut (`message_action`) on `message`."""
    return {
        "type": "message_action",
        "token": VERIFICATION_TOKEN,
        "action_ts": next_ts(),
        "team": _team(team_id, None),
        "user": _user(user_id, team_id),
        "channel": {"id": channel_id, "name": f"channel-{channel_id.lower()}"},
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": trigger_id or next_trigger_id(),
        "response_url": response_url or f"http://127.0.0.1:9/actions/{team_id}/{next_id('')}/fake",
        "message_ts": message.get("ts"),
        "message": message,
    }


def global_shortcut_payload(
    callback_id: str, *, user_id: str = "U1", team_id: str = TEAM_ID, trigger_id: str | None = None
) -> dict[str, Any]:
    """A global shortcut (`shortcut`), started from the composer or search."""
    return {
        "type": "shortcut",
        "token": VERIFICATION_TOKEN,
        "action_ts": next_ts(),
        "team": _team(team_id, None),
        "user": _user(user_id, team_id),
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": trigger_id or next_trigger_id(),
    }
