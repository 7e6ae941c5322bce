"""The model catalog: which models Atom routes between, in which tier, at what price.

Owns `ModelSpec` and the catalog of models per provider. Only the choice of models and their
tiers is written here; prices, context windows, long-context surcharges, off-peak discounts and
retirement dates are read from litellm's bundled price table (`litellm.model_cost`, loaded
offline by `bot.llm.runtime`) at first use, so they change only when the litellm pin changes.
`build_catalog` is pure over that table, which is how tests check that every entry is priced.

Azure models are the person's own deployments: `azure_models` prices each as `azure/<family>`.
Tiers: economy < standard < premium. A model's `strengths` name tasks it is noted for; an
economy model counts as standard for those tasks (see bot.llm.routing).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from bot.llm.providers import CATALOG

log = logging.getLogger(__name__)

TIERS = ("economy", "standard", "premium")
TIER_RANK = {tier: rank for rank, tier in enumerate(TIERS)}

# (provider, the provider's model id, tier, strengths). Chosen against litellm 1.110.2's table on
# 2026-11-25: current models only. gpt-4.1-nano, deepseek-chat/-reasoner are past their shutdown
# dates there; gpt-5*, gemini-2.5-flash/-pro and claude-sonnet-4-5 shut down within weeks.
CATALOG_ENTRIES: tuple[tuple[str, str, str, frozenset[str]], ...] = (
    ("openai", "gpt-6-luna", "economy", frozenset({"long_document"})),
    ("openai", "gpt-6.1-terra", "standard", frozenset({"code"})),
    ("openai", "gpt-6.1-sol", "premium", frozenset({"code", "reasoning"})),
    ("anthropic", "claude-haiku-5-5", "economy", frozenset({"code"})),
    ("anthropic", "claude-sonnet-5-5", "standard", frozenset({"code", "long_document"})),
    ("anthropic", "claude-opus-5-5", "premium", frozenset({"code", "reasoning"})),
    ("gemini", "gemini-2.5-flash-lite", "economy", frozenset({"long_document"})),
    ("gemini", "gemini-3.8-flash", "standard", frozenset({"long_document"})),
    ("gemini", "gemini-4-argon", "premium", frozenset({"reasoning", "long_document"})),
    ("deepseek", "deepseek-v4-flash", "economy", frozenset({"code", "reasoning"})),
    ("deepseek", "deepseek-v4-pro", "standard", frozenset({"code", "reasoning"})),
)

# What Azure deployments of each family count as; tests check every AZURE_MODEL_FAMILIES entry has one.
AZURE_FAMILY_TIERS: dict[str, tuple[str, frozenset[str]]] = {
    "gpt-6-luna": ("economy", frozenset({"long_document"})),
    "gpt-6.1-terra": ("standard", frozenset({"code"})),
    "gpt-6.1-sol": ("premium", frozenset({"code", "reasoning"})),
    "gpt-4o-mini": ("economy", frozenset()),
    "gpt-4.1-nano": ("economy", frozenset()),
    "gpt-5-nano": ("economy", frozenset()),
    "gpt-4o": ("standard", frozenset()),
    "gpt-4.1-mini": ("standard", frozenset({"long_document"})),
    "gpt-5-mini": ("standard", frozenset({"code"})),
    "o3-mini": ("standard", frozenset({"reasoning"})),
    "o4-mini": ("standard", frozenset({"reasoning", "code"})),
    "gpt-4.1": ("premium", frozenset({"long_document"})),
    "gpt-5": ("premium", frozenset({"code", "reasoning"})),
}

# The "what it would have cost" model for savings: OpenAI's premium. Change it here only.
PREMIUM_BASELINE = "openai/gpt-6.1-sol"

_ABOVE = re.compile(r"^input_cost_per_token_above_(\d+)(k?)_tokens$")
_HHMM = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


@dataclass(frozen=True)
class OffPeak:
    """Discounted rates during UTC windows; each window is (ISO weekdays, ((start, end) minutes))."""

    input_cost_per_token: float
    output_cost_per_token: float
    windows: tuple[tuple[frozenset[int], tuple[tuple[int, int], ...]], ...]
    cache_read_cost_per_token: float | None = None  # None: the model's own cache rates apply
    cache_write_cost_per_token: float | None = None


@dataclass(frozen=True)
class ModelSpec:
    provider: str  # provider id in bot.llm.providers.CATALOG
    name: str  # the provider's model id (for Azure: the deployment name), for call_params(model=)
    tier: str
    litellm_name: str  # what litellm's `model=` gets: "openai/gpt-6-luna", "azure/<deployment>"
    context_window: int  # max input tokens
    input_cost_per_token: float
    output_cost_per_token: float
    strengths: frozenset[str] = frozenset()
    price_key: str = ""  # its key in litellm.model_cost; for Azure the `base_model`
    max_output_tokens: int | None = None
    # Above a prompt size some models bill the whole request at higher rates: (threshold, in, out).
    long_context: tuple[tuple[int, float, float], ...] = ()
    off_peak: OffPeak | None = field(default=None, repr=False)
    retires_on: date | None = None  # the provider's announced shutdown date
    # Prompt caching: rates for prompt tokens read from / written to the provider's cache (None: the
    # table has none, so they bill as ordinary input), and their long-context rates (threshold, read,
    # write), each None where the table keeps the lower rate.
    cache_read_cost_per_token: float | None = None
    cache_write_cost_per_token: float | None = None
    long_context_cache: tuple[tuple[int, float | None, float | None], ...] = ()

    def __hash__(self) -> int:
        # Routing keeps specs in sets and dict keys on every answer; the generated hash would hash
        # all sixteen fields each time. Equal specs share these two, so the hash stays consistent.
        return hash((self.provider, self.litellm_name))

    @property
    def tier_rank(self) -> int:
        return TIER_RANK[self.tier]

    @property
    def base_model(self) -> str | None:
        """What litellm needs as `base_model=` to price this model (Azure deployments only)."""
        return self.price_key if self.provider == "azure" else None


class CatalogError(LookupError):
    pass


def _long_context(entry: Mapping) -> tuple[tuple[int, float, float], ...]:
    tiers = []
    for key in entry:
        if match := _ABOVE.match(key):
            threshold = int(match.group(1)) * (1000 if match.group(2) else 1)
            suffix = key.removeprefix("input_cost_per_token")
            output = entry.get(f"output_cost_per_token{suffix}")
            tiers.append(
                (
                    threshold,
                    float(entry[key]),
                    float(output if output is not None else entry["output_cost_per_token"]),
                )
            )
    return tuple(sorted(tiers))


def _rate(entry: Mapping, key: str) -> float | None:
    value = entry.get(key)
    return float(value) if value is not None else None


def _long_context_cache(
    entry: Mapping, thresholds: Iterable[int]
) -> tuple[tuple[int, float | None, float | None], ...]:
    """Cache rates above each long-context threshold, as litellm's cost code looks them up."""
    tiers = []
    for threshold in thresholds:
        size = f"{threshold // 1000}k" if threshold % 1000 == 0 else str(threshold)
        read = _rate(entry, f"cache_read_input_token_cost_above_{size}_tokens")
        write = _rate(entry, f"cache_creation_input_token_cost_above_{size}_tokens")
        if read is not None or write is not None:
            tiers.append((threshold, read, write))
    return tuple(tiers)


