"""Slack's agent messaging over the real HTTP harness: the Messages tab, answers in threads with
task cards, what the person is looking at, and the legacy Assistant panel still working."""

from __future__ import annotations

import pytest

from bot.handlers.agent import SUGGESTED_PROMPTS, VIEWING_PROMPTS
from bot.viewing import NOTHING_VIEWED
from tests.fakes import payloads
from tests.fakes.providers import Behaviour
from tests.fakes.slack import Fault
from tests.keyhelpers import give_keys, settle, steps_text, streamed_text, task_cards
from tests.test_failover import order


async def answered(atom, count=1):
    [*_, stop] = await atom.slack.wait_for("chat.stopStream", count=count, timeout=20)
    await settle(atom)
    return stop


async def test_a_new_apps_flow_from_opening_the_tab_to_a_fresh_conversation(atom_sqlite):
    atom = atom_sqlite
    await give_keys(atom, "openai")

    # Opening the Messages tab: suggested prompts at the top of the conversation, no Home publish.
    await atom.client.event(payloads.app_home_opened_event("U1", tab="messages", channel="D1"))
    [prompts] = await atom.slack.wait_for("assistant.threads.setSuggestedPrompts")
    assert prompts.params["channel_id"] == "D1" and "thread_ts" not in prompts.params
    assert prompts.params["prompts"] == SUGGESTED_PROMPTS
    await settle(atom)
    assert atom.slack.calls_to("views.publish") == []

    # A top-level DM is answered in its own thread, streamed, task cards first, cost at the end.
    atom.providers.reply["openai"] = "A mutex lets one thread at a time into a critical section."
    first = payloads.message_im_event("What is a mutex?")
    await atom.client.event(first)
    stop = await answered(atom)
    [start] = atom.slack.calls_to("chat.startStream")
    assert start.params["thread_ts"] == first["ts"] and start.params["task_display_mode"] == "timeline"
    assert start.params["chunks"][0]["type"] == "task_update"
    assert start.params["chunks"][0]["title"] == "Choosing a model"
    assert " task → " in start.params["chunks"][0]["details"]
    assert streamed_text(atom.slack) == "A mutex lets one thread at a time into a critical section."
    assert "$" in str(stop.params["blocks"]) and "Why this model?" in str(stop.params["blocks"])

    # A reply in that thread continues the conversation.
    await atom.client.event(payloads.message_im_event("And how is a semaphore different?", thread_ts=first["ts"]))
    await answered(atom, count=2)
    second = atom.providers.requests_for("openai")[-1]
    assert "What is a mutex?" in second.body and "critical section" in second.body
    assert atom.slack.calls_to("chat.startStream")[-1].params["thread_ts"] == first["ts"]

    # A new top-level DM with its own subject is a fresh conversation.
    fresh = payloads.message_im_event("Write a haiku about autumn leaves")
    await atom.client.event(fresh)
    await answered(atom, count=3)
    third = atom.providers.requests_for("openai")[-1]
    assert "mutex" not in third.body and "semaphore" not in third.body
    assert atom.slack.calls_to("chat.startStream")[-1].params["thread_ts"] == fresh["ts"]


async def test_summarize_this_reads_the_viewed_channel_and_names_it(atom_sqlite):
    atom = atom_sqlite
    await give_keys(atom, "openai")
    atom.slack.messages["C5"] = [
        {"type": "message", "user": "U2", "text": "Launch moves to Thursday.", "ts": "1700000400.000100"},
        {"type": "message", "user": "U3", "text": "Docs are still missing screenshots.", "ts": "1700000400.000200"},
        {"type": "message", "subtype": "channel_join", "user": "U4", "text": "joined", "ts": "1700000400.000300"},
    ]
    atom.providers.reply["openai"] = "Launch is Thursday; docs need screenshots."
    await atom.client.event(
        payloads.app_context_changed_event("U1", channel="D1", entities=[payloads.channel_entity("C5")])
    )
    [prompts] = await atom.slack.wait_for("assistant.threads.setSuggestedPrompts")
    assert prompts.params["prompts"] == VIEWING_PROMPTS
    await atom.client.event(payloads.message_im_event("summarize this"))
    stop = await answered(atom)
    [members] = atom.slack.calls_to("conversations.members")
    assert members.params["channel"] == "C5"
    [history] = atom.slack.calls_to("conversations.history")
    assert history.params["channel"] == "C5" and history.token == "xoxb-test-bot-token"  # Atom's own token
    [request] = atom.providers.requests_for("openai")
    assert "Launch moves to Thursday." in request.body and "Docs are still missing screenshots." in request.body
    assert "joined" not in request.body
    assert request.body.index("Launch moves") < request.body.index("Docs are still")  # oldest first
    assert "Reading #channel-c5" in steps_text(atom.slack)
    assert "Context: #channel-c5, 2 recent messages" in str(stop.params["blocks"])
    assert streamed_text(atom.slack) == "Launch is Thursday; docs need screenshots."


