"""Conversations over the real HTTP harness: every wire format, every surface, memory, sharing."""

from __future__ import annotations

import asyncio

import pytest

from tests.fakes import payloads
from tests.keyhelpers import KEYS, give_keys, settle, streamed_text

THREAD = "1700000100.000100"


@pytest.mark.parametrize("provider", list(KEYS))
async def test_threaded_dm_streams_the_answer_with_its_cost(atom_sqlite, provider):
    await give_keys(atom_sqlite, provider)
    atom_sqlite.providers.reply[provider] = f"Paris is the capital of France, says {provider}."
    await atom_sqlite.client.event(payloads.message_im_event("What is the capital of France?", thread_ts=THREAD))
    [stop] = await atom_sqlite.slack.wait_for("chat.stopStream", timeout=15)
    await settle(atom_sqlite)
    [start] = atom_sqlite.slack.calls_to("chat.startStream")
    assert start.params["thread_ts"] == THREAD and start.params["recipient_user_id"] == "U1"
    assert streamed_text(atom_sqlite.slack) == f"Paris is the capital of France, says {provider}."
    footer = str(stop.params["blocks"])
    assert "$" in footer and "Why this model?" in footer
    [request] = atom_sqlite.providers.requests_for(provider)
    assert request.stream
    assert KEYS[provider] not in request.body  # the key travels only in the auth header


@pytest.mark.parametrize("provider", list(KEYS))
async def test_private_ask_uses_a_plain_call_and_offers_sharing(atom_sqlite, provider):
    await give_keys(atom_sqlite, provider)
    atom_sqlite.providers.reply[provider] = "Forty-two."
    resp = await atom_sqlite.client.command("ask what is six times seven?", channel_id="C5")
    assert resp.status == 200
    [answer] = await atom_sqlite.slack.wait_for("response_url", timeout=15)
    assert answer.params["response_type"] == "ephemeral"
    assert "Forty-two." in str(answer.params["blocks"])
    [request] = atom_sqlite.providers.requests_for(provider)
    assert not request.stream
    share = next(
        e for b in answer.params["blocks"] if b["type"] == "actions" for e in b["elements"] if e["action_id"] == "share_answer"
    )
    await atom_sqlite.client.block_action("share_answer", value=share["value"], channel_id="C5")
    [posted] = await atom_sqlite.slack.wait_for("chat.postMessage")
    assert posted.params["channel"] == "C5" and "Forty-two." in str(posted.params["blocks"])
    assert posted.params["unfurl_links"] is False


async def test_top_level_dm_is_answered_in_its_own_thread(atom_sqlite):
    # Slack's agent messaging: each top-level message starts a conversation, answered in its thread.
    await give_keys(atom_sqlite, "openai")
    atom_sqlite.providers.reply["openai"] = "A mutex lets one thread at a time into a critical section."
    question = payloads.message_im_event("hi, what is a mutex?")
    await atom_sqlite.client.event(question)
    [stop] = await atom_sqlite.slack.wait_for("chat.stopStream", timeout=15)
    await settle(atom_sqlite)
    [start] = atom_sqlite.slack.calls_to("chat.startStream")
    assert start.params["thread_ts"] == question["ts"] and start.params["unfurl_links"] is False
    assert streamed_text(atom_sqlite.slack) == "A mutex lets one thread at a time into a critical section."
    assert "Why this model?" in str(stop.params["blocks"])
    assert atom_sqlite.slack.calls_to("chat.postMessage") == []


async def test_thread_memory_carries_earlier_turns(atom_sqlite):
    await give_keys(atom_sqlite, "anthropic")
    atom_sqlite.providers.reply["anthropic"] = "Your favourite colour is teal."
    await atom_sqlite.client.event(payloads.message_im_event("My favourite colour is teal.", thread_ts=THREAD))
    await atom_sqlite.slack.wait_for("chat.stopStream", timeout=15)
    await settle(atom_sqlite)
    await atom_sqlite.client.event(payloads.message_im_event("What is my favourite colour?", thread_ts=THREAD))
    await atom_sqlite.slack.wait_for("chat.stopStream", count=2, timeout=15)
    await settle(atom_sqlite)
    second = atom_sqlite.providers.requests_for("anthropic")[-1]
    assert "My favourite colour is teal." in second.body and "Your favourite colour is teal." in second.body


