"""The shape every signed Slack request must have before Bolt and Atom's listeners see it.

Bolt reads ids out of bodies with `dict.get` chains and Atom's handlers index the fields Slack
always sends; a correctly signed but odd body (actions as a string, a command without user_id, a
number where an object belongs) would otherwise end in a listener exception and a 500. Slack
never sends such bodies, so they get a 400 here and never reach a listener. Pure functions over
the parsed body: no Slack client, no I/O.
"""

from __future__ import annotations

import re
from itertools import accumulate
from typing import Any
from urllib.parse import urlsplit

# Interactions that always carry the person who acted.
INTERACTIONS_WITH_A_USER = {
    "block_actions",
    "view_submission",
    "view_closed",
    "shortcut",
    "message_action",
    "block_suggestion",
    "interactive_message",
    "dialog_submission",
    "dialog_cancellation",
    "dialog_suggestion",
    "workflow_step_edit",
}
# Interactions Slack always sends with a trigger_id (listeners open modals with it).
WITH_A_TRIGGER = {"block_actions", "view_submission", "shortcut", "message_action"}
COMMAND_FIELDS = ("command", "user_id", "team_id", "channel_id", "trigger_id", "response_url")
# Fields Bolt and the listeners read, and the types they may have wherever they appear.
OBJECT_OR_ID = ("team", "user", "enterprise", "channel")
OBJECTS = ("view", "message", "container", "state", "assistant_thread", "previous_message", "context")
STRINGS = (
    "type",
    "subtype",
    "callback_id",
    "action_id",
    "block_id",
    "trigger_id",
    "response_url",
    "ts",
    "thread_ts",
    "event_ts",
    "channel_type",
    "bot_id",
    "team_id",
    "user_id",
    "enterprise_id",
    "channel_id",
    "id",
    "private_metadata",
    "root_view_id",
    "app_installed_team_id",
    "tab",
    "api_app_id",
    "event_id",
    "user_team",
    "message_ts",
)
# Levels of nesting: Slack's deepest payloads (rich text inside blocks inside a view) stay far
# below this; json.loads and any recursive walk would hit Python's recursion limit long above it.
MAX_DEPTH = 64
JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')  # brackets inside strings do not nest
NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
BRACKET_STEP = [0] * 256  # an opening bracket goes a level down, a closing one back up
BRACKET_STEP[ord("[")] = BRACKET_STEP[ord("{")] = 1
BRACKET_STEP[ord("]")] = BRACKET_STEP[ord("}")] = -1


def nesting_problem(raw: str) -> str | None:
    """Whether JSON text nests deeper than MAX_DEPTH, found without parsing it (a few thousand
    levels make json.loads raise RecursionError). C-speed regexes and a running sum: a 1 MiB
    body of brackets costs milliseconds, a Slack payload microseconds."""
    if raw.count("[") + raw.count("{") <= MAX_DEPTH:
        return None
    brackets = NOT_A_BRACKET.sub("", JSON_STRING.sub("", raw)).encode("ascii")
    if max(accumulate(map(BRACKET_STEP.__getitem__, brackets)), default=0) <= MAX_DEPTH:
        return None
    return f"JSON nested more than {MAX_DEPTH} levels deep"


# The fields Atom's event listeners (and Bolt's matchers before them) read, by event type, with
# the type Slack always sends: (path in the event, kind, required). A nested path is checked
# only when its parent is an object.
EVENT_FIELDS: dict[str, tuple[tuple[tuple[str, ...], str, bool], ...]] = {
    "message": (
        (("ts",), "string", True),
        (("text",), "string", False),
        (("user",), "string", False),
        (("channel_type",), "string", False),
    ),
    "app_mention": (
        (("ts",), "string", True),
        (("text",), "string", False),
        (("user",), "string", False),
    ),
    "app_home_opened": (
        (("user",), "string", False),
        (("channel",), "string", False),
        (("tab",), "string", False),
        (("view",), "object", False),
    ),
    "app_context_changed": (
        (("user",), "string", False),
        (("channel",), "string", False),
        (("context",), "object", False),
    ),
    "user_change": (
        (("user",), "object", True),
        (("user", "id"), "string", True),
        (("user", "deleted"), "boolean", False),
    ),
    "tokens_revoked": (
        (("tokens",), "object", True),
        (("tokens", "oauth"), "list of strings", False),
        (("tokens", "bot"), "list of strings", False),
    ),
}
KINDS = {
    "string": lambda v: isinstance(v, str),
    "object": lambda v: isinstance(v, dict),
    "boolean": lambda v: isinstance(v, bool),
    "list of strings": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
}


def _event_fields_problem(event: dict) -> str | None:
    for path, kind, required in EVENT_FIELDS.get(event["type"], ()):
        parent = event
        for name in path[:-1]:
            parent = parent.get(name)
        if not isinstance(parent, dict):
            continue
        name = ".".join(path)
        value = parent.get(path[-1])
        if value is None or (required and value == ""):
            if required:
                return f"a `{event['type']}` event without `{name}`"
        elif not KINDS[kind](value):
            return f"`event.{name}` of a `{event['type']}` event must be a {kind}"
    return None


def _is(value: Any, *types: type) -> bool:
    return value is None or isinstance(value, types)