async def test_a_viewed_message_means_its_thread(atom_sqlite):
    atom = atom_sqlite
    await give_keys(atom, "openai")
    root = "1700000500.000100"
    atom.slack.messages["C5"] = [
        {"type": "message", "user": "U2", "text": "Should we cache the tokens?", "ts": root, "thread_ts": root},
        {"type": "message", "user": "U3", "text": "Yes, for five minutes.", "ts": "1700000500.000200", "thread_ts": root},
        {"type": "message", "user": "U2", "text": "Unrelated channel chatter.", "ts": "1700000500.000300"},
    ]
    entity = payloads.message_entity("C5", root)
    await atom.client.event(payloads.app_context_changed_event("U1", entities=[entity, payloads.channel_entity("C5")]))
    await atom.client.event(payloads.message_im_event("What did I miss here?"))
    stop = await answered(atom)
    [replies] = atom.slack.calls_to("conversations.replies")
    assert replies.params["ts"] == root
    assert atom.slack.calls_to("conversations.history") == []
    body = atom.providers.requests_for("openai")[0].body
    assert "Yes, for five minutes." in body and "Unrelated channel chatter." not in body
    assert "Context: a thread in #channel-c5, 2 messages" in str(stop.params["blocks"])


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (lambda slack: slack.channels.update({"C6": {"is_member": False}}), "I'm not a member of #channel-c6"),
        (lambda slack: slack.hidden.add("C6"), "I can't see that conversation"),
        # A context naming a channel the person is not in (forged, or stale): refused, nothing read.
        (lambda slack: slack.members.update({"C6": ["UBOT", "U2"]}), "You're not a member of #channel-c6"),
    ],
    ids=["atom-not-a-member", "atom-cannot-see-it", "person-not-a-member"],
)
async def test_a_channel_atom_may_not_read_gets_one_clear_sentence(atom_sqlite, setup, expected):
    atom = atom_sqlite
    await give_keys(atom, "openai")
    setup(atom.slack)
    await atom.client.event(payloads.app_context_changed_event("U1", entities=[payloads.channel_entity("C6")]))
    await atom.client.event(payloads.message_im_event("summarize this"))
    [post] = await atom.slack.wait_for("chat.postMessage", timeout=20)
    await settle(atom)
    assert expected in post.params["text"]
    assert atom.slack.calls_to("conversations.history") == []
    assert atom.providers.requests == []  # no guess: no model was asked


async def refused_with(atom, entities, question="summarize this") -> str:
    """The one sentence Atom posts instead of reading (nothing read, no model asked)."""
    await atom.client.event(payloads.app_context_changed_event("U1", entities=entities))
    await atom.client.event(payloads.message_im_event(question))
    [post] = await atom.slack.wait_for("chat.postMessage", timeout=20)
    await settle(atom)
    assert atom.providers.requests == []
    return post.params["text"]


async def test_a_long_retry_after_on_the_read_is_told_at_once_not_slept_on(atom_sqlite):
    atom = atom_sqlite
    await give_keys(atom, "openai")
    atom.slack.messages["C5"] = [{"type": "message", "user": "U2", "text": "News.", "ts": "1700000400.000100"}]
    atom.slack.inject("conversations.history", Fault("429", retry_after=30), times=5)
    text = await refused_with(atom, [payloads.channel_entity("C5")])
    assert "Slack is rate-limiting reads of #channel-c5" in text and "try again in 30 seconds" in text
    # Asked once: Retry-After 30 is past ATOM_SLACK_MAX_WAIT (5 s), so neither Atom nor slack_sdk waited.
    assert len(atom.slack.calls_to("conversations.history")) == 1


