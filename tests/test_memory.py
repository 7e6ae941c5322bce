"""Memory that follows the conversation (wire-level): thread replies carry it, a new top-level DM
starts afresh unless it is a bare follow-up within ten minutes, and the history is capped."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.followups import is_follow_up_only
from bot.identity import Person
from bot.memory import CONTINUED_NOTE, HISTORY_BUDGETS, NEW_NOTE, cap_history, estimate_tokens
from bot.storage.models import utcnow
from bot.usage import Preferences
from tests.fakes import payloads
from tests.keyhelpers import give_keys, settle

U1 = Person("", "T1", "U1")
FIRST = "Write a Python function that reverses a list"


async def answered(atom, count):
    [*_, stop] = await atom.slack.wait_for("chat.stopStream", count=count, timeout=20)
    await settle(atom)
    return stop


async def ask_top_level(atom, text, count):
    event = payloads.message_im_event(text)
    await atom.client.event(event)
    return event, await answered(atom, count)


def sent_messages(atom) -> list[dict]:
    return atom.providers.requests_for("openai")[-1].json["messages"]


async def test_a_reply_in_the_thread_under_a_dm_answer_carries_the_first_question(atom_sqlite):
    await give_keys(atom_sqlite, "openai")
    first, _ = await ask_top_level(atom_sqlite, FIRST, 1)
    await atom_sqlite.client.event(payloads.message_im_event("Now add type hints", thread_ts=first["ts"]))
    await answered(atom_sqlite, 2)
    contents = [m["content"] for m in sent_messages(atom_sqlite)]
    assert FIRST in contents and contents[-1] == "Now add type hints"


async def test_a_reply_sent_while_the_first_answer_streams_waits_for_it_and_carries_it(atom_sqlite):
    from tests.fakes.providers import Behaviour

    await give_keys(atom_sqlite, "openai")
    atom_sqlite.providers.script("openai", Behaviour(delay=1.0))  # the first answer takes a while
    first = payloads.message_im_event(FIRST)
    await atom_sqlite.client.event(first)
    await atom_sqlite.providers.wait_for_requests(1, "openai")  # the first answer is under way
    await atom_sqlite.client.event(payloads.message_im_event("Now add type hints", thread_ts=first["ts"]))
    await answered(atom_sqlite, 2)
    contents = [m["content"] for m in sent_messages(atom_sqlite)]
    assert FIRST in contents and contents[-1] == "Now add type hints"
    assert len(contents) >= 3  # the first answer too, not only the question


async def test_a_reply_in_a_channel_thread_under_an_answer_carries_the_question(atom_sqlite):
    await give_keys(atom_sqlite, "openai")
    mention = payloads.app_mention_event(f"<@UBOT> {FIRST}", channel="C7")
    await atom_sqlite.client.event(mention)
    await answered(atom_sqlite, 1)
    reply = payloads.message_event("Now add type hints", channel="C7", channel_type="channel", thread_ts=mention["ts"])
    await atom_sqlite.client.event(reply)
    await answered(atom_sqlite, 2)
    assert any(FIRST in m["content"] for m in sent_messages(atom_sqlite)[:-1])


async def test_a_bare_follow_up_within_ten_minutes_continues_the_last_conversation(atom):  # SQLite and PostgreSQL
    await give_keys(atom, "openai")
    await ask_top_level(atom, FIRST, 1)
    follow_up, stop = await ask_top_level(atom, "and in Go?", 2)
    contents = [m["content"] for m in sent_messages(atom)]
    assert FIRST in contents and contents[-1] == "and in Go?"
    assert CONTINUED_NOTE in str(stop.params["blocks"])
    # Its own thread continues the same conversation too.
    await atom.client.event(payloads.message_im_event("with generics please", thread_ts=follow_up["ts"]))
    await answered(atom, 3)
    contents = [m["content"] for m in sent_messages(atom)]
    assert FIRST in contents and "and in Go?" in contents


async def test_after_a_restart_a_bare_follow_up_still_finds_the_last_answer(atom):  # SQLite and PostgreSQL
    await give_keys(atom, "openai")
    await ask_top_level(atom, FIRST, 1)
    await atom.restart()  # the in-process record of the last answer is gone; the database has it
    _, stop = await ask_top_level(atom, "make it shorter", 2)
    contents = [m["content"] for m in sent_messages(atom)]
    assert FIRST in contents and CONTINUED_NOTE in str(stop.params["blocks"])


async def test_after_ten_minutes_a_bare_follow_up_starts_afresh(atom_sqlite):
    await give_keys(atom_sqlite, "openai")
    await ask_top_level(atom_sqlite, FIRST, 1)
    atom_sqlite.runtime.memory.clock = lambda: utcnow() + timedelta(minutes=10, seconds=5)  # no sleeping
    _, stop = await ask_top_level(atom_sqlite, "and in Go?", 2)
    contents = [m["content"] for m in sent_messages(atom_sqlite)]
    assert FIRST not in contents and contents[-1] == "and in Go?"
    blocks = str(stop.params["blocks"])
    assert CONTINUED_NOTE not in blocks and NEW_NOTE not in blocks


async def test_within_ten_minutes_a_message_with_its_own_subject_starts_afresh_and_says_so(atom_sqlite):
    await give_keys(atom_sqlite, "openai")
    await ask_top_level(atom_sqlite, FIRST, 1)
    atom_sqlite.runtime.memory.clock = lambda: utcnow() + timedelta(minutes=9)
    _, stop = await ask_top_level(atom_sqlite, "What is the capital of Peru?", 2)
    contents = [m["content"] for m in sent_messages(atom_sqlite)]
    assert FIRST not in contents
    assert NEW_NOTE in str(stop.params["blocks"])


async def test_a_day_of_unrelated_top_level_questions_does_not_pile_up(atom_sqlite):
    await give_keys(atom_sqlite, "openai")
    for n in range(1, 6):
        await ask_top_level(atom_sqlite, f"Unrelated question number {n} about topic {n * 7}?", n)
        assert len(sent_messages(atom_sqlite)) == 2  # the system prompt and this question only


@pytest.mark.parametrize("mode", ["save", "balanced", "best"])
async def test_the_history_cap_holds_for_a_200_turn_thread(atom_sqlite, mode):
    atom = atom_sqlite
    await give_keys(atom, "openai")
    await atom.runtime.usage.save_preferences(U1, Preferences(mode=mode))
    root = "1700000900.000100"
    memory = atom.runtime.memory
    for n in range(100):  # 200 turns, about 300 tokens each
        memory.remember(U1, f"D1:{root}", f"Q{n:03d} " + "question words " * 80, f"A{n:03d} " + "answer words " * 90)
    assert await atom.runtime.pending.flush()
    question = ("Q-NEWEST " + "a long newest question that must arrive whole " * 450).strip()  # ~20,000 chars
    await atom.client.event(payloads.message_im_event(question, thread_ts=root))
    await answered(atom, 1)
    messages = sent_messages(atom)
    system, *history, last = messages
    assert last == {"role": "user", "content": question}  # whole, never trimmed by the cap
    assert sum(estimate_tokens(m) for m in history) <= HISTORY_BUDGETS[mode]
    assert history and history[0]["role"] == "user"  # no answer without its question
    assert history[-1]["content"].startswith("A099")  # the newest turns are the ones kept
    assert not any(m["content"].startswith(("Q000", "A000")) for m in history)


def test_cap_history_drops_oldest_first_and_never_starts_with_an_answer():
    turns = [
        {"role": "user" if n % 2 == 0 else "assistant", "content": f"{n} " + "x" * 396} for n in range(10)
    ]  # 104 estimated tokens each
    kept = cap_history(turns, 350)
    assert [t["content"].split()[0] for t in kept] == ["8", "9"]
    assert cap_history(turns, 10_000) == turns
    assert cap_history(turns, 50) == []


@pytest.mark.parametrize(
    "text",
    ["make it shorter", "and in Go?", "why?", "Why not", "in Rust", "what about Java?", "more examples of that",
     "can you make it simpler please", "translate that to French", "it still fails", "tl;dr", "et en Go ?"],
)
def test_bare_follow_ups_are_recognised(text):
    assert is_follow_up_only(text)


@pytest.mark.parametrize(
    "text",
    ["What is the capital of Peru?", "Write a haiku about autumn", "and what is the tallest mountain on Earth?",
     "make a list of ten fruits", "explain `git rebase` to me", "this week I have three meetings",
     "summarize https://example.com/post for me", "", "How do I add my AI provider key?"],
)
def test_messages_with_their_own_subject_are_not_follow_ups(text):
    assert not is_follow_up_only(text)
