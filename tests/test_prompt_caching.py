"""Prompt caching: Anthropic gets cache breakpoints, and every provider's cached tokens are priced.

Wire-level: the fake providers report cached prompt tokens in each provider's own usage shape and
the test reads what Atom stored and showed, priced from litellm's table.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.llm.caching import with_cache_breakpoints
from bot.llm.models import lookup
from bot.llm.pricing import baseline_cost, cost, format_usd
from bot.storage.models import UsageRecord
from tests.fakes import payloads
from tests.keyhelpers import give_keys, settle

THREAD = "1700000700.000100"
MOMENTS = (
    datetime(2026, 11, 25, 8, 0, tzinfo=UTC),
    datetime(2026, 11, 28, 8, 0, tzinfo=UTC),
)  # peak, off-peak
# ~6,000 tokens for the fakes' word-count tokenizer: long enough for the cached part to show in cents.
LONG_QUESTION = "Please tidy the wording of these notes. " + "the launch moved to Thursday " * 1_200


async def ask(atom, text):
    count = len(atom.slack.calls_to("chat.stopStream")) + 1
    await atom.client.event(payloads.message_im_event(text, thread_ts=THREAD))
    [*_, stop] = await atom.slack.wait_for("chat.stopStream", count=count, timeout=20)
    await settle(atom)
    await atom.runtime.pending.flush()
    async with atom.runtime.sessions() as session:
        record = (
            (await session.execute(select(UsageRecord).order_by(UsageRecord.created_at.desc())))
            .scalars()
            .first()
        )
    return record, str(stop.params["blocks"])


def test_only_anthropic_gets_breakpoints_on_the_system_prompt_and_the_last_turn_before_the_question():
    messages = [
        {"role": "system", "content": "You are Atom."},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "second question"},
    ]
    marked = with_cache_breakpoints("anthropic", messages)
    assert marked[0]["content"] == [
        {"type": "text", "text": "You are Atom.", "cache_control": {"type": "ephemeral"}}
    ]
    assert marked[2]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    assert marked[1] == messages[1] and marked[3] == messages[3]  # the new question is not marked
    assert messages[0]["content"] == "You are Atom."  # the caller's list is left alone
    for provider in ("openai", "azure", "deepseek", "gemini"):
        assert with_cache_breakpoints(provider, messages) is messages
    only_question = with_cache_breakpoints("anthropic", messages[:1] + messages[3:])
    assert "cache_control" not in str(only_question[1])


async def test_anthropic_cache_reads_and_writes_are_priced_in_the_footer_and_usage(atom_sqlite):
    await give_keys(atom_sqlite, "anthropic")
    atom_sqlite.providers.cache["anthropic"] = (5_000, 400)
    record, footer = await ask(atom_sqlite, LONG_QUESTION)
    [request] = atom_sqlite.providers.requests_for("anthropic")
    assert request.json["system"][-1]["cache_control"] == {"type": "ephemeral"}
    spec = lookup(record.model)
    assert spec.provider == "anthropic" and record.prompt_tokens > 5_400
    priced = cost(spec, record.prompt_tokens, record.completion_tokens, cached=5_000, cache_write=400)
    assert record.cost_usd == pytest.approx(priced, rel=1e-9)
    uncached = cost(spec, record.prompt_tokens, record.completion_tokens)
    assert record.cost_usd < uncached / 2  # cache reads bill at a tenth of the input rate
    assert record.baseline_cost_usd == pytest.approx(
        baseline_cost(record.prompt_tokens, record.completion_tokens, cached=5_000, cache_write=400), rel=1e-9
    )
    assert f"{format_usd(priced)}" in footer and format_usd(uncached) not in footer


async def test_the_next_turn_marks_the_conversation_so_far_and_no_cache_use_means_no_discount(atom_sqlite):
    await give_keys(atom_sqlite, "anthropic")
    await ask(atom_sqlite, "hello there")
    record, _ = await ask(atom_sqlite, "and what can you do?")
    second = atom_sqlite.providers.requests_for("anthropic")[-1].json
    assert second["system"][-1]["cache_control"] == {"type": "ephemeral"}
    assert second["messages"][-2]["role"] == "assistant"
    assert second["messages"][-2]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in str(second["messages"][-1])
    spec = lookup(record.model)  # the fake reported no cache use: plain input prices
    assert record.cost_usd == pytest.approx(
        cost(spec, record.prompt_tokens, record.completion_tokens), rel=1e-9
    )


@pytest.mark.parametrize("provider", ["openai", "deepseek", "gemini"])
async def test_automatic_cache_hits_are_priced_in_the_footer_and_usage(atom_sqlite, provider):
    await give_keys(atom_sqlite, provider)
    atom_sqlite.providers.cache[provider] = (5_000, 0)
    record, footer = await ask(atom_sqlite, LONG_QUESTION)
    [request] = atom_sqlite.providers.requests_for(provider)
    assert "cache_control" not in request.body  # these providers cache on their own
    spec = lookup(record.model)
    assert spec.provider == provider
    # DeepSeek bills off-peak hours at lower rates and the call was priced at its own moment.
    priced, uncached = (
        [
            cost(spec, record.prompt_tokens, record.completion_tokens, at=moment, cached=hit)
            for moment in MOMENTS
        ]
        for hit in (5_000, 0)
    )
    assert any(record.cost_usd == pytest.approx(p, rel=1e-9) for p in priced), (record.cost_usd, priced)
    assert record.cost_usd < min(uncached)
    assert format_usd(record.cost_usd) in footer
