"""Cost maths: what a call cost, what the premium baseline would have cost, and how to show it.

Owns `cost`, `baseline_cost`, `saving` and the dollar formatting used in replies and reports.
Pure functions over `ModelSpec`: the rates come from litellm's bundled table (bot.llm.models), and
the arithmetic follows litellm's own `cost_per_token` for plain prompt and completion tokens, so
Atom's figures equal litellm's (tests/test_pricing.py checks every catalog model):

* long-context pricing — when the prompt is above a model's threshold (strictly), every token of
  the request is billed at the higher rates;
* off-peak pricing — inside a model's discount window (DeepSeek's, in UTC) the off-peak rates
  replace the others for the whole request;
* prompt caching — of the prompt tokens, those read from the provider's cache (`cached`: OpenAI's,
  DeepSeek's and Gemini's automatic caching, Anthropic's `cache_control` hits) bill at the model's
  cache-read rate and those written to it (`cache_write`: Anthropic) at its cache-write rate, the
  rest at the input rate; a model without such a rate bills them as ordinary input, as litellm
  does. Off-peak windows use their own cache rates where the table gives them.

Off-peak rates depend on when the call was made, so `at` is passed in; without it the list
(peak) price is used, which is what estimates should assume.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.llm.models import PREMIUM_BASELINE, ModelSpec, lookup


def is_off_peak(model: ModelSpec, at: datetime | None) -> bool:
    """Whether `at` (UTC; a naive time is taken as UTC, as litellm does) is in an off-peak window."""
    if model.off_peak is None or at is None:
        return False
    moment = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
    weekday, minute = moment.isoweekday(), moment.hour * 60 + moment.minute
    for weekdays, spans in model.off_peak.windows:
        if weekday not in weekdays:
            continue
        for start, end in spans:
            if start == end:  # "00:00-00:00": the whole day
                return True
            if start < end and start <= minute < end:
                return True
            if start > end and (minute >= start or minute < end):  # wraps past midnight
                return True
    return False


def rates(model: ModelSpec, prompt_tokens: int, at: datetime | None = None) -> tuple[float, float]:
    """(input, output) USD per token for a request of this prompt size at this moment."""
    if is_off_peak(model, at):
        return model.off_peak.input_cost_per_token, model.off_peak.output_cost_per_token
    rate_in, rate_out = model.input_cost_per_token, model.output_cost_per_token
    for threshold, above_in, above_out in model.long_context:  # ascending: the highest crossed wins
        if prompt_tokens > threshold:
            rate_in, rate_out = above_in, above_out
    return rate_in, rate_out


def cache_rates(
    model: ModelSpec, prompt_tokens: int, rate_in: float, at: datetime | None = None
) -> tuple[float, float]:
    """(read, write) USD per cached prompt token; `rate_in` is the input rate that applies."""
    read, write = model.cache_read_cost_per_token, model.cache_write_cost_per_token
    for threshold, above_read, above_write in model.long_context_cache:
        if prompt_tokens > threshold:
            read = above_read if above_read is not None else read
            write = above_write if above_write is not None else write
    read = read if read is not None else rate_in
    write = write if write is not None else rate_in
    if is_off_peak(model, at):  # the off-peak block's own cache rates, where it has them
        peak = model.off_peak
        read = peak.cache_read_cost_per_token if peak.cache_read_cost_per_token is not None else read
        write = peak.cache_write_cost_per_token if peak.cache_write_cost_per_token is not None else write
    return read, write


def cost(
    model: ModelSpec,
    prompt_tokens: int,
    completion_tokens: int,
    *,
    at: datetime | None = None,
    cached: int = 0,
    cache_write: int = 0,
) -> float:
    """USD for one call with these token counts. `cached` and `cache_write` are the parts of
    `prompt_tokens` read from and written to the provider's prompt cache."""
    rate_in, rate_out = rates(model, prompt_tokens, at)
    cached = max(0, min(cached, prompt_tokens))
    cache_write = max(0, min(cache_write, prompt_tokens - cached))
    total = (prompt_tokens - cached - cache_write) * rate_in + completion_tokens * rate_out
    if cached or cache_write:
        read_rate, write_rate = cache_rates(model, prompt_tokens, rate_in, at)
        total += cached * read_rate + cache_write * write_rate
    return total


def baseline_model() -> ModelSpec:
    spec = lookup(PREMIUM_BASELINE)
    if spec is None:
        raise LookupError(f"PREMIUM_BASELINE {PREMIUM_BASELINE} is not in the catalog")
    return spec


def baseline_cost(
    prompt_tokens: int,
    completion_tokens: int,
    *,
    at: datetime | None = None,
    cached: int = 0,
    cache_write: int = 0,
) -> float:
    """What the same tokens would have cost on the premium baseline model (cached alike)."""
    return cost(
        baseline_model(), prompt_tokens, completion_tokens, at=at, cached=cached, cache_write=cache_write
    )


def saving(
    model: ModelSpec, prompt_tokens: int, completion_tokens: int, *, at: datetime | None = None
) -> float:
    """USD saved against the baseline; never negative (a premium pick saves nothing, costs no 'loss')."""
    actual = cost(model, prompt_tokens, completion_tokens, at=at)
    return max(0.0, baseline_cost(prompt_tokens, completion_tokens, at=at) - actual)


def format_usd(amount: float) -> str:
    """'$1.23', '$0.0004', '<$0.0001', '$0'. Small amounts keep 4 decimals so they do not read as free."""
    if amount < 0:
        return "-" + format_usd(-amount)
    if amount == 0:
        return "$0"
    if amount < 0.0001:
        return "<$0.0001"
    if amount < 0.01:
        return f"${amount:.4f}"
    return f"${amount:,.2f}"


def per_million(rate_per_token: float) -> str:
    """A per-token rate as dollars per 1M tokens: 1e-07 → '$0.10'."""
    value = rate_per_token * 1_000_000
    return f"${value:,.2f}" if value >= 0.01 else f"${value:.4f}"