async def test_assistant_thread_sets_status_and_title_then_streams(atom_sqlite):
    await give_keys(atom_sqlite, "gemini")
    await atom_sqlite.client.event(payloads.message_im_event("Plan a 3 day trip to Rome", thread_ts=THREAD))
    [title] = await atom_sqlite.slack.wait_for("assistant.threads.setTitle", timeout=15)
    assert title.params["title"] == "Plan a 3 day trip to Rome"
    await atom_sqlite.slack.wait_for("assistant.threads.setStatus")
    await atom_sqlite.slack.wait_for("chat.stopStream", timeout=15)
    await settle(atom_sqlite)
    assert streamed_text(atom_sqlite.slack) == "Hello from gemini"


async def test_assistant_thread_is_titled_once_and_never_with_a_pasted_key(atom_sqlite):
    await give_keys(atom_sqlite, "openai")
    pasted = f"here is my key {KEYS['anthropic']}"
    await atom_sqlite.client.event(payloads.message_im_event(pasted, thread_ts="1700000200.000100"))
    await atom_sqlite.slack.wait_for("chat.postMessage", timeout=15)  # the warning, nothing else
    await settle(atom_sqlite)
    assert atom_sqlite.slack.calls_to("assistant.threads.setTitle") == []
    await atom_sqlite.client.event(payloads.message_im_event("First question", thread_ts=THREAD))
    await atom_sqlite.slack.wait_for("chat.stopStream", timeout=15)
    await settle(atom_sqlite)
    await atom_sqlite.client.event(payloads.message_im_event("Second question", thread_ts=THREAD))
    await atom_sqlite.slack.wait_for("chat.stopStream", count=2, timeout=15)
    await settle(atom_sqlite)
    assert [c.params["title"] for c in atom_sqlite.slack.calls_to("assistant.threads.setTitle")] == ["First question"]


async def test_mention_then_follow_up_without_mention_and_quiet_elsewhere(atom_sqlite):
    await give_keys(atom_sqlite, "deepseek")
    mention = payloads.app_mention_event("<@UBOT> what is 2+2?", channel="C7")
    await atom_sqlite.client.event(mention)
    [start] = await atom_sqlite.slack.wait_for("chat.startStream", timeout=15)
    assert start.params["thread_ts"] == mention["ts"]
    await atom_sqlite.slack.wait_for("chat.stopStream", timeout=15)
    await settle(atom_sqlite)
    follow_up = payloads.message_event("and times 3?", channel="C7", channel_type="channel", thread_ts=mention["ts"])
    await atom_sqlite.client.event(follow_up)
    await atom_sqlite.slack.wait_for("chat.stopStream", count=2, timeout=15)
    stranger = payloads.message_event("unrelated chatter", channel="C7", channel_type="channel", thread_ts="1700000999.000001")
    top = payloads.message_event("hello channel", channel="C7", channel_type="channel")
    await atom_sqlite.client.event(stranger)
    await atom_sqlite.client.event(top)
    await asyncio.sleep(0.3)
    await settle(atom_sqlite)
    assert len(atom_sqlite.providers.requests_for("deepseek")) == 2