def _minutes(hours: int, minutes: int) -> int:
    return hours * 60 + minutes


def _off_peak(entry: Mapping) -> OffPeak | None:
    """litellm's `off_peak_pricing` (DeepSeek's discount hours) in a form pricing can evaluate."""
    block = entry.get("off_peak_pricing")
    if not block:
        return None
    if block.get("weekday_timezone") not in (None, "UTC"):
        raise CatalogError(f"off-peak weekdays in {block['weekday_timezone']} are not supported")
    rules = list(block.get("windows") or [])
    if block.get("hours_utc"):
        rules.append({"hours_utc": block["hours_utc"]})
    windows = []
    for rule in rules:
        hours = rule.get("hours_utc")
        spans = []
        for text in [hours] if isinstance(hours, str) else hours or []:
            match = _HHMM.match(text.strip())
            if not match:
                raise CatalogError(f"off-peak window {text!r} is not HH:MM-HH:MM")
            h1, m1, h2, m2 = map(int, match.groups())
            spans.append((_minutes(h1, m1), _minutes(h2, m2)))
        weekdays = frozenset(rule.get("weekdays") or range(1, 8))
        windows.append((weekdays, tuple(spans)))
    return OffPeak(
        float(block.get("input_cost_per_token", entry["input_cost_per_token"])),
        float(block.get("output_cost_per_token", entry["output_cost_per_token"])),
        tuple(windows),
        _rate(block, "cache_read_input_token_cost"),
        _rate(block, "cache_creation_input_token_cost"),
    )


def spec_from_table(
    table: Mapping[str, Mapping],
    *,
    provider: str,
    name: str,
    tier: str,
    price_key: str,
    litellm_name: str,
    strengths: frozenset[str] = frozenset(),
) -> ModelSpec:
    """One ModelSpec priced from litellm's table; CatalogError when the table cannot price it."""
    entry = table.get(price_key)
    if not entry:
        raise CatalogError(f"{price_key} is not in litellm's price table")
    missing = [
        k for k in ("input_cost_per_token", "output_cost_per_token", "max_input_tokens") if not entry.get(k)
    ]
    if missing:
        raise CatalogError(f"{price_key} has no {', '.join(missing)} in litellm's price table")
    retires = entry.get("deprecation_date")
    long_context = _long_context(entry)
    return ModelSpec(
        provider=provider,
        name=name,
        tier=tier,
        litellm_name=litellm_name,
        context_window=int(entry["max_input_tokens"]),
        input_cost_per_token=float(entry["input_cost_per_token"]),
        output_cost_per_token=float(entry["output_cost_per_token"]),
        strengths=strengths,
        price_key=price_key,
        max_output_tokens=entry.get("max_output_tokens"),
        long_context=long_context,
        off_peak=_off_peak(entry),
        retires_on=date.fromisoformat(retires) if retires else None,
        cache_read_cost_per_token=_rate(entry, "cache_read_input_token_cost"),
        cache_write_cost_per_token=_rate(entry, "cache_creation_input_token_cost"),
        long_context_cache=_long_context_cache(entry, (threshold for threshold, _, _ in long_context)),
    )


