"""The failover matrix: 401, 429 with Retry-After, 500, a hang, a mid-stream drop, nothing left."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.llm.classify import classify
from bot.llm.models import available_models
from bot.llm.routing import plan
from bot.storage.models import ProviderCredential, UsageRecord
from tests.conftest import AtomHarness, atom_env, provider_env
from tests.fakes import payloads
from tests.fakes.providers import Behaviour
from tests.keyhelpers import give_keys, settle, steps_text, streamed_text

THREAD = "1700000300.000100"
QUESTION = "hello there, how are you?"


def order(*providers: str) -> list[str]:
    """The providers in the order Atom will try them for QUESTION (balanced mode)."""
    candidates = plan(classify(QUESTION), available_models(providers)).candidates
    seen: list[str] = []
    for choice in candidates:
        if choice.model.provider not in seen:
            seen.append(choice.model.provider)
    return seen


async def ask(atom, text=QUESTION):
    await atom.client.event(payloads.message_im_event(text, thread_ts=THREAD))


async def finished(atom, count=1):
    [*_, stop] = await atom.slack.wait_for("chat.stopStream", count=count, timeout=20)
    await settle(atom)
    return stop


async def usage_records(atom):
    await atom.runtime.pending.flush()  # answers' records are written in batches (bot/pending.py)
    async with atom.runtime.sessions() as session:
        return list((await session.execute(select(UsageRecord).order_by(UsageRecord.created_at))).scalars())


@pytest.fixture
async def two_keys(atom_sqlite):
    await give_keys(atom_sqlite, "openai", "anthropic")
    first, second = order("openai", "anthropic")
    return atom_sqlite, first, second


async def test_rejected_key_is_marked_failing_and_the_next_provider_answers(two_keys):
    atom, first, second = two_keys
    atom.providers.script(first, Behaviour(status=401))
    await ask(atom)
    stop = await finished(atom)
    # The failover is a step in the stream (a task card), no longer a note under the answer.
    assert "rejected the key, trying" in steps_text(atom.slack)
    assert "answered by" not in str(stop.params["blocks"])
    assert streamed_text(atom.slack) == f"Hello from {second}"
    async with atom.runtime.sessions() as session:
        rows = {r.provider: r for r in (await session.execute(select(ProviderCredential))).scalars()}
    assert rows[first].status == "failing" and rows[second].status == "ok"
    [record] = await usage_records(atom)
    assert record.failovers == 1 and record.provider == second


async def test_rate_limit_cools_the_provider_down_for_retry_after(two_keys):
    atom, first, second = two_keys
    atom.providers.script(first, Behaviour(status=429, retry_after=120))
    await ask(atom)
    await finished(atom)
    assert "was rate-limited, trying" in steps_text(atom.slack)
    await ask(atom, "and another question for you")
    await finished(atom, count=2)
    assert len(atom.providers.requests_for(first)) == 1  # still cooling down: not called again
    assert len(atom.providers.requests_for(second)) == 2


async def test_server_error_fails_over(two_keys):
    atom, first, second = two_keys
    atom.providers.script(first, Behaviour(status=500))
    await ask(atom)
    await finished(atom)
    assert "had a server error (500), trying" in steps_text(atom.slack)
    assert streamed_text(atom.slack) == f"Hello from {second}"


async def test_mid_stream_drop_keeps_the_partial_answer_marked_cut_off(two_keys):
    atom, first, _ = two_keys
    atom.providers.reply[first] = "one two three four five six seven eight"
    atom.providers.script(first, Behaviour(drop_after_chunks=2))
    await ask(atom)
    stop = await finished(atom)
    assert "cut off" in str(stop.params["blocks"])
    assert streamed_text(atom.slack) == "one two "  # two 4-character chunks arrived
    [record] = await usage_records(atom)
    assert record.outcome == "cut_off"


async def test_nothing_left_lists_every_provider_and_what_to_do(two_keys):
    atom, first, second = two_keys
    atom.providers.fail_always(first, Behaviour(status=500))
    atom.providers.fail_always(second, Behaviour(status=401))
    await ask(atom)
    [post] = await atom.slack.wait_for("chat.postMessage", timeout=20)
    await settle(atom)
    text = post.params["text"]
    labels = {"openai": "OpenAI", "anthropic": "Anthropic"}
    assert f"*{labels[first]}* had a server error (500)" in text
    assert f"*{labels[second]}* rejected the key" in text
    assert "replace the rejected key with `/atom keys`" in text and "try again in a minute" in text
    # Only the steps were streamed (no answer text), and their stream was closed.
    assert streamed_text(atom.slack) == ""
    assert len(atom.slack.calls_to("chat.stopStream")) == len(atom.slack.calls_to("chat.startStream")) == 1


async def test_a_hanging_provider_times_out_and_fails_over(fake_slack, fake_providers, sqlite_url, encryption_key):
    env = atom_env(fake_slack.url, sqlite_url, encryption_key, ATOM_LLM_TIMEOUT="1", **provider_env(fake_providers))
    atom = AtomHarness(fake_slack, env)
    atom.providers = fake_providers
    await atom.start()
    try:
        await give_keys(atom, "openai", "anthropic")
        first, second = order("openai", "anthropic")
        fake_providers.script(first, Behaviour(hang=True))
        await ask(atom)
        await finished(atom)
        assert "did not answer in time, trying" in steps_text(atom.slack)
        assert streamed_text(fake_slack) == f"Hello from {second}"
    finally:
        await atom.stop()


async def test_while_every_provider_cools_down_the_person_is_told_to_wait(two_keys):
    atom, first, second = two_keys
    atom.providers.fail_always(first, Behaviour(status=500))
    atom.providers.fail_always(second, Behaviour(status=429, retry_after=60))
    await ask(atom)
    await atom.slack.wait_for("chat.postMessage", timeout=20)
    await settle(atom)
    calls_before = len(atom.providers.requests)
    await ask(atom, "and now?")
    posts = await atom.slack.wait_for("chat.postMessage", count=2, timeout=20)
    text = posts[-1].params["text"]
    labels = {"openai": "OpenAI", "anthropic": "Anthropic"}
    assert f"*{labels[first]}*: cooling down for" in text and "after a server error" in text
    assert f"*{labels[second]}*: cooling down for" in text and "after a rate limit" in text
    assert "try again in a minute" in text
    assert len(atom.providers.requests) == calls_before  # nobody was called while cooling down