async def test_a_short_retry_after_on_the_read_is_honoured_and_the_answer_comes(atom_sqlite):
    atom = atom_sqlite
    await give_keys(atom, "openai")
    atom.slack.messages["C5"] = [{"type": "message", "user": "U2", "text": "News.", "ts": "1700000400.000100"}]
    atom.slack.inject("conversations.history", Fault("429", retry_after=1), times=1)
    await atom.client.event(payloads.app_context_changed_event("U1", entities=[payloads.channel_entity("C5")]))
    await atom.client.event(payloads.message_im_event("summarize this"))
    await answered(atom)
    assert len(atom.slack.calls_to("conversations.history")) == 2
    assert "News." in atom.providers.requests_for("openai")[0].body


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("conversations.members", "Slack did not answer when I checked who is in #channel-c6"),
        ("conversations.info", "Slack did not answer when I checked who is in <#C6>"),
    ],
)
async def test_a_failed_membership_check_says_slack_did_not_answer(atom_sqlite, method, expected):
    atom = atom_sqlite
    await give_keys(atom, "openai")
    atom.slack.inject(method, Fault("500"), times=5)
    text = await refused_with(atom, [payloads.channel_entity("C6")])
    assert expected in text and "try again" in text
    assert "not a member" not in text and "private" not in text  # never the wrong reason
    assert atom.slack.calls_to("conversations.history") == []


@pytest.mark.parametrize(
    "entities",
    [
        [payloads.channel_entity("C1&channel=C2")],
        [payloads.channel_entity("C" * 100_000)],
        [payloads.message_entity("C5", "1700000400.000100&inclusive=true")],
        [{"type": "slack#/types/channel_id", "value": {"id": "C5"}}],
        [{"type": "slack#/types/channel_id", "value": ["C5"]}],
        [{"type": "slack#/types/channel_id", "value": 5}],
        ["C5", None],
        [{"type": "slack#/types/unknown", "value": "C5"}],
    ],
    ids=["injected-param", "huge-id", "bad-ts", "dict", "list", "int", "not-entities", "unknown-type"],
)
async def test_an_unusable_context_is_said_plainly_not_answered_from_an_older_one(atom_sqlite, entities):
    atom = atom_sqlite
    await give_keys(atom, "openai")
    atom.slack.messages["C5"] = [{"type": "message", "user": "U2", "text": "Old place.", "ts": "1700000400.000100"}]
    # An earlier, good context: the malformed one after it replaces it.
    await atom.client.event(payloads.app_context_changed_event("U1", entities=[payloads.channel_entity("C5")]))
    assert await refused_with(atom, entities) == NOTHING_VIEWED
    assert not [c for c in atom.slack.calls if c.method.startswith("conversations.")]  # nothing reached Slack


async def test_entities_given_as_a_dict_are_unusable_too(atom_sqlite):
    atom = atom_sqlite
    await give_keys(atom, "openai")
    event = payloads.app_context_changed_event("U1")
    event["context"] = {"entities": {"type": "slack#/types/channel_id", "value": "C5"}}
    await atom.client.event(event)
    await atom.client.event(payloads.message_im_event("what did I miss here?"))
    [post] = await atom.slack.wait_for("chat.postMessage", timeout=20)
    assert post.params["text"] == NOTHING_VIEWED
    assert not [c for c in atom.slack.calls if c.method.startswith("conversations.")]


async def test_the_member_check_pages_through_a_big_channel(atom_sqlite):
    atom = atom_sqlite
    await give_keys(atom, "openai")
    atom.slack.members["C8"] = ["UBOT", *(f"U{n:05d}" for n in range(2500)), "U1"]
    atom.slack.messages["C8"] = [{"type": "message", "user": "U2", "text": "Big news.", "ts": "1700000600.000100"}]
    await atom.client.event(payloads.app_context_changed_event("U1", entities=[payloads.channel_entity("C8")]))
    await atom.client.event(payloads.message_im_event("tl;dr"))
    await answered(atom)
    assert len(atom.slack.calls_to("conversations.members")) == 3
    assert "Big news." in atom.providers.requests_for("openai")[0].body


async def test_canvas_context_and_other_questions_are_not_read(atom_sqlite):
    atom = atom_sqlite
    await give_keys(atom, "openai")
    await atom.client.event(payloads.app_context_changed_event("U1", entities=[payloads.canvas_entity("F1")]))
    await atom.client.event(payloads.message_im_event("summarize this"))
    [post] = await atom.slack.wait_for("chat.postMessage", timeout=20)
    assert "can't read canvases or lists yet" in post.params["text"]
    await atom.client.event(payloads.app_context_changed_event("U1", entities=[payloads.channel_entity("C5")]))
    await atom.client.event(payloads.message_im_event("What is the boiling point of water?"))
    await answered(atom)
    assert atom.slack.calls_to("conversations.history") == []  # a question of its own is not about the view


