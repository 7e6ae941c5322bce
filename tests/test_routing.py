"""The routing core: classifier, model catalog and policy, as pure functions over plain data.

Prices come from litellm's bundled table (loaded offline), and the clock is fixed, so every plan
here is deterministic. PEAK is a Wednesday at 08:00 UTC, when DeepSeek charges full price.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from bot.llm.classify import CHARS_PER_TOKEN, TaskProfile, classify, history_questions, previous_profile
from bot.llm.models import (
    AZURE_FAMILY_TIERS,
    CATALOG_ENTRIES,
    PREMIUM_BASELINE,
    TIERS,
    available_models,
    azure_models,
    build_catalog,
    catalog,
    for_provider,
    lookup,
)
from bot.llm.providers import AZURE_MODEL_FAMILIES, CATALOG
from bot.llm.routing import EXPECTED_OUTPUT_TOKENS, plan
from bot.llm.runtime import load_litellm

PEAK = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
REVIEWED_ON = date(2026, 11, 25)  # when CATALOG_ENTRIES were last checked against litellm's table
DEPLOYMENTS = {"chat-mini": "gpt-4o-mini", "mini": "gpt-4.1-mini", "big": "gpt-4.1", "o4": "o4-mini"}

CHAT = "What's a good name for a team offsite in Lisbon?"
CODE = "```python\ndef total(xs):\n    return sum(xs)\n```\nThis raises a TypeError, can you fix the bug?"
PROOF = "Prove that the sum of two odd numbers is even."
LONG = "Summarize this thread:\n" + "We agreed to move the launch to Thursday. " * 1000  # ~11k tokens


def names(route) -> list[str]:
    return [choice.model.litellm_name for choice in route.candidates]


def route(text: str, providers: list[str], mode: str = "balanced", **kwargs):
    return plan(classify(text), available_models(providers, DEPLOYMENTS), mode, now=PEAK, **kwargs)


# --- classifier -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "task", "need", "reason"),
    [
        ("hey atom, how was your weekend?", "chat", "economy", "conversation"),
        # Dates, times and ranges are not maths; with no ask at all, standard is the safe side.
        ("Meeting moved to 2026-11-25, 10:00-11:00; we're open 24/7", "chat", "standard", "no clear signal"),
        ("select a dish from the menu for me", "chat", "standard", "no clear signal"),
        ("what is the architecture of a cathedral?", "chat", "economy", "a simple factual question"),
        ("Write a poem about maths", "chat", "economy", "asks for writing (a poem)"),
        ("Translate this error message into French: 'Session expired'", "chat", "economy", "translation"),
        (
            "Three cats catch three mice in three minutes. How long do 100 cats need for 100 mice?",
            "reasoning",
            "standard",
            "logic: mentions 'how long'",
        ),
        (
            "John is Mary's son. Mary is Tom's daughter. What is John to Tom?",
            "reasoning",
            "standard",
            "family",
        ),
        (
            "Compare the pros and cons of a four-day week for our team",
            "reasoning",
            "standard",
            "careful analysis",
        ),
        (
            "Write a Go HTTP handler that returns a greeting",
            "code",
            "standard",
            "asks to write code (a handler)",
        ),
        (CODE, "code", "standard", "contains a code block"),
        (
            "Can you refactor this function? It's python",
            "code",
            "standard",
            "mentions 'refactor', 'function', 'python'",
        ),
        (
            "Traceback (most recent call last):\n  File 'a.py'\nKeyError: 'x'",
            "code",
            "standard",
            "stack trace",
        ),
        ("SELECT name FROM users WHERE id = 3 is slow", "code", "standard", "look like code"),
        ("design a system for real-time chat with 10M users", "code", "premium", "system design"),
        (PROOF, "reasoning", "premium", "proof"),
        ("Solve 3x + 7 = 25 step by step", "reasoning", "standard", "step by step"),
        ("What is 17*23?", "reasoning", "standard", "equation"),
        ("What's the probability of two sixes in a row?", "reasoning", "standard", "'probability'"),
        (
            "Plan a schedule for 5 people: each must work at most 3 days, no more than 2 on weekends",
            "reasoning",
            "premium",
            "several constraints",
        ),
        ("tl;dr of the attached doc please", "long_document", "economy", "'tl;dr'"),
        ("Can you summarise the key points?", "long_document", "economy", "'summarise'"),
        (LONG, "long_document", "economy", "input is ~11k tokens"),
    ],
)
def test_classify_tasks_with_reasons(text, task, need, reason):
    profile = classify(text)
    assert (profile.task, profile.need) == (task, need), profile.reasons
    assert any(reason in r for r in profile.reasons), profile.reasons


def test_classify_counts_history_and_attachments_in_tokens_not_signals():
    profile = classify("what does this say?", history_chars=4_000, attachments_chars=36_000)
    assert profile.est_input_tokens == -(-(19 + 40_000) // CHARS_PER_TOKEN)
    assert profile.task == "long_document" and "input is ~10k tokens" in profile.reasons
    assert classify("").est_input_tokens == 0 and classify("").task == "chat"


def test_large_code_needs_premium_and_long_pastes_only_scan_head_and_tail():
    log = (
        "Here is the log, what went wrong?\nTraceback (most recent call last):\n"
        + "  File 'x.py', line 1\n" * 2_000
    )
    profile = classify(log)
    assert (profile.task, profile.need) == ("code", "premium")
    assert any("large code input" in r for r in profile.reasons)
    # A signal buried in the middle of a long paste is not read; the ask at the end is.
    middle = "filler text. " * 500 + "prove it" + " filler text." * 500
    assert classify(middle).task == "chat"  # ~3k tokens: not long either (and unsure: standard)
    assert classify("filler text. " * 500 + "Prove this rigorously.").task == "reasoning"


def test_classify_is_deterministic_and_returns_a_frozen_profile():
    assert classify(CODE) == classify(CODE)
    with pytest.raises(AttributeError):
        classify(CODE).task = "chat"


# --- catalog ----------------------------------------------------------------------------------


def test_specs_hash_by_identity_and_equal_specs_stay_interchangeable():
    specs = catalog()
    assert len({hash(s) for s in specs}) == len(specs)  # no two catalog models collide
    for spec in specs:
        twin = replace(spec)
        assert twin == spec and hash(twin) == hash(spec) and {spec, twin} == {spec}
        assert lookup(spec.litellm_name) is spec and spec in for_provider(spec.provider)
    changed = replace(specs[0], input_cost_per_token=specs[0].input_cost_per_token * 2)
    assert changed != specs[0] and len({changed, specs[0]}) == 2  # same hash, still told apart


def test_every_catalog_model_is_priced_with_a_context_window_in_litellms_table():
    specs, problems = build_catalog(load_litellm().model_cost)
    assert problems == []
    assert len(specs) == len(CATALOG_ENTRIES)
    for spec in specs:
        assert spec.input_cost_per_token > 0 and spec.output_cost_per_token > 0, spec
        assert spec.context_window >= 100_000, spec
        assert spec.tier in TIERS and spec.provider in CATALOG
    # Every provider but Azure (whose models are the person's deployments) has all three tiers.
    for provider in ("openai", "anthropic", "gemini"):
        assert {s.tier for s in specs if s.provider == provider} == set(TIERS), provider


def test_catalog_reports_a_model_missing_from_the_table():
    table = dict(load_litellm().model_cost)
    del table["claude-haiku-5-5"]
    specs, problems = build_catalog(table)
    assert problems == ["anthropic/claude-haiku-5-5: claude-haiku-5-5 is not in litellm's price table"]
    assert "anthropic/claude-haiku-5-5" not in {s.litellm_name for s in specs}


def test_no_catalog_model_is_retired_or_retiring_soon_at_review():
    for spec in catalog():
        assert spec.retires_on is None or (spec.retires_on - REVIEWED_ON).days > 90, spec


def test_every_azure_family_has_a_tier_and_a_price():
    assert set(AZURE_MODEL_FAMILIES) <= set(AZURE_FAMILY_TIERS)
    models = azure_models({f"d-{i}": family for i, family in enumerate(AZURE_MODEL_FAMILIES)})
    assert [m.price_key for m in models] == [f"azure/{f}" for f in AZURE_MODEL_FAMILIES]
    assert all(m.provider == "azure" and m.litellm_name.startswith("azure/d-") for m in models)


def test_lookup_and_baseline():
    assert lookup("gpt-6-luna") is lookup("openai/gpt-6-luna") is not None
    assert lookup("openai/gpt-9") is None
    assert lookup(PREMIUM_BASELINE).tier == "premium"


# --- policy: modes × key combinations ---------------------------------------------------------

ALL = ["openai", "anthropic", "gemini", "deepseek", "azure"]


@pytest.mark.parametrize(
    ("text", "mode", "expected"),
    [
        (CHAT, "balanced", ["openai/gpt-6-luna", "openai/gpt-6.1-terra", "openai/gpt-6.1-sol"]),
        (CODE, "balanced", ["openai/gpt-6.1-terra", "openai/gpt-6.1-sol", "openai/gpt-6-luna"]),
        (PROOF, "balanced", ["openai/gpt-6.1-sol", "openai/gpt-6.1-terra", "openai/gpt-6-luna"]),
        (LONG, "balanced", ["openai/gpt-6-luna", "openai/gpt-6.1-terra", "openai/gpt-6.1-sol"]),
        # Save: luna is not noted for code, so code still needs the standard tier.
        (CODE, "save", ["openai/gpt-6.1-terra", "openai/gpt-6.1-sol", "openai/gpt-6-luna"]),
        (CHAT, "best", ["openai/gpt-6.1-sol", "openai/gpt-6.1-terra", "openai/gpt-6-luna"]),
        (CHAT, "openai/gpt-6.1-terra", ["openai/gpt-6.1-terra", "openai/gpt-6-luna", "openai/gpt-6.1-sol"]),
    ],
)
def test_only_openai(text, mode, expected):
    assert names(route(text, ["openai"], mode)) == expected


@pytest.mark.parametrize(
    ("text", "mode", "first_three"),
    [
        (
            CHAT,
            "balanced",
            ["gemini/gemini-2.5-flash-lite", "anthropic/claude-haiku-5-5", "gemini/gemini-3.8-flash"],
        ),
        # Balanced keeps code on the standard tier, though Haiku is noted for code.
        (
            CODE,
            "balanced",
            ["gemini/gemini-3.8-flash", "anthropic/claude-sonnet-5-5", "gemini/gemini-4-argon"],
        ),
        (
            PROOF,
            "balanced",
            ["gemini/gemini-4-argon", "anthropic/claude-opus-5-5", "gemini/gemini-3.8-flash"],
        ),
        (
            LONG,
            "balanced",
            ["gemini/gemini-2.5-flash-lite", "anthropic/claude-haiku-5-5", "gemini/gemini-3.8-flash"],
        ),
        # Save may use an economy model noted for the task: Haiku counts as standard for code.
        (
            CODE,
            "save",
            ["anthropic/claude-haiku-5-5", "gemini/gemini-3.8-flash", "anthropic/claude-sonnet-5-5"],
        ),
        (CHAT, "best", ["gemini/gemini-4-argon", "anthropic/claude-opus-5-5", "gemini/gemini-3.8-flash"]),
    ],
)
def test_anthropic_and_gemini(text, mode, first_three):
    assert names(route(text, ["anthropic", "gemini"], mode))[:3] == first_three


def test_all_five_providers():
    chat = route(CHAT, ALL)
    assert names(chat)[:3] == [
        "gemini/gemini-2.5-flash-lite",
        "anthropic/claude-haiku-5-5",
        "openai/gpt-6-luna",
    ]
    code = route(CODE, ALL)
    assert names(code)[:3] == ["azure/mini", "gemini/gemini-3.8-flash", "deepseek/deepseek-v4-pro"]
    assert {c.model.tier for c in code.candidates[:7]} == {"standard", "premium"}
    assert route(PROOF, ALL).choice.model.tier == "premium"
    save = route(CODE, ALL, "save")
    assert names(save)[:3] == ["anthropic/claude-haiku-5-5", "deepseek/deepseek-v4-flash", "azure/mini"]
    noted = [c for c in save.candidates if c.model.tier != "economy" or "code" in c.model.strengths]
    assert save.choice.est_cost == min(c.est_cost for c in noted) < code.choice.est_cost
    best = route(CHAT, ALL, "best")
    assert {c.model.tier for c in best.candidates[:4]} == {"premium"}
    assert [c.est_cost for c in best.candidates[:4]] == sorted(c.est_cost for c in best.candidates[:4])
    # The Azure o4-mini deployment's family was shut down on 2026-11-19.
    assert ("azure/o4", "retired on 2026-11-19") in chat.excluded
    assert len(chat.candidates) == 11 + 3  # the catalog plus three live deployments


def test_azure_only_with_deployments():
    assert names(route(CHAT, ["azure"])) == ["azure/chat-mini", "azure/mini", "azure/big"]
    assert names(route(CODE, ["azure"])) == ["azure/mini", "azure/big", "azure/chat-mini"]
    assert names(route(PROOF, ["azure"]))[0] == "azure/big"
    choice = route(CHAT, ["azure"]).choice
    assert choice.model.name == "chat-mini" and choice.model.base_model == "azure/gpt-4o-mini"
    # Without a clock nothing is retired.
    undated = plan(classify(CHAT), available_models(["azure"], DEPLOYMENTS))
    assert "azure/o4" in names(undated)


def test_no_keys():
    result = route(CHAT, [])
    assert result.candidates == [] and result.choice is None
    assert result.excluded == [("all providers", "no provider key is set up")]
    assert "No model can take this request." in result.explain()


# --- overrides, pins, exclusions --------------------------------------------------------------


def test_per_task_overrides():
    overrides = {"code": "best", "chat": "anthropic/claude-opus-5-5"}
    code = route(CODE, ALL, overrides=overrides)
    assert code.mode == "best" and code.choice.model.tier == "premium"
    chat = route(CHAT, ALL, overrides=overrides)
    assert (
        chat.choice.model.litellm_name == "anthropic/claude-opus-5-5" and chat.choice.why == "pinned by you"
    )
    assert route(PROOF, ALL, overrides=overrides).mode == "balanced"  # no override for reasoning


def test_pinned_model_then_balanced_failover_on_another_provider():
    result = route(CODE, ALL, "gemini/gemini-4-argon")
    assert names(result)[0] == "gemini/gemini-4-argon"
    assert result.candidates[1].model.provider != "gemini"
    balanced = [n for n in names(route(CODE, ALL)) if n != "gemini/gemini-4-argon"]
    assert sorted(names(result)[1:]) == sorted(balanced)
    assert names(route(CODE, ["openai"], "gpt-6-luna"))[0] == "openai/gpt-6-luna"  # the bare id works too


def test_pinned_model_that_cannot_be_used():
    unknown = route(CHAT, ["openai"], "openai/gpt-9")
    assert ("openai/gpt-9", "pinned, but not among your models; using balanced order") in unknown.excluded
    assert names(unknown)[0] == "openai/gpt-6-luna"
    cooling = route(
        CHAT, ALL, "anthropic/claude-opus-5-5", unavailable={"anthropic": "cooling down after a 429"}
    )
    assert (
        "anthropic/claude-opus-5-5",
        "pinned, but cooling down after a 429; using balanced order",
    ) in cooling.excluded


def test_unavailable_providers_are_excluded_with_their_reason():
    result = route(
        CODE,
        ALL,
        unavailable={"anthropic": "cooling down", "deepseek": "over budget", "azure": "key failing"},
    )
    assert {c.model.provider for c in result.candidates} == {"openai", "gemini"}
    for provider, reason in [
        ("anthropic", "cooling down"),
        ("deepseek", "over budget"),
        ("azure", "key failing"),
    ]:
        assert (provider, reason) in result.excluded


def test_context_window_exclusion():
    # ~300k tokens: Azure's gpt-4o-mini (128k) and o4-mini (200k) cannot take it.
    big = plan(
        classify("Summarize the attached report", attachments_chars=1_200_000),
        available_models(["azure"], DEPLOYMENTS),
    )
    assert names(big) == ["azure/mini", "azure/big"]
    needed = big.profile.est_input_tokens + EXPECTED_OUTPUT_TOKENS["long_document"]
    assert ("azure/chat-mini", f"context window 128,000 tokens < {needed:,} needed") in big.excluded
    # Above 100k tokens Haiku bills the whole request at its long-context rate, so it drops back.
    report = classify("Summarize the attached report", attachments_chars=1_200_000)
    everything = plan(report, available_models(ALL, DEPLOYMENTS), now=PEAK)
    assert names(everything)[0] == "gemini/gemini-2.5-flash-lite"
    assert names(everything).index("anthropic/claude-haiku-5-5") > names(everything).index(
        "openai/gpt-6-luna"
    )
    huge_profile = classify("Summarize the attached archive", attachments_chars=5_000_000)
    huge = plan(huge_profile, available_models(ALL, DEPLOYMENTS), now=PEAK)
    assert huge.candidates == []
    assert len(huge.excluded) == 11 + 4 and all(
        "context window" in r or "retired" in r for _, r in huge.excluded
    )


def test_failover_alternates_providers():
    for text in (CHAT, CODE, PROOF, LONG):
        for mode in ("save", "balanced", "best"):
            result = route(text, ALL, mode)
            providers = [c.model.provider for c in result.candidates[:4]]
            assert len(set(providers)) == 4, (text[:20], mode, providers)
    # One provider with several models first in price order: the others are interleaved.
    openai_first = route(CHAT, ["openai", "anthropic"], "best")
    assert [c.model.provider for c in openai_first.candidates] == ["openai", "anthropic"] * 3


def test_save_prefers_meeting_the_need_on_a_price_tie():
    profile = TaskProfile("code", "standard", 100, ("test",))
    luna = lookup("openai/gpt-6-luna")
    twin = replace(luna, litellm_name="openai/luna-twin", name="luna-twin", tier="standard")
    result = plan(profile, {"openai": [luna, twin]}, "save")
    assert names(result) == ["openai/luna-twin", "openai/gpt-6-luna"]


def test_plans_are_deterministic():
    first = route(CODE, ALL)
    assert [(c.model, c.est_cost, c.why) for c in first.candidates] == [
        (c.model, c.est_cost, c.why) for c in route(CODE, ALL).candidates
    ]


def test_explain():
    text = route(CODE, ALL, unavailable={"deepseek": "cooling down"}).explain(max_candidates=3)
    assert text.startswith("Task: code (needs standard) — contains a code block")
    assert (
        "Mode: balanced.\nBalanced: hard tasks (code, maths, logic puzzles, careful analysis) go to" in text
    )
    assert "Choice: azure/mini (standard)" in text
    assert "1. azure/mini — standard — $0.40 / $1.60 — est. $0.0019" in text
    assert "…and 9 more" in text
    assert "• deepseek: cooling down" in text
    assert "• azure/o4: retired on 2026-11-19" in text
    save = route(CODE, ALL, "save").explain(max_candidates=3)
    assert "Choice: anthropic/claude-haiku-5-5 (economy)" in save
    assert "noted for code: counts as standard in save mode" in save
    assert "1. anthropic/claude-haiku-5-5 — economy — $0.10 / $0.50 — est. $0.0006" in save
    unsure = route("select a dish from the menu for me", ALL).explain()
    assert "no clear signal either way: standard, the safer choice when unsure" in unsure
    assert "Choice: azure/mini (standard)" in unsure


def test_every_provider_checks_keys_with_a_current_catalog_model():
    from bot.llm.models import lookup
    from bot.llm.providers import CATALOG

    for provider in CATALOG.values():
        if provider.id == "azure":
            continue  # Azure checks with the person's own first deployment
        spec = lookup(f"{provider.litellm_prefix}/{provider.check_model}")
        assert spec is not None and spec.provider == provider.id, provider.id
        assert spec.tier == "economy", f"{provider.id} checks keys with a {spec.tier} model"


# --- follow-ups -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "follow_up", ["and in Go?", "why?", "make it shorter", "now with tests pls", "ok and?"]
)
def test_a_bare_follow_up_keeps_the_task_of_the_exchange_it_continues(follow_up):
    previous = previous_profile(["Write a Python function that parses ISO dates"])
    assert previous.task == "code"
    profile = classify(follow_up, previous=previous)
    assert (profile.task, profile.need, profile.own_signal) == ("code", "standard", False)
    assert profile.reasons == (
        "no signal of its own: continues the previous code exchange (asks to write code (a function); "
        "mentions 'function', 'python')",
    )
    assert classify(follow_up).task == "chat"  # on its own it says nothing of code


def test_a_follow_up_with_a_signal_of_its_own_is_classified_on_its_own():
    code = classify("fix this python traceback")
    assert classify("Translate 'good morning' into French", previous=code).task == "chat"
    hello = classify("hello, how are you today?", previous=code)
    assert (hello.task, hello.need, hello.own_signal) == ("chat", "economy", True)
    assert classify("thanks!", previous=code).task == "code"  # an acknowledgement stays in the exchange
    assert classify(
        "Three cats catch three mice in three minutes; how long for 100?", previous=code
    ).task == ("reasoning")
    assert classify("and in Go?").task == "chat"  # with no exchange to continue, a short message is chat


def test_previous_profile_skips_turns_without_a_signal_of_their_own():
    turns = ["What is the probability of two sixes?", "thanks!", "hmm ok"]
    assert previous_profile(turns).task == "reasoning"
    assert previous_profile(["hi", "thanks"]).task == "chat"  # a greeting is a subject of its own
    assert previous_profile(["hmm", "ok"]) is None
    assert previous_profile([]) is None
    history = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a"},
        {"role": "system", "content": "s"},
    ]
    assert history_questions(history) == ["q"]
