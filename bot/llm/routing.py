"""Routing policy: which of a person's models answers a request, and in what failover order.

Owns `plan()`, a pure function from a TaskProfile (bot.llm.classify), the models the person can
use and their chosen mode to a `RoutePlan`: candidates best-first, what was excluded and why, and
the text of the "Why this model?" view. No I/O: the caller supplies availability (keys, cooldowns,
budgets) as plain data and the clock as `now`.

Modes:
* save — the cheapest model that meets the task's need, where an economy model *noted for* the
  task (its `strengths`) counts as meeting a standard need; the rest below it;
* balanced (default) — the cheapest model whose own tier meets the task's need: every hard task
  (code, maths, logic, careful analysis: the classifier says "standard" or "premium") goes to the
  standard tier or above of the provider's price ladder, whatever an economy model is noted for;
* best — the highest tier first, cheapest first within a tier;
* any other value pins that model (litellm name or model id) first, with balanced order after it.

Prices compared are estimates for this request (its input plus an expected output per task), so
long-context surcharges and off-peak discounts count. After the first choice the next candidate
is put on another provider where the order allows, so one provider's outage does not use up
several attempts in a row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bot.llm.classify import TaskProfile
from bot.llm.models import TIER_RANK, TIERS, ModelSpec, matches
from bot.llm.pricing import cost, format_usd, per_million

MODES = ("save", "balanced", "best")
# What each mode does, as "Why this model?" says it.
MODE_RULES = {
    "save": "Save: the cheapest model that meets the task's need; an economy model noted for the task "
    "counts as standard.",
    "balanced": "Balanced: hard tasks (code, maths, logic puzzles, careful analysis) go to the standard tier "
    "or above; easy ones (chat, writing, translation, summaries, extraction, simple facts) to economy; "
    "standard when unsure.",
    "best": "Best: the premium tier first.",
}
# Typical answer sizes in tokens; reasoning models also bill their thinking as output.
EXPECTED_OUTPUT_TOKENS = {"chat": 400, "code": 1_200, "reasoning": 2_000, "long_document": 800}


@dataclass(frozen=True)
class Choice:
    model: ModelSpec
    est_cost: float  # USD for est_input_tokens plus the expected output
    why: str


@dataclass
class RoutePlan:
    profile: TaskProfile
    mode: str  # the mode that applied (a per-task override wins over the person's mode)
    expected_output_tokens: int
    candidates: list[Choice] = field(default_factory=list)
    excluded: list[tuple[str, str]] = field(default_factory=list)  # (model or provider, reason)

    @property
    def choice(self) -> Choice | None:
        return self.candidates[0] if self.candidates else None

    def explain(self, max_candidates: int = 6) -> str:
        """The "Why this model?" text: the task, its reasons, the first candidates and the choice."""
        p = self.profile
        lines = [
            f"Task: {p.task.replace('_', ' ')} (needs {p.need}) — {'; '.join(p.reasons)}",
            f"Size: ~{p.est_input_tokens:,} input tokens, ~{self.expected_output_tokens:,} expected output. "
            f"Mode: {self.mode}.",
        ]
        if rule := MODE_RULES.get(self.mode):
            lines.append(rule)
        if self.choice is None:
            lines.append("No model can take this request.")
        else:
            c = self.choice
            lines.append(
                f"Choice: {c.model.litellm_name} ({c.model.tier}), est. {format_usd(c.est_cost)} — {c.why}"
            )
            lines.append("Candidates, in failover order (price per 1M tokens in / out):")
            for number, c in enumerate(self.candidates[:max_candidates], start=1):
                m = c.model
                lines.append(
                    f"{number}. {m.litellm_name} — {m.tier} — {per_million(m.input_cost_per_token)} / "
                    f"{per_million(m.output_cost_per_token)} — est. {format_usd(c.est_cost)} — {c.why}"
                )
            if (more := len(self.candidates) - max_candidates) > 0:
                lines.append(f"…and {more} more")
        if self.excluded:
            lines.append("Not used:")
            lines.extend(f"• {what}: {reason}" for what, reason in self.excluded)
        return "\n".join(lines)


def effective_rank(model: ModelSpec, task: str, mode: str) -> int:
    """Tier rank for this task. Only in save mode does an economy model count as standard for the
    tasks it is noted for: balanced keeps hard tasks on the standard tier (a wrong answer to a
    puzzle costs more trust than the cent it saves)."""
    if mode == "save" and model.tier_rank == 0 and task in model.strengths:
        return 1
    return model.tier_rank


def _eligible(
    profile: TaskProfile,
    available: Mapping[str, list[ModelSpec]],
    unavailable: Mapping[str, str],
    needed: int,
    now: datetime | None,
    expected_output: int,
) -> tuple[list[tuple[ModelSpec, float]], list[tuple[str, str]], dict[str, str]]:
    """Models that may take the request with their estimated cost; exclusions; why each model was out."""
    eligible, excluded, out = [], [], {}
    seen: set[str] = set()
    for provider in sorted(available):  # sorted: the same inputs always give the same plan
        if provider in unavailable:
            excluded.append((provider, unavailable[provider]))
            for model in available[provider]:
                out[model.litellm_name] = unavailable[provider]
            continue
        for model in available[provider]:
            if model.litellm_name in seen:
                continue
            seen.add(model.litellm_name)
            if now is not None and model.retires_on is not None and model.retires_on <= now.date():
                reason = f"retired on {model.retires_on.isoformat()}"
            elif model.context_window < needed:
                reason = f"context window {model.context_window:,} tokens < {needed:,} needed"
            else:
                eligible.append((model, cost(model, profile.est_input_tokens, expected_output, at=now)))
                continue
            excluded.append((model.litellm_name, reason))
            out[model.litellm_name] = reason
    return eligible, excluded, out


Ranked = tuple[ModelSpec, float, tuple[str, str]]  # model, est. cost, (why if first, why as failover)


def _alternate(groups: list[list[Ranked]], last_provider: str | None) -> list[Ranked]:
    """Keep each group's order but, where possible, never put two models of a provider in a row."""
    ordered = []
    for group in groups:
        remaining = list(group)
        while remaining:
            index = next((i for i, item in enumerate(remaining) if item[0].provider != last_provider), 0)
            item = remaining.pop(index)
            ordered.append(item)
            last_provider = item[0].provider
    return ordered


