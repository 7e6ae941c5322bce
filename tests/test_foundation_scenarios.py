"""The running bot over real HTTP: Slack requests in, Web API calls out to the fake Slack."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.fakes import payloads


async def test_help_command_answers_privately_in_the_ack(atom_sqlite):
    resp = await atom_sqlite.client.command("help")
    assert resp.status == 200
    body = resp.json
    assert body.get("response_type", "ephemeral") == "ephemeral"
    text = str(body["blocks"])
    assert "/atom keys" in text and "/atom usage" in text


async def test_empty_and_unknown_subcommands_answer_with_help(atom_sqlite):
    empty = await atom_sqlite.client.command("")
    assert "Atom: what you can ask" in str(empty.json["blocks"])
    unknown = await atom_sqlite.client.command("frobnicate")
    assert "I don't know the command `frobnicate`" in str(unknown.json["blocks"])


async def test_dm_without_keys_explains_and_offers_a_button(atom_sqlite):
    slack = atom_sqlite.slack
    resp = await atom_sqlite.client.event(payloads.message_im_event("hello there"))
    assert resp.status == 200
    [call] = await slack.wait_for("chat.postMessage")
    assert call.params["channel"] == "D1"
    assert "provider key" in call.params["text"]
    buttons = [e for b in call.params["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons and buttons[0]["action_id"] == "keys_open"


async def test_mention_is_answered_in_its_thread(atom_sqlite):
    event = payloads.app_mention_event("<@UBOT> hi", channel="C9")
    await atom_sqlite.client.event(event)
    [call] = await atom_sqlite.slack.wait_for("chat.postMessage")
    assert call.params["channel"] == "C9"
    assert call.params["thread_ts"] == event["ts"]


async def test_home_tab_is_published_for_the_person_who_opened_it(atom_sqlite):
    await atom_sqlite.client.event(payloads.app_home_opened_event(user="U7"))
    [call] = await atom_sqlite.slack.wait_for("views.publish")
    assert call.params["user_id"] == "U7"
    assert call.params["view"]["type"] == "home"


async def test_assistant_thread_gets_greeting_and_suggested_prompts(atom_sqlite):
    await atom_sqlite.client.event(payloads.assistant_thread_started_event(user="U1", channel="D1"))
    [prompts] = await atom_sqlite.slack.wait_for("assistant.threads.setSuggestedPrompts")
    assert 0 < len(prompts.params["prompts"]) <= 4
    await atom_sqlite.slack.wait_for("chat.postMessage")


async def test_bot_messages_and_edits_get_no_reply(atom_sqlite):
    await atom_sqlite.client.event(payloads.bot_message_event("I am a bot"))
    edited = payloads.message_im_event("x")
    edited["subtype"] = "message_changed"
    await atom_sqlite.client.event(edited)
    await atom_sqlite.client.event(payloads.message_im_event("real one"))
    await atom_sqlite.slack.wait_for("chat.postMessage")
    await asyncio.sleep(0.2)
    assert len(atom_sqlite.slack.calls_to("chat.postMessage")) == 1


async def test_same_event_four_times_sequentially_gets_one_reply(atom):
    event = payloads.message_im_event("hello")
    for retry in (None, 1, 2, 3):
        resp = await atom.client.event(event, event_id="EvSeq1", retry_num=retry)
        assert resp.status == 200
    await atom.slack.wait_for("chat.postMessage")
    await asyncio.sleep(0.3)
    assert len(atom.slack.calls_to("chat.postMessage")) == 1


async def test_same_event_four_times_concurrently_gets_one_reply(atom):
    event = payloads.message_im_event("hello")
    results = await asyncio.gather(
        *(atom.client.event(event, event_id="EvConc1", retry_num=r) for r in (None, 1, 2, 3))
    )
    assert [r.status for r in results] == [200] * 4
    await atom.slack.wait_for("chat.postMessage")
    await asyncio.sleep(0.3)
    assert len(atom.slack.calls_to("chat.postMessage")) == 1


async def test_redelivery_after_a_restart_gets_no_second_reply(atom):
    event = payloads.message_im_event("hello")
    await atom.client.event(event, event_id="EvRestart1")
    await atom.slack.wait_for("chat.postMessage")
    await atom.restart()
    for retry in (1, 2, 3):
        assert (await atom.client.event(event, event_id="EvRestart1", retry_num=retry)).status == 200
    await atom.client.event(payloads.message_im_event("new"), event_id="EvRestart2")
    await atom.slack.wait_for("chat.postMessage", count=2)
    await asyncio.sleep(0.3)
    assert len(atom.slack.calls_to("chat.postMessage")) == 2


async def test_health_ready_and_metrics(atom_sqlite):
    await atom_sqlite.client.command("help")
    await atom_sqlite.client.post_json({"type": "event_callback"}, signature="v0=forged")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{atom_sqlite.url}/healthz") as r:
            assert r.status == 200 and (await r.json())["status"] == "ok"
        async with http.get(f"{atom_sqlite.url}/readyz") as r:
            body = await r.json()
            assert r.status == 200 and body["checks"]["database"] == "ok"
        async with http.get(f"{atom_sqlite.url}/metrics") as r:
            text = await r.text()
            assert r.headers["Content-Type"].startswith("text/plain")
    assert 'atom_slack_requests_total{kind="slash_command"} 1.0' in text
    assert "atom_slack_acks_total 1.0" in text
    assert 'atom_slack_rejected_total{reason="signature"} 1.0' in text
    assert "atom_slack_ack_seconds_bucket" in text
    assert "atom_handler_errors_total 0.0" in text


async def test_readyz_reports_an_unreachable_database(atom_sqlite):
    from sqlalchemy.ext.asyncio import create_async_engine

    runtime = atom_sqlite.runtime
    working, runtime.engine = runtime.engine, create_async_engine("sqlite+aiosqlite:////nonexistent-dir/x.db")
    try:
        async with aiohttp.ClientSession() as http, http.get(f"{atom_sqlite.url}/readyz") as r:
            body = await r.json()
    finally:
        await runtime.engine.dispose()
        runtime.engine = working
    assert r.status == 503
    assert body["checks"]["database"].startswith("unreachable")


async def test_listener_failure_is_counted_and_the_process_keeps_serving(atom_sqlite):
    from sqlalchemy import text

    # A Slack refusal no longer fails a listener (bot/delivery.py); a database that lost a table does.
    async with atom_sqlite.runtime.engine.begin() as conn:
        await conn.execute(text("DROP TABLE provider_credentials"))
    await atom_sqlite.client.event(payloads.message_im_event("hello"))
    await atom_sqlite.slack.wait_for("chat.postMessage")
    for _ in range(50):
        if atom_sqlite.runtime.metrics.handler_errors._value.get() >= 1:
            break
        await asyncio.sleep(0.05)
    assert atom_sqlite.runtime.metrics.handler_errors._value.get() == 1
    assert (await atom_sqlite.client.command("help")).status == 200


async def test_channel_messages_outside_atoms_threads_get_no_reply(atom_sqlite):
    await atom_sqlite.client.event(payloads.message_event("hello all", channel="C1", channel_type="channel"))
    await atom_sqlite.client.event(
        payloads.message_event("in a thread", channel="C1", channel_type="channel", thread_ts="1700000000.000009")
    )
    await atom_sqlite.client.event(payloads.message_event("private channel", channel="G1", channel_type="group"))
    await asyncio.sleep(0.3)
    assert atom_sqlite.slack.calls_to("chat.postMessage") == []


async def test_every_subcommand_is_acknowledged(atom_sqlite):
    from bot.commands import SUBCOMMANDS

    atom_sqlite.slack.users["UADMIN"] = {"id": "UADMIN", "team_id": "T1", "is_admin": True}
    for name in SUBCOMMANDS:
        for user in ("U1", "UADMIN"):
            text = f"{name} something" if name in ("ask", "connect", "workflow") else name
            resp = await atom_sqlite.client.command(text, user_id=user)
            assert resp.status == 200, (name, user, resp.status, resp.text)


async def test_readyz_reports_a_stopped_scheduler(atom_sqlite):
    atom_sqlite.server._housekeeping.cancel()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    async with aiohttp.ClientSession() as http, http.get(f"{atom_sqlite.url}/readyz") as r:
        body = await r.json()
    assert r.status == 503 and body["checks"]["scheduler"] == "not running"


async def test_the_shared_slack_session_has_a_time_limit(atom_sqlite):
    """slack_sdk's own 30 s limit applies only to sessions it makes; Atom's shared one has its own
    (aiohttp's default is 5 minutes, which would hold a listener that long on a stuck call)."""
    total = atom_sqlite.runtime.client.session.timeout.total
    assert total is not None and total <= 60
    assert atom_sqlite.runtime.http_session().timeout.total <= 60
