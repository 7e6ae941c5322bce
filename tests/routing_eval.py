"""Evaluate Balanced routing on the labelled prompts in tests/data/routing/ (dev and held-out).

Each prompt is classified and planned in Balanced mode for a person holding keys for the four
catalog providers (OpenAI, Anthropic, Gemini, DeepSeek), at a given moment: litellm's table gives
DeepSeek off-peak rates (half price outside 01:00-04:00 and 06:00-10:00 UTC on weekdays), which
Atom's routing and billing use, so the cost figure depends on the hour. It is reported at peak
(list prices), off-peak, and spread evenly over a week's hours (`WEEK`). A hard prompt
(code, maths, logic, analysis) is routed right when the first choice is standard or premium; an
easy one when it is economy. Cost: each prompt's estimated input tokens plus the expected output
of the job it really is (bot.llm.routing.EXPECTED_OUTPUT_TOKENS for its labelled kind), priced
from litellm's bundled table on the model Atom chose, against the same tokens on the premium
baseline (bot.llm.models.PREMIUM_BASELINE) and on what a perfect router would choose.

`python -m tests.routing_eval` prints the report that docs/routing.md records.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.llm.classify import TaskProfile, classify
from bot.llm.models import available_models
from bot.llm.pricing import baseline_cost, cost
from bot.llm.routing import EXPECTED_OUTPUT_TOKENS, plan

DATA = Path(__file__).parent / "data" / "routing"
PROVIDERS = ["openai", "anthropic", "gemini", "deepseek"]
PEAK = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # a Wednesday inside DeepSeek's peak hours: list prices
OFF_PEAK = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)  # the same day, 14:00 UTC: European afternoon, US morning
# Each prompt at the next hour of a week (Monday 00:30 UTC on), round and round: a set asked over
# a whole week, every hour alike.
WEEK = "week"
_MONDAY = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)


def moment(at, index: int) -> datetime:
    return _MONDAY + timedelta(hours=index % 168) if at == WEEK else at


HARD = ("code_write", "code_review", "code_debug", "maths", "logic", "analysis")
EASY = ("chat", "writing", "extraction", "translation", "summary", "facts")
# What a perfect router would do with each kind of prompt: the ceiling for the cost figure.
IDEAL_TASK = {"code_write": "code", "code_review": "code", "code_debug": "code", "summary": "long_document"}


def load(name: str) -> list[dict]:
    with (DATA / f"{name}.jsonl").open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


@dataclass
class Report:
    rows: int = 0
    tiers: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))  # category -> tier -> n
    right: Counter = field(default_factory=Counter)  # category -> routed right
    total: Counter = field(default_factory=Counter)
    cost: float = 0.0
    baseline: float = 0.0
    ideal_cost: float = 0.0
    mistakes: list[tuple[dict, str, TaskProfile]] = field(default_factory=list)

    def rate(self, categories) -> float:
        return sum(self.right[c] for c in categories) / max(1, sum(self.total[c] for c in categories))

    @property
    def hard_rate(self) -> float:
        return self.rate(HARD)

    @property
    def easy_rate(self) -> float:
        return self.rate(EASY)

    @property
    def saving(self) -> float:
        return 1 - self.cost / self.baseline

    @property
    def ideal_saving(self) -> float:
        return 1 - self.ideal_cost / self.baseline


def evaluate(rows: list[dict], providers: list[str] = PROVIDERS, at: datetime | str = PEAK) -> Report:
    """`at`: when the prompts are asked (PEAK, OFF_PEAK, any datetime, or WEEK)."""
    available = available_models(providers)
    report = Report(rows=len(rows))
    for index, row in enumerate(rows):
        when = moment(at, index)
        profile = classify(row["text"])
        route = plan(profile, available, "balanced", now=when)
        tier = route.choice.model.tier
        category = row["category"]
        right = (tier != "economy") if row["hard"] else (tier == "economy")
        report.tiers[category][tier] += 1
        report.total[category] += 1
        report.right[category] += right
        if not right:
            report.mistakes.append((row, tier, profile))
        # Every figure uses the same tokens for a prompt, whatever it was classified as: its input
        # and the expected output of the job it really is, so only the model chosen differs.
        true_task = IDEAL_TASK.get(category, "reasoning" if row["hard"] else "chat")
        tokens_in, tokens_out = profile.est_input_tokens, EXPECTED_OUTPUT_TOKENS[true_task]
        report.cost += cost(route.choice.model, tokens_in, tokens_out, at=when)
        report.baseline += baseline_cost(tokens_in, tokens_out, at=when)
        ideal = TaskProfile(true_task, "standard" if row["hard"] else "economy", tokens_in, ("label",))
        report.ideal_cost += cost(
            plan(ideal, available, "balanced", now=when).choice.model, tokens_in, tokens_out, at=when
        )
    return report


def markdown(name: str, report: Report) -> str:
    lines = [
        f"### {name}: {report.rows} prompts",
        "",
        f"- hard prompts on standard or above: **{report.hard_rate:.1%}** "
        f"({sum(report.right[c] for c in HARD)}/{sum(report.total[c] for c in HARD)})",
        f"- easy prompts on economy: **{report.easy_rate:.1%}** "
        f"({sum(report.right[c] for c in EASY)}/{sum(report.total[c] for c in EASY)})",
        f"- cost at peak: ${report.cost:.4f} against ${report.baseline:.4f} always on the premium baseline: "
        f"**{report.saving:.1%} cheaper** (a perfect router meeting the tier goals: {report.ideal_saving:.1%})",
        "",
        "| category | kind | economy | standard | premium | routed right |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for category in HARD + EASY:
        tiers = report.tiers[category]
        kind = "hard" if category in HARD else "easy"
        lines.append(
            f"| {category} | {kind} | {tiers['economy']} | {tiers['standard']} | {tiers['premium']} | "
            f"{report.right[category]}/{report.total[category]} |"
        )
    return "\n".join(lines)


def mistakes_markdown(report: Report, limit: int = 40) -> str:
    lines = ["| category | prompt | went to | why |", "|---|---|---|---|"]
    for row, tier, profile in report.mistakes[:limit]:
        text = row["text"].replace("\n", " ⏎ ").replace("|", "\\|")
        text = text if len(text) <= 90 else text[:87] + "…"
        lines.append(f"| {row['category']} | {text} | {tier} | {'; '.join(profile.reasons)[:120]} |")
    return "\n".join(lines)


def by_key_set(rows: list[dict]) -> str:
    lines = [
        "| keys | hard on standard+ | easy on economy | cheaper than premium | perfect router |",
        "|---|---:|---:|---:|---:|",
    ]
    for providers in (PROVIDERS, *([p] for p in PROVIDERS)):
        report = evaluate(rows, providers)
        lines.append(
            f"| {', '.join(providers)} | {report.hard_rate:.1%} | {report.easy_rate:.1%} | {report.saving:.1%} | "
            f"{report.ideal_saving:.1%} |"
        )
    return "\n".join(lines)


def by_hour(parts: dict[str, list[dict]]) -> str:
    lines = [
        "| part | when | cheaper than always premium | perfect router |",
        "|---|---|---:|---:|",
    ]
    for name, rows in parts.items():
        for label, at in (
            ("peak (list prices; 08:00 UTC)", PEAK),
            ("off-peak (14:00 UTC)", OFF_PEAK),
            ("spread over a week", WEEK),
        ):
            report = evaluate(rows, at=at)
            lines.append(f"| {name} | {label} | {report.saving:.1%} | {report.ideal_saving:.1%} |")
    return "\n".join(lines)


def main() -> None:
    print("### cost by the hour the questions are asked\n")
    print(by_hour({"dev": load("dev"), "held-out": load("heldout")}))
    print()
    print("### whole set at peak, by the keys a person holds\n")
    print(by_key_set(load("dev") + load("heldout")))
    print()
    for name in ("dev", "heldout"):
        report = evaluate(load(name))
        print(markdown(name, report))
        print()
        print(mistakes_markdown(report))
        print()


if __name__ == "__main__":
    main()
