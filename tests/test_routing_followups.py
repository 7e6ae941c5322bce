"""Follow-ups through the running bot: a bare follow-up keeps the task of the thread it continues."""

from __future__ import annotations

from sqlalchemy import select

from bot.llm.models import lookup
from bot.storage.models import UsageRecord
from tests.fakes import payloads
from tests.keyhelpers import give_keys, settle

THREAD = "1700000500.000100"


async def ask(atom, text, thread_ts=THREAD):
    count = len(atom.slack.calls_to("chat.stopStream")) + 1
    await atom.client.event(payloads.message_im_event(text, thread_ts=thread_ts))
    await atom.slack.wait_for("chat.stopStream", count=count, timeout=20)
    await settle(atom)


async def records(atom):
    await atom.runtime.pending.flush()
    async with atom.runtime.sessions() as session:
        return list((await session.execute(select(UsageRecord).order_by(UsageRecord.created_at))).scalars())


async def test_and_in_go_stays_on_a_standard_model_in_a_thread_about_code(atom_sqlite):
    await give_keys(atom_sqlite, "openai", "anthropic")
    await ask(atom_sqlite, "Write a Python function that checks whether a string is a palindrome")
    await ask(atom_sqlite, "and in Go?")
    code, follow_up = await records(atom_sqlite)
    assert code.task == follow_up.task == "code"
    assert lookup(code.model).tier == lookup(follow_up.model).tier == "standard"
    assert "continues the previous code exchange" in follow_up.explanation
    # The follow-up went to the model with the thread's first question in its messages.
    last = atom_sqlite.providers.requests[-1]
    assert "palindrome" in last.body and "and in Go?" in last.body


async def test_the_same_words_in_a_new_thread_are_plain_chat(atom_sqlite):
    await give_keys(atom_sqlite, "openai", "anthropic")
    await ask(atom_sqlite, "Write a Python function that checks whether a string is a palindrome")
    await ask(atom_sqlite, "and in Go?", thread_ts="1700000600.000100")
    code, alone = await records(atom_sqlite)
    assert code.task == "code" and alone.task == "chat"
    assert lookup(alone.model).tier == "economy"