def _price_key(table: Mapping[str, Mapping], prefix: str, name: str) -> str:
    # litellm keys OpenAI and Anthropic models bare ("gpt-6-luna"), Gemini and DeepSeek prefixed.
    prefixed = f"{prefix}/{name}"
    return prefixed if prefixed in table else name


def build_catalog(table: Mapping[str, Mapping]) -> tuple[tuple[ModelSpec, ...], list[str]]:
    """The catalog priced from `table`, and a problem line for each entry it cannot price."""
    specs, problems = [], []
    for provider, name, tier, strengths in CATALOG_ENTRIES:
        prefix = CATALOG[provider].litellm_prefix
        try:
            specs.append(
                spec_from_table(
                    table,
                    provider=provider,
                    name=name,
                    tier=tier,
                    price_key=_price_key(table, prefix, name),
                    litellm_name=f"{prefix}/{name}",
                    strengths=strengths,
                )
            )
        except CatalogError as error:
            problems.append(f"{provider}/{name}: {error}")
    return tuple(specs), problems


def _table() -> Mapping[str, Mapping]:
    from bot.llm.runtime import load_litellm  # sets the offline switches before importing litellm

    return load_litellm().model_cost


async def catalog_ready() -> None:
    """Build the catalog off the event loop. Until litellm's background import ends, building it
    waits for that import: done on the loop, one early question stopped every ack for ~20 s."""
    if catalog.cache_info().currsize == 0:
        await asyncio.to_thread(catalog)


@functools.cache
def catalog() -> tuple[ModelSpec, ...]:
    """Every catalog model, priced from litellm's bundled table (read once per process)."""
    specs, problems = build_catalog(_table())
    for problem in problems:  # tests fail on these; in production skip the model, keep routing
        log.warning("model catalog: %s", problem)
    return specs


def azure_models(deployments: Mapping[str, str]) -> list[ModelSpec]:
    """The person's Azure deployments ({deployment: family}) as models priced as `azure/<family>`."""
    table = _table()
    models = []
    for deployment, family in deployments.items():
        tier, strengths = AZURE_FAMILY_TIERS.get(family, (None, frozenset()))
        if tier is None:
            log.warning("azure deployment %s runs %s, which has no tier", deployment, family)
            continue
        try:
            models.append(
                spec_from_table(
                    table,
                    provider="azure",
                    name=deployment,
                    tier=tier,
                    price_key=f"azure/{family}",
                    litellm_name=f"azure/{deployment}",
                    strengths=strengths,
                )
            )
        except CatalogError as error:
            log.warning("azure deployment %s: %s", deployment, error)
    return models


@functools.cache
def _index() -> tuple[dict[str, ModelSpec], dict[str, tuple[ModelSpec, ...]]]:
    """The catalog by every name a model answers to (the first model wins, as a scan in catalog
    order would find it) and by provider: lookups on every answer's path are dict reads. Built
    once, like the catalog: no argument, so a lookup hashes nothing but the name it looks up."""
    by_name: dict[str, ModelSpec] = {}
    by_provider: dict[str, list[ModelSpec]] = {}
    for spec in catalog():
        for name in (spec.litellm_name, spec.price_key, spec.name):
            by_name.setdefault(name, spec)
        by_provider.setdefault(spec.provider, []).append(spec)
    return by_name, {provider: tuple(models) for provider, models in by_provider.items()}


def for_provider(provider: str) -> list[ModelSpec]:
    return list(_index()[1].get(provider, ()))


def available_models(
    providers: Iterable[str], azure_deployments: Mapping[str, str] | None = None
) -> dict[str, list[ModelSpec]]:
    """What routing may use for a person holding keys for `providers`."""
    available = {}
    for provider in providers:
        if provider == "azure":
            available["azure"] = azure_models(azure_deployments or {})
        else:
            available[provider] = for_provider(provider)
    return available


def matches(spec: ModelSpec, name: str) -> bool:
    """Whether `name` ("openai/gpt-6-luna", "gpt-6-luna", an Azure deployment) means this model."""
    return name in (spec.litellm_name, spec.price_key, spec.name)


def lookup(litellm_name: str) -> ModelSpec | None:
    """The catalog model with that litellm name (or bare model id), else None."""
    return _index()[0].get(litellm_name)
