"""Atom's cost maths equals litellm's own, for every catalog model, and formats for people."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.llm.models import CATALOG_ENTRIES, PREMIUM_BASELINE, azure_models, lookup
from bot.llm.pricing import baseline_cost, cost, format_usd, is_off_peak, per_million, saving
from bot.llm.providers import CATALOG
from bot.llm.runtime import load_litellm

PEAK = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # a Wednesday, 08:00 UTC: DeepSeek's full price
OFF_PEAK = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)  # a Saturday: DeepSeek's discount all day
# Small, mid-size and long prompts, and both sides of each long-context threshold (100k, 272k).
TOKENS = [
    (1, 1),
    (1_234, 567),
    (100_000, 2_000),
    (100_001, 2_000),
    (150_000, 4_000),
    (272_000, 10),
    (272_001, 10),
    (600_000, 8_000),
]


@pytest.fixture(scope="module")
def litellm():
    return load_litellm()


def _litellm_cost(litellm, moment: datetime, **kwargs) -> float:
    from litellm._internal_context import pinned_billing_time  # litellm prices off-peak at "now"

    with pinned_billing_time(moment):
        prompt, completion = litellm.cost_per_token(**kwargs)
    return prompt + completion


@pytest.mark.parametrize("moment", [PEAK, OFF_PEAK], ids=["peak", "off-peak"])
# Named from CATALOG_ENTRIES, not catalog(), so collecting tests does not import litellm.
@pytest.mark.parametrize("name", [f"{CATALOG[p].litellm_prefix}/{m}" for p, m, _, _ in CATALOG_ENTRIES])
def test_cost_equals_litellm_for_every_catalog_model(litellm, name, moment):
    spec = lookup(name)
    assert spec is not None, f"{name} is missing from the catalog (see test_routing's catalog test)"
    for prompt_tokens, completion_tokens in TOKENS:
        expected = _litellm_cost(
            litellm,
            moment,
            model=spec.litellm_name,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
        )
        assert cost(spec, prompt_tokens, completion_tokens, at=moment) == pytest.approx(
            expected, rel=1e-12, abs=0
        ), (
            spec.litellm_name,
            prompt_tokens,
        )


@pytest.mark.parametrize("family", ["gpt-4o-mini", "gpt-4.1-mini", "gpt-4.1", "gpt-5"])
def test_azure_deployment_cost_equals_litellm_with_base_model(litellm, family):
    from litellm import ModelResponse
    from litellm.types.utils import Usage

    (spec,) = azure_models({"team-deployment": family})
    assert spec.litellm_name == "azure/team-deployment" and spec.base_model == f"azure/{family}"
    for prompt_tokens, completion_tokens in TOKENS[:4]:
        usage = Usage(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
        )
        response = ModelResponse(model=spec.litellm_name, usage=usage)
        expected = litellm.completion_cost(
            completion_response=response, base_model=spec.base_model, custom_llm_provider="azure"
        )
        assert cost(spec, prompt_tokens, completion_tokens) == pytest.approx(expected, rel=1e-12, abs=0)


def test_deepseek_is_cheaper_off_peak_and_list_price_without_a_time():
    flash = lookup("deepseek/deepseek-v4-flash")
    assert flash.off_peak is not None
    assert not is_off_peak(flash, PEAK) and is_off_peak(flash, OFF_PEAK)
    assert cost(flash, 1_000_000, 0, at=OFF_PEAK) < cost(flash, 1_000_000, 0, at=PEAK)
    assert cost(flash, 1_000_000, 0) == cost(flash, 1_000_000, 0, at=PEAK)  # estimates assume list price
    # A naive time is read as UTC, as litellm does.
    assert is_off_peak(flash, OFF_PEAK.replace(tzinfo=None))


def test_long_context_surcharge_applies_to_the_whole_request():
    haiku = lookup("claude-haiku-5-5")
    below = cost(haiku, 100_000, 1_000)
    above = cost(haiku, 100_001, 1_000)
    assert above > 4 * below  # every token moves to the higher rate, not just the excess


def test_baseline_and_saving():
    baseline = lookup(PREMIUM_BASELINE)
    assert baseline is not None and baseline.tier == "premium" and baseline.provider == "openai"
    cheap = lookup("openai/gpt-6-luna")
    assert baseline_cost(10_000, 1_000) == cost(baseline, 10_000, 1_000)
    assert saving(cheap, 10_000, 1_000) == pytest.approx(
        baseline_cost(10_000, 1_000) - cost(cheap, 10_000, 1_000)
    )
    assert saving(lookup("anthropic/claude-opus-5-5"), 10_000, 1_000) == 0.0  # pricier than the baseline
    assert saving(baseline, 10_000, 1_000) == 0.0


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        (0, "$0"),
        (0.00004, "<$0.0001"),
        (0.0001, "$0.0001"),
        (0.0004, "$0.0004"),
        (0.00423, "$0.0042"),
        (0.01, "$0.01"),
        (0.123, "$0.12"),
        (1.234, "$1.23"),
        (1234.5, "$1,234.50"),
        (-0.5, "-$0.50"),
    ],
)
def test_format_usd(amount, shown):
    assert format_usd(amount) == shown


def test_per_million():
    assert per_million(1e-07) == "$0.10"
    assert per_million(2.5e-06) == "$2.50"
    assert per_million(3e-09) == "$0.0030"


# (prompt, completion, read from the cache, written to it): Anthropic's shape has both, OpenAI's,
# DeepSeek's and Gemini's only reads.
CACHED = [
    (2_000, 300, 1_500, 0),
    (2_000, 300, 0, 1_800),
    (5_000, 100, 3_000, 1_000),
    (150_000, 900, 120_000, 0),
]


@pytest.mark.parametrize("moment", [PEAK, OFF_PEAK], ids=["peak", "off-peak"])
@pytest.mark.parametrize("name", [f"{CATALOG[p].litellm_prefix}/{m}" for p, m, _, _ in CATALOG_ENTRIES])
def test_cached_prompt_tokens_cost_what_litellm_says(litellm, name, moment):
    from litellm.types.utils import PromptTokensDetailsWrapper, Usage

    spec = lookup(name)
    for prompt_tokens, completion_tokens, read, written in CACHED:
        usage = Usage(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
            prompt_tokens_details=PromptTokensDetailsWrapper(
                cached_tokens=read,
                cache_creation_tokens=written,
                text_tokens=prompt_tokens - read - written,
            ),
            cache_read_input_tokens=read,
            cache_creation_input_tokens=written,
        )
        expected = _litellm_cost(litellm, moment, model=spec.litellm_name, usage_object=usage)
        actual = cost(spec, prompt_tokens, completion_tokens, at=moment, cached=read, cache_write=written)
        assert actual == pytest.approx(expected, rel=1e-9, abs=0), (name, prompt_tokens, read, written)
        if read and (spec.cache_read_cost_per_token or 0) < spec.input_cost_per_token:
            assert actual < cost(spec, prompt_tokens, completion_tokens, at=moment)


def test_the_baseline_is_cached_alike():
    assert baseline_cost(10_000, 500, cached=8_000) == cost(
        lookup(PREMIUM_BASELINE), 10_000, 500, cached=8_000
    )
    assert baseline_cost(10_000, 500, cached=8_000) < baseline_cost(10_000, 500)
