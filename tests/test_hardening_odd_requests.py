"""Issue 8, finding 6: odd requests get a 4xx or a clear answer, never a 500; unknown shortcuts
and menus are answered; Home survives a failing users.info; sub-cent budgets are refused; a
model's mentions ping nobody; Share explains what went wrong."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from bot.storage.models import UsageRecord
from bot.views.answers import MentionGuard, neutralise_mentions
from tests.fakes import payloads
from tests.fakes.slack import Scripted
from tests.keyhelpers import eventually, give_keys, settle

FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize("timestamp", ["abc", "", "1e9", "99999999999999999999999", "0x10"])
async def test_a_timestamp_that_is_not_a_number_is_refused_not_a_crash(atom_sqlite, timestamp):
    resp = await atom_sqlite.client.post(
        json.dumps(payloads.url_verification_body("x")), "application/json",
        timestamp=timestamp, signature="v0=" + "0" * 64, sign=False,
    )
    assert resp.status == 401


def _action(**changes) -> dict:
    payload = payloads.block_actions_payload("key_add", value="openai", channel_id="C1")
    payload.update(changes)
    return payload


def _submission(callback_id: str, view_patch: dict) -> dict:
    payload = payloads.view_submission_payload(callback_id, payloads.text_input_values({"name.value": "x"}))
    payload["view"] = {**payload["view"], **view_patch}
    return payload


@pytest.mark.parametrize(
    "body",
    [
        urlencode({"payload": json.dumps(_action(actions="key_add"))}),  # actions as a string
        urlencode({"payload": json.dumps(_action(actions=[["key_add"]]))}),
        urlencode({"payload": json.dumps(_action(user=["U1"]))}),
        urlencode({"payload": json.dumps(_action(user={"id": 7}))}),
        urlencode({"payload": json.dumps(_action(team=12, user={"id": "U1"}))}),
        urlencode({"payload": json.dumps(_action(view="V1"))}),
        urlencode({"payload": json.dumps(_action(view=None))}),  # Bolt's unhandled-request log read it
        *(  # the workflow editor read view.state.values and answered 500 (outside tester)
            urlencode({"payload": json.dumps(_submission("workflow_edit", view_patch))})
            for view_patch in ({"state": None}, {"state": {}}, {"state": {"values": None}}, {"id": None})
        ),
        urlencode({"payload": json.dumps({**payloads.message_action_payload("no_such_shortcut", message={"ts": "1.1", "text": "hi"}), "view": None})}),
        urlencode({"payload": json.dumps(_action(trigger_id=None))}),
        urlencode({"payload": json.dumps(_action(response_url="not a url"))}),
        urlencode({"payload": "{not json"}),
        urlencode({"payload": "[1, 2]"}),
        urlencode({k: v for k, v in payloads.command_payload("help").items() if k != "user_id"}),
        urlencode({k: v for k, v in payloads.command_payload("help").items() if k != "channel_id"}),
        urlencode({"payload": json.dumps({"type": "view_submission", "user": {"id": "U1"},
                                          "team": {"id": "T1"}, "trigger_id": "t", "view": {"state": []}})}),
        "{\"type\": \"event_callback\"}",
    ],
)
async def test_signed_but_odd_bodies_get_a_4xx(atom_sqlite, body):
    resp = await atom_sqlite.client.post(body, FORM)
    assert 400 <= resp.status < 500, resp.text


@pytest.mark.parametrize(
    "event",
    [
        {"type": "message", "channel_type": "im", "text": "hi"},  # no channel
        {"type": "assistant_thread_started", "assistant_thread": {"user_id": "U1", "context": "x"}},
    ],
)
async def test_signed_odd_events_get_a_4xx(atom_sqlite, event):
    resp = await atom_sqlite.client.post_json(payloads.event_callback(event))
    assert 400 <= resp.status < 500


def _without(event: dict, name: str) -> dict:
    return {k: v for k, v in event.items() if k != name}


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({**payloads.message_im_event("hi"), "text": {"type": "mrkdwn", "text": "hi"}}, "text"),
        ({**payloads.message_im_event("hi"), "text": 5}, "text"),
        ({**payloads.message_im_event("hi"), "ts": None}, "ts"),
        (_without(payloads.message_im_event("hi"), "ts"), "ts"),
        ({**payloads.message_im_event("hi"), "ts": ""}, "ts"),
        ({**payloads.message_im_event("hi"), "user": {"id": "U1"}}, "user"),
        ({**payloads.app_mention_event("hi"), "text": ["hi"]}, "text"),
        (_without(payloads.app_mention_event("hi"), "ts"), "ts"),
        ({**payloads.app_home_opened_event(), "user": {"id": "U1"}}, "user"),
        ({**payloads.app_context_changed_event(), "channel": {"id": "D1"}}, "channel"),
        ({"type": "user_change", "user": "x", "event_ts": "1.2"}, "user"),
        ({"type": "user_change", "event_ts": "1.2"}, "user"),
        ({"type": "user_change", "user": {"deleted": True}, "event_ts": "1.2"}, "user.id"),
        ({"type": "user_change", "user": {"id": "U1", "deleted": "yes"}, "event_ts": "1.2"}, "user.deleted"),
        ({**payloads.tokens_revoked_event(), "tokens": "x"}, "tokens"),
        ({**payloads.tokens_revoked_event(), "tokens": {"bot": "UBOT"}}, "tokens.bot"),
        ({**payloads.tokens_revoked_event(), "tokens": {"oauth": [1], "bot": []}}, "tokens.oauth"),
    ],
)
async def test_fields_atoms_listeners_read_must_have_slacks_types(atom_sqlite, event, field):
    """Each of these passed the shape check and crashed a listener (a traceback, a handler error,
    an apology posted, top level when `ts` was missing); now a 400 names the field."""
    resp = await atom_sqlite.client.post_json(payloads.event_callback(event))
    assert resp.status == 400, resp.text
    assert f"`{field}`" in resp.json["error"] or f"`event.{field}`" in resp.json["error"], resp.json
    await settle(atom_sqlite)
    assert atom_sqlite.runtime.metrics.handler_errors._value.get() == 0
    assert atom_sqlite.slack.calls_to("chat.postMessage") == []


@pytest.mark.parametrize(
    "event",
    [
        payloads.message_im_event("hi"),
        {k: v for k, v in payloads.message_im_event("a file").items() if k != "text"},  # text absent
        payloads.app_mention_event("hi"),
        payloads.app_home_opened_event(tab="messages"),
        payloads.app_context_changed_event(),
        payloads.tokens_revoked_event(),
        payloads.tokens_revoked_event(oauth=["U1"], bot=[]),
        {"type": "user_change", "user": {"id": "U1", "deleted": True, "profile": {}}, "event_ts": "1.2"},
        {"type": "user_change", "user": {"id": "U1", "name": "ann"}, "event_ts": "1.2"},
    ],
)
async def test_slacks_own_event_shapes_still_pass(atom_sqlite, event):
    resp = await atom_sqlite.client.post_json(payloads.event_callback(event))
    assert resp.status == 200, resp.text
    await settle(atom_sqlite)
    assert atom_sqlite.runtime.metrics.handler_errors._value.get() == 0


async def test_a_command_mentioning_payload_is_still_a_command(atom_sqlite):
    resp = await atom_sqlite.client.command("help payload")
    assert resp.status == 200 and "Atom" in resp.text


async def test_an_unknown_global_shortcut_is_explained_in_a_modal(atom_sqlite):
    resp = await atom_sqlite.client.shortcut_global("no_such_shortcut")
    assert resp.status == 200
    [opened] = await atom_sqlite.slack.wait_for("views.open")
    assert "not available" in str(opened.params["view"])


async def test_an_unknown_message_shortcut_is_answered_privately(atom_sqlite):
    message = {"type": "message", "user": "U2", "text": "hi", "ts": "1700000000.000100"}
    resp = await atom_sqlite.client.shortcut_message("no_such_shortcut", message=message)
    assert resp.status == 200
    [said] = await atom_sqlite.slack.wait_for("response_url")
    assert "not available" in said.params["text"] and said.params["response_type"] == "ephemeral"


async def test_an_options_request_gets_an_empty_list(atom_sqlite):
    resp = await atom_sqlite.client.post_payload(
        {"type": "block_suggestion", "action_id": "anything", "block_id": "b", "value": "a",
         "user": {"id": "U1", "team_id": "T1"}, "team": {"id": "T1"}, "api_app_id": payloads.APP_ID}
    )
    assert resp.status == 200 and resp.json == {"options": []}


async def test_home_is_published_without_the_admin_section_when_users_info_fails(atom_sqlite):
    atom_sqlite.slack.fail_always("users.info", Scripted(body={"ok": False, "error": "fatal_error"}))
    await atom_sqlite.client.event(payloads.app_home_opened_event())
    [published] = await atom_sqlite.slack.wait_for("views.publish")
    view = str(published.params["view"])
    assert "Workspace settings are hidden" in view
    assert "ws_key_add" not in view


@pytest.mark.parametrize("budget", ["0.004", "0.001", "$0.009"])
async def test_a_budget_below_one_cent_is_a_field_error(atom_sqlite, budget):
    values = {"mode": {"value": {"type": "static_select", "selected_option": {"value": "balanced"}}},
              "budget": {"value": {"type": "plain_text_input", "value": budget}}}
    resp = await atom_sqlite.client.view_submission("settings", values)
    assert resp.json["response_action"] == "errors"
    assert "0.01" in resp.json["errors"]["budget"]


INJECTED = "Sure! <!channel> <!here> <!everyone> ping <@U0BOSS> and <!subteam^S123|@oncall> now."
PINGS = ("<!channel>", "<!here>", "<!everyone>", "<@U0BOSS>", "<!subteam^")


def test_neutralising_keeps_the_words_and_drops_the_pings():
    assert all(p not in neutralise_mentions(INJECTED) for p in PINGS)
    assert "channel" in neutralise_mentions(INJECTED) and "oncall" in neutralise_mentions(INJECTED)
    guard = MentionGuard()
    streamed = "".join(guard.feed(INJECTED[i : i + 3]) for i in range(0, len(INJECTED), 3)) + guard.flush()
    assert streamed == neutralise_mentions(INJECTED)


@pytest.mark.parametrize("where", ["dm", "mention", "command"])
async def test_a_models_mentions_ping_nobody(atom_sqlite, where):
    await give_keys(atom_sqlite, "openai")
    atom_sqlite.providers.reply["openai"] = INJECTED
    if where == "dm":
        await atom_sqlite.client.event(payloads.message_im_event("say hi to everyone"))
    elif where == "mention":
        await atom_sqlite.client.event(payloads.app_mention_event("say hi to everyone"))
    else:
        await atom_sqlite.client.command("ask say hi to everyone")
    await eventually(lambda: "oncall" in " ".join(str(c.params) for c in atom_sqlite.slack.calls))
    await settle(atom_sqlite)
    assert atom_sqlite.providers.requests  # the model was asked and answered
    sent = " ".join(str(c.params) for c in atom_sqlite.slack.calls)
    assert "oncall" in sent  # the answer arrived
    assert all(p not in sent for p in PINGS)


async def _private_answer(atom) -> str:
    await give_keys(atom, "openai")
    atom.providers.reply["openai"] = "Forty-two."
    await atom.client.command("ask what is six times seven?", channel_id="C5")
    await atom.slack.wait_for("response_url", timeout=15)
    await atom.runtime.usage.pending.flush()
    async with atom.runtime.sessions() as session:
        [record] = (await session.execute(select(UsageRecord))).scalars()
    atom.slack.reset()
    return record.id


async def test_share_where_atom_is_not_a_member_says_so(atom_sqlite):
    record_id = await _private_answer(atom_sqlite)
    atom_sqlite.slack.script("chat.postMessage", Scripted(body={"ok": False, "error": "not_in_channel"}))
    await atom_sqlite.client.block_action("share_answer", value=record_id, channel_id="C5")
    [said] = await atom_sqlite.slack.wait_for("response_url")
    assert "not a member" in said.params["text"]


async def test_someone_elses_share_click_is_told_only_the_asker_can_share(atom_sqlite):
    record_id = await _private_answer(atom_sqlite)
    await atom_sqlite.client.block_action("share_answer", value=record_id, channel_id="C5", user_id="U2")
    [said] = await atom_sqlite.slack.wait_for("response_url")
    assert said.params["text"] == "Only the person who asked can share this answer."
    assert atom_sqlite.slack.calls_to("chat.postMessage") == []


async def test_a_dm_with_a_lone_surrogate_is_answered_normally(atom_sqlite):
    """JSON may escape half a surrogate pair (`\\ud800`); no UTF-8 encoder takes it. It becomes
    U+FFFD where the question enters Atom, and the DM gets an ordinary answer."""
    await give_keys(atom_sqlite, "openai")
    atom_sqlite.providers.reply["openai"] = "Hello back."
    event = payloads.message_im_event("hi\ud800 there \udfff!")
    resp = await atom_sqlite.client.event(event)
    assert resp.status == 200
    await eventually(lambda: any("Hello back." in m.get("text", "") for m in atom_sqlite.slack.visible("D1")))
    await settle(atom_sqlite)
    [request] = atom_sqlite.providers.requests
    assert "hi\ufffd there \ufffd!" in json.dumps(request.json, ensure_ascii=False)
    said = [m["text"] for m in atom_sqlite.slack.visible("D1") if m.get("bot_id")]
    assert not any("Sorry" in text for text in said), said
    assert atom_sqlite.runtime.metrics.handler_errors._value.get() == 0


def _nest(levels: int, opening: str = '{"a":', closing: str = "}") -> str:
    return opening * levels + "1" + closing * levels


def _event_with(placeholder_for: str, nested: str) -> str:
    event = payloads.message_im_event("@@" if placeholder_for == "text" else "hi")
    if placeholder_for == "blocks":
        event["blocks"] = "@@"
    return json.dumps(payloads.event_callback(event)).replace('"@@"', nested)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (_nest(100_000), "application/json"),  # json.loads alone raises RecursionError
        (_nest(3000, "[", "]"), "application/json"),
        ("[" * 200_000, "application/json"),  # never closed
        (_event_with("blocks", _nest(5000, "[", "]")), "application/json"),
        (_event_with("text", _nest(3000)), "application/json"),
        (_event_with("blocks", _nest(70, "[", "]")), "application/json"),  # just over the limit
        (urlencode({"payload": _nest(20_000)}), FORM),
        (urlencode({"payload": json.dumps(_action(view="@@")).replace('"@@"', _nest(5000))}), FORM),
    ],
    ids=["object", "list", "unclosed", "blocks", "text", "just-over", "payload", "view-in-payload"],
)
async def test_deeply_nested_json_is_refused_with_a_clear_error(atom_sqlite, body, content_type):
    resp = await atom_sqlite.client.post(body, content_type)
    assert resp.status == 400, resp.text
    assert "nested more than 64 levels" in resp.json["error"]


async def test_nesting_inside_strings_and_within_the_limit_is_accepted(atom_sqlite):
    await give_keys(atom_sqlite, "openai")
    atom_sqlite.providers.reply["openai"] = "Brackets seen."
    text = "[[[{{{" * 50 + ' \\" ' + "]]]" * 50  # brackets and an escaped quote in the text
    event = payloads.message_im_event(text)
    event["blocks"] = json.loads(_nest(28, '[{"elements":', "}]"))
    resp = await atom_sqlite.client.event(event)
    assert resp.status == 200, resp.text
    await eventually(lambda: any("Brackets seen." in m.get("text", "") for m in atom_sqlite.slack.visible("D1")))