async def test_failover_is_a_task_card_in_the_stream(atom_sqlite):
    atom = atom_sqlite
    await give_keys(atom, "openai", "anthropic")
    first, second = order("openai", "anthropic")
    atom.providers.script(first, Behaviour(status=429, retry_after=30))
    await atom.client.event(payloads.message_im_event("hello there, how are you?"))
    stop = await answered(atom)
    cards = task_cards(atom.slack)
    assert [c["title"] for c in cards][0] == "Choosing a model"
    labels = {"openai": "OpenAI", "anthropic": "Anthropic"}
    failover = cards[1]
    assert failover["status"] == "error"
    assert failover["title"].startswith(f"{labels[first]} was rate-limited, trying ")
    assert streamed_text(atom.slack) == f"Hello from {second}"
    assert "rate-limited" not in str(stop.params["blocks"])  # a step now, not a footer note
    assert len({c["id"] for c in cards}) == len(cards)


async def test_when_slack_refuses_task_cards_the_answer_streams_without_them(atom_sqlite):
    atom = atom_sqlite
    await give_keys(atom, "openai")
    atom.slack.chunk_types = {"markdown_text"}
    await atom.client.event(payloads.message_im_event("hello"))
    await answered(atom)
    refused, accepted = atom.slack.calls_to("chat.startStream")
    assert refused.params["chunks"][0]["type"] == "task_update"
    assert [c["type"] for c in accepted.params["chunks"]] == ["markdown_text"]
    assert "task_display_mode" not in accepted.params
    assert len(task_cards(atom.slack)) == 1  # after the refusal no further card was even tried
    assert streamed_text(atom.slack) == "Hello from openai"


async def test_when_slack_refuses_chunks_altogether_the_answer_is_plain_text(atom_sqlite):
    atom = atom_sqlite
    await give_keys(atom, "openai")
    atom.slack.chunk_types = set()
    atom.providers.reply["openai"] = "Plain but complete."
    await atom.client.event(payloads.message_im_event("hello"))
    await atom.slack.wait_for("chat.postMessage", timeout=20)
    await settle(atom)
    final = (atom.slack.calls_to("chat.update") or atom.slack.calls_to("chat.postMessage"))[-1]
    assert "Plain but complete." in str(final.params["blocks"]) and "Why this model?" in str(final.params["blocks"])
    assert atom.slack.calls_to("chat.postMessage")[0].params["thread_ts"] is not None  # still in its thread


async def test_when_slack_takes_cards_but_refuses_the_text_their_stream_is_closed(atom_sqlite):
    atom = atom_sqlite
    await give_keys(atom, "openai")
    atom.slack.chunk_types = {"task_update"}
    atom.providers.reply["openai"] = "Nothing of this is lost."
    await atom.client.event(payloads.message_im_event("hello"))
    await atom.slack.wait_for("chat.stopStream", timeout=20)
    await settle(atom)  # the cards' message is rewritten with the answer (bot/handlers/replies.py)
    [start] = atom.slack.calls_to("chat.startStream")
    [stop] = atom.slack.calls_to("chat.stopStream")
    assert start.params["chunks"][0]["type"] == "task_update" and not stop.params.get("chunks")
    final = (atom.slack.calls_to("chat.update") or atom.slack.calls_to("chat.postMessage"))[-1]
    assert "Nothing of this is lost." in str(final.params["blocks"]) and "Why this model?" in str(final.params["blocks"])


async def test_the_legacy_assistant_panel_keeps_its_behaviour(atom_sqlite):
    atom = atom_sqlite
    await give_keys(atom, "gemini")
    thread = "1700000700.000100"
    await atom.client.event(payloads.assistant_thread_started_event("U1", "D1", thread))
    [greeting] = await atom.slack.wait_for("chat.postMessage")
    assert greeting.params["thread_ts"] == thread and "I'm Atom" in greeting.params["text"]
    [prompts] = await atom.slack.wait_for("assistant.threads.setSuggestedPrompts")
    assert prompts.params["thread_ts"] == thread
    await atom.client.event(payloads.message_im_event("Plan a 3 day trip to Rome", thread_ts=thread))
    [title] = await atom.slack.wait_for("assistant.threads.setTitle", timeout=20)
    assert title.params["title"] == "Plan a 3 day trip to Rome"
    await atom.slack.wait_for("assistant.threads.setStatus")
    await answered(atom)
    assert streamed_text(atom.slack) == "Hello from gemini"