def _walk(node: Any, depth: int = 0) -> str | None:
    """Type rules for the known fields wherever they appear in the tree."""
    if depth > MAX_DEPTH:
        return "nested too deeply"
    if isinstance(node, list):
        for item in node:
            if problem := _walk(item, depth + 1):
                return problem
        return None
    if not isinstance(node, dict):
        return None
    for name in OBJECT_OR_ID:
        if name in node and not _is(node[name], dict, str):
            return f"`{name}` must be an object or an id"
        if isinstance(node.get(name), dict) and "id" in node[name] and not _is(node[name]["id"], str):
            return f"`{name}.id` must be a string"
    for name in OBJECTS:
        if name in node and not _is(node[name], dict):
            return f"`{name}` must be an object"
    for name in STRINGS:
        if name in node and not _is(node[name], str):
            return f"`{name}` must be a string"
    if "text" in node and not _is(node["text"], str, dict):  # blocks' text is an object
        return "`text` must be a string or a text object"
    if "actions" in node and not (
        isinstance(node["actions"], list) and all(isinstance(a, dict) for a in node["actions"])
    ):
        return "`actions` must be a list of objects"
    if "authorizations" in node and not (
        _is(node["authorizations"], list) and all(isinstance(a, dict) for a in node["authorizations"] or [])
    ):
        return "`authorizations` must be a list of objects"
    state = node.get("state")
    if isinstance(state, dict) and "values" in state and not _is(state["values"], dict):
        return "`state.values` must be an object"
    if "values" in node and isinstance(node.get("values"), dict):
        for block in node["values"].values():
            if not isinstance(block, dict) or not all(isinstance(e, dict) for e in block.values()):
                return "`state.values` must map blocks to elements"
    for value in node.values():
        if isinstance(value, dict | list) and (problem := _walk(value, depth + 1)):
            return problem
    return None


def _url_problem(node: dict) -> str | None:
    url = node.get("response_url")
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.netloc or not url.isascii():
            return "`response_url` is not a URL"
    return None


def _user_id(body: dict) -> str:
    user = body.get("user")
    return (user.get("id") or "") if isinstance(user, dict) else (user or "")


def _top_level_problem(body: dict) -> str | None:
    # Bolt's log line for a request no listener matched reads `body["view"].get(...)` whenever the
    # key is there: a null view would turn that warning into a 500 (found by the fuzz test).
    if "view" in body and not isinstance(body["view"], dict):
        return "`view` must be an object"
    return None


def interaction_problem(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return "the payload is not an object"
    if problem := _walk(payload) or _top_level_problem(payload):
        return problem
    if problem := _url_problem(payload):
        return problem
    if payload.get("type") in INTERACTIONS_WITH_A_USER:
        if not _user_id(payload):
            return "an interaction without a user"
        team = payload.get("team")
        user = payload.get("user")
        team_id = (team.get("id") if isinstance(team, dict) else team) or (
            user.get("team_id") if isinstance(user, dict) else None
        )
        if not team_id and not payload.get("enterprise"):
            return "an interaction without a team"
    if payload.get("type") == "block_actions" and not (
        payload.get("actions") and all(a.get("action_id") for a in payload["actions"])
    ):
        return "block actions without action ids"
    if payload.get("type") in ("block_suggestion", "interactive_message") and not (
        payload.get("action_id") or payload.get("actions") or payload.get("callback_id")
    ):
        return "a menu request without an action id"
    if payload.get("type") in WITH_A_TRIGGER and not payload.get("trigger_id"):
        return "an interaction without a trigger_id"
    if payload.get("type") in ("view_submission", "view_closed") and not (
        isinstance(payload.get("view"), dict) and payload["view"].get("type")
    ):
        return "a view submission without its view"
    if payload.get("type") == "view_submission":
        # Slack always sends the view's id and its state's values; the form listeners read both.
        view = payload["view"]
        state = view.get("state")
        if not view.get("id") or not (isinstance(state, dict) and isinstance(state.get("values"), dict)):
            return "a view submission without its id or state"
    return None


def event_problem(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "the body is not an object"
    if problem := _walk(body) or _top_level_problem(body):
        return problem
    if body.get("type") == "event_callback":
        event = body.get("event")
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            return "an event callback without an event"
        if not (body.get("team_id") or body.get("enterprise_id") or body.get("authorizations")):
            return "an event callback without a team"
        if event["type"] in ("message", "app_mention") and not isinstance(event.get("channel"), str):
            return "a message event without a channel"
        if problem := _event_fields_problem(event):
            return problem
        if event["type"].startswith("assistant_thread_"):
            thread = event.get("assistant_thread")
            if not (isinstance(thread, dict) and all(thread.get(k) for k in ("channel_id", "thread_ts"))):
                return "an assistant event without its thread"
    if body.get("type") == "url_verification" and not isinstance(body.get("challenge"), str):
        return "a URL verification without a challenge"
    return None


def command_problem(form: dict[str, list[str]]) -> str | None:
    missing = [name for name in COMMAND_FIELDS if not (form.get(name) or [""])[0]]
    if missing:
        return f"a command without {', '.join(missing)}"
    return _url_problem({"response_url": form["response_url"][0]})