def _order(mode: str, task: str, need: int, eligible: list[tuple[ModelSpec, float]]) -> list[list[Ranked]]:
    """Groups of ranked models, best first. Alternating providers never mixes groups: meeting the
    need (balanced) or the tier (best) matters more than spreading providers."""

    def rank(model: ModelSpec) -> int:
        return effective_rank(model, task, mode)

    def price(item: tuple[ModelSpec, float]):  # ties: the higher tier, then a stable name order
        model, est = item
        return (est, -rank(model), model.provider, model.litellm_name)

    need_name = TIERS[need]
    if mode == "best":
        groups = []
        for tier in sorted({m.tier_rank for m, _ in eligible}, reverse=True):
            why = (
                f"highest tier available ({TIERS[tier]}), cheapest first (best mode)",
                f"{TIERS[tier]} tier",
            )
            in_tier = sorted((i for i in eligible if i[0].tier_rank == tier), key=price)
            groups.append([(m, c, why) for m, c in in_tier])
        return groups

    def meets(model: ModelSpec) -> tuple[str, str]:
        lifted = (
            f", noted for {task.replace('_', ' ')}: counts as {need_name} in save mode"
            if model.tier_rank < need
            else ""
        )
        return f"cheapest model that meets the task's need ({need_name}{lifted})", f"meets the need{lifted}"

    def below(model: ModelSpec) -> tuple[str, str]:
        return (
            f"nothing that meets the need ({need_name}) is usable: best of the rest",
            f"below the need ({model.tier})",
        )

    meeting = sorted((i for i in eligible if rank(i[0]) >= need), key=price)
    rest = sorted((i for i in eligible if rank(i[0]) < need), key=lambda i: (-rank(i[0]), *price(i)))
    return [[(m, c, meets(m)) for m, c in meeting], [(m, c, below(m)) for m, c in rest]]


def plan(
    profile: TaskProfile,
    available: Mapping[str, list[ModelSpec]],
    mode: str = "balanced",
    overrides: Mapping[str, str] | None = None,
    unavailable: Mapping[str, str] | None = None,
    *,
    now: datetime | None = None,
) -> RoutePlan:
    """Rank the person's models for this request. `now` (UTC) retires shut-down models and prices
    off-peak hours; without it nothing is retired and list prices apply."""
    mode = (overrides or {}).get(profile.task, mode) or "balanced"
    mode = mode.lower() if mode.lower() in MODES else mode
    expected_output = EXPECTED_OUTPUT_TOKENS[profile.task]
    needed = profile.est_input_tokens + expected_output
    result = RoutePlan(profile, mode, expected_output)
    eligible, result.excluded, out = _eligible(
        profile, available, unavailable or {}, needed, now, expected_output
    )

    pinned = None
    if mode not in MODES:
        pinned = next((item for item in eligible if matches(item[0], mode)), None)
        if pinned is None:
            known = next((m for ms in available.values() for m in ms if matches(m, mode)), None)
            reason = out.get(known.litellm_name, "not usable") if known else "not among your models"
            result.excluded.append((mode, f"pinned, but {reason}; using balanced order"))
        eligible = [item for item in eligible if item is not pinned]
    groups = _order(mode if mode in MODES else "balanced", profile.task, TIER_RANK[profile.need], eligible)

    first = [(pinned[0], pinned[1], ("pinned by you", ""))] if pinned else []
    ordered = first + _alternate(groups, pinned[0].provider if pinned else None)
    for position, (model, est, (why_first, why_failover)) in enumerate(ordered):
        why = why_first
        if position:
            other = model.provider != ordered[position - 1][0].provider
            why = f"failover: {why_failover}" + ("; another provider" if other else "")
        result.candidates.append(Choice(model, est, why))
    if not result.candidates and not result.excluded:
        why = "no models set up (Azure needs deployments)" if available else "no provider key is set up"
        result.excluded.append(("all providers", why))
    return result