async def test_summarize_thread_shortcut_sends_a_private_summary(atom_sqlite):
    await give_keys(atom_sqlite, "openai")
    atom_sqlite.slack.messages["C3"] = [
        {"type": "message", "user": "U2", "text": "We ship on Friday.", "ts": "1700000200.000100"},
        {"type": "message", "user": "U3", "text": "QA is not done.", "ts": "1700000200.000200", "thread_ts": "1700000200.000100"},
    ]
    atom_sqlite.providers.reply["openai"] = "Shipping Friday; QA open."
    resp = await atom_sqlite.client.shortcut_message(
        "summarize_thread", message={"type": "message", "user": "U2", "text": "We ship on Friday.", "ts": "1700000200.000100"},
        channel_id="C3",
    )
    assert resp.status == 200
    await atom_sqlite.slack.wait_for("conversations.replies", timeout=15)
    await atom_sqlite.slack.wait_for("chat.update", timeout=15)
    await settle(atom_sqlite)
    [post] = atom_sqlite.slack.calls_to("chat.postMessage")
    assert post.params["channel"] == "U1"  # a private message to the person who asked
    [request] = atom_sqlite.providers.requests_for("openai")
    assert "QA is not done." in request.body


async def test_forget_deletes_history_and_retention_purges_old_turns(atom_sqlite):
    from datetime import timedelta

    from bot.storage.models import utcnow

    await give_keys(atom_sqlite, "openai")
    await atom_sqlite.client.event(payloads.message_im_event("remember this", thread_ts=THREAD))
    await atom_sqlite.slack.wait_for("chat.stopStream", timeout=15)
    await settle(atom_sqlite)
    memory = atom_sqlite.runtime.memory
    assert await memory.purge_expired() == 0
    assert await memory.purge_expired(now=utcnow() + timedelta(days=31)) == 2
    await atom_sqlite.client.event(payloads.message_im_event("remember this too", thread_ts=THREAD))
    await atom_sqlite.slack.wait_for("chat.stopStream", count=2, timeout=15)
    await settle(atom_sqlite)
    resp = await atom_sqlite.client.command("forget")
    assert "deleted 2 stored messages" in resp.text
    from bot.identity import Person

    assert await memory.history(Person("", "T1", "U1"), f"D1:{THREAD}") == []


async def test_history_is_encrypted_at_rest(atom_sqlite):
    from pathlib import Path

    from bot.identity import Person

    await give_keys(atom_sqlite, "openai")
    atom_sqlite.providers.reply["openai"] = "The launch code word is PELICAN-ANSWER."
    await atom_sqlite.client.event(payloads.message_im_event("My secret plan is PELICAN-QUESTION", thread_ts=THREAD))
    await atom_sqlite.slack.wait_for("chat.stopStream", timeout=15)
    await settle(atom_sqlite)
    assert await atom_sqlite.runtime.pending.flush()  # the turns are on disk, not still queued
    history = await atom_sqlite.runtime.memory.history(Person("", "T1", "U1"), f"D1:{THREAD}")
    assert "PELICAN-ANSWER" in history[-1]["content"]
    db = Path(str(atom_sqlite.runtime.engine.url.database))
    raw = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    assert b"PELICAN" not in raw


async def test_why_this_model_and_feedback_are_for_the_asker_only(atom_sqlite):
    await give_keys(atom_sqlite, "openai")
    await atom_sqlite.client.event(payloads.message_im_event("write a python function to reverse a list", thread_ts=THREAD))
    [stop] = await atom_sqlite.slack.wait_for("chat.stopStream", timeout=15)
    await settle(atom_sqlite)
    buttons = {e["action_id"]: e["value"] for b in stop.params["blocks"] if b["type"] == "actions" for e in b["elements"]}
    await atom_sqlite.client.block_action("why_model", value=buttons["why_model"], channel_id="D1")
    [why] = await atom_sqlite.slack.wait_for("views.open")
    text = str(why.params["view"])
    assert "Task: code" in text and "Candidates" in text
    await atom_sqlite.client.block_action("feedback_good", value=buttons["feedback_good"], user_id="U2", channel_id="D1")
    await atom_sqlite.client.block_action("feedback_bad", value=buttons["feedback_bad"], channel_id="D1")
    await settle(atom_sqlite)
    for _ in range(100):  # the action's handler runs after its ack, outside settle()'s reach: wait for it
        record = await atom_sqlite.runtime.usage.log.get(buttons["feedback_bad"])
        if record.feedback is not None:
            break
        await asyncio.sleep(0.1)
    assert record.feedback == "bad" and record.task == "code"
    await atom_sqlite.client.block_action("why_model", value=buttons["why_model"], user_id="U2", channel_id="D1")
    opened = await atom_sqlite.slack.wait_for("views.open", count=3)
    assert "Only the person who asked" in str(opened[-1].params["view"])


async def test_usage_command_and_home_show_this_months_spend(atom_sqlite):
    await give_keys(atom_sqlite, "openai")
    await atom_sqlite.client.event(payloads.message_im_event("hello", thread_ts=THREAD))
    await atom_sqlite.slack.wait_for("chat.stopStream", timeout=15)
    await settle(atom_sqlite)
    resp = await atom_sqlite.client.command("usage")
    text = str(resp.json["blocks"])
    assert "*1* answer ·" in text and "OpenAI: 1" in text and "General chat: 1" in text
    await atom_sqlite.client.event(payloads.app_home_opened_event(user="U1"))
    await settle(atom_sqlite)
    assert "Usage this month" in str(atom_sqlite.slack.calls_to("views.publish")[-1].params["view"])


async def test_the_ack_never_waits_for_a_slow_provider(atom_sqlite):
    from tests.fakes.providers import Behaviour

    await give_keys(atom_sqlite, "openai")
    atom_sqlite.providers.script("openai", Behaviour(delay=10))
    client = atom_sqlite.client
    # Each request must be answered before Slack's 3-second limit, whatever the model is doing.
    resp = await asyncio.wait_for(client.event(payloads.message_im_event("slow one", thread_ts=THREAD)), 3)
    assert resp.status == 200
    resp = await asyncio.wait_for(client.command("ask slow question please"), 3)
    assert resp.status == 200
    resp = await asyncio.wait_for(client.event(payloads.app_mention_event("<@UBOT> slow too")), 3)
    assert resp.status == 200
    await atom_sqlite.slack.wait_for("chat.stopStream", count=2, timeout=30)
    await atom_sqlite.slack.wait_for("response_url", timeout=30)


async def test_a_storage_failure_after_the_answer_still_closes_the_stream(atom_sqlite):
    from sqlalchemy import text

    await give_keys(atom_sqlite, "openai")
    async with atom_sqlite.runtime.engine.begin() as conn:
        await conn.execute(text("DROP TABLE usage_records"))  # usage can no longer be recorded
    await atom_sqlite.client.event(payloads.message_im_event("hello", thread_ts=THREAD))
    [stop] = await atom_sqlite.slack.wait_for("chat.stopStream", timeout=15)
    assert "Why this model?" in str(stop.params["blocks"])


async def test_a_failing_listener_still_tells_the_person(atom_sqlite):
    from sqlalchemy import text

    from bot.app import SORRY

    async with atom_sqlite.runtime.engine.begin() as conn:
        await conn.execute(text("DROP TABLE provider_credentials"))  # the keys can no longer be read
    await atom_sqlite.client.event(payloads.message_im_event("hello", ts="1700000000.000100"))
    [call] = await atom_sqlite.slack.wait_for("chat.postMessage")
    assert call.params["text"] == SORRY
    # Every DM is answered in its own thread (agent messaging), the apology too.
    assert call.params["channel"] == "D1" and call.params["thread_ts"] == "1700000000.000100"


async def test_when_too_many_answers_wait_the_person_is_told_to_ask_again(atom_sqlite, monkeypatch):
    import bot.conversations

    await give_keys(atom_sqlite, "openai")
    monkeypatch.setattr(bot.conversations, "MAX_WAITING_ANSWERS", 0)  # as if 10,000 were waiting
    await atom_sqlite.client.event(payloads.message_im_event("hello?", thread_ts=THREAD))
    [post] = await atom_sqlite.slack.wait_for("chat.postMessage", timeout=15)
    assert post.params["text"] == bot.conversations.BUSY_TEXT
    assert atom_sqlite.providers.requests_for("openai") == []
