"""Time `bot.llm.classify.classify` on the labelled routing set and a few very large pastes.

What it measures
    Every prompt of the labelled set in tests/data/routing/ (dev and held-out: chat, writing,
    translation, summaries, extraction, facts, code, maths, logic puzzles and analysis, in several
    languages, short and long, with pasted code, logs and tables) plus three synthetic pastes of
    10–120k characters is classified round-robin for --calls calls (default 20,000) after a
    warm-up, as Atom calls it before every answer (with 2,000 characters of history). Each call is
    timed alone with `time.perf_counter_ns`; the clock's own overhead (~0.1 µs) is included.
    Nothing is cached between calls: classify keeps no state.

How to read the output
    One line per category (calls, mean and p99 wall-clock µs), then the overall mean, p50, p99 and
    max twice: wall-clock, and the thread's own CPU time per call (`time.thread_time_ns`), which a
    busy machine does not inflate — with other processes on the cores, the wall-clock tail is the
    scheduler taking the CPU away mid-call. The load average is printed with the figures. The goal:
    p99 <= 1 ms (1,000 µs) per request. Large pastes cost about the same
    as short prompts because classify reads only the head and tail of the text for signals. Timing
    never fails the script; it only reports.

Run from the repo root: `python bench/classify.py [--calls 20000]`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.llm.classify import classify  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "routing"

GOAL_US = 1_000.0  # p99 per request (issue 13)

_TRACE = """Traceback (most recent call last):
  File "/app/worker.py", line 88, in run
    result = handler(event)
KeyError: 'user'
"""
LARGE_PASTES = [
    "Summarise the following report:\n" + ("Revenue grew in every region except EMEA. " * 500),
    "Here is the log, what went wrong?\n" + _TRACE * 300,
    "Can you find anything odd in this export?\ndate,region,orders,revenue\n"
    + "2026-11-01,EMEA,1204,88412.50\n" * 4_000,
]


def load_prompts() -> dict[str, list[str]]:
    """The labelled set's prompts by category, and the large pastes."""
    prompts: dict[str, list[str]] = {}
    for part in ("dev", "heldout"):
        with (DATA / f"{part}.jsonl").open(encoding="utf-8") as lines:
            for line in lines:
                row = json.loads(line)
                prompts.setdefault(row["category"], []).append(row["text"])
    prompts["large_paste"] = LARGE_PASTES
    return prompts


def _percentile(sorted_values: list[float], fraction: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()

    prompts = load_prompts()
    work = [(kind, text) for kind, texts in prompts.items() for text in texts]
    for _kind, text in work * 3:  # warm-up: regex caches, branch predictors, allocator
        classify(text, history_chars=2_000)

    per_kind: dict[str, list[float]] = {kind: [] for kind in prompts}
    wall_us: list[float] = []
    cpu_us: list[float] = []
    wall, cpu = time.perf_counter_ns, time.thread_time_ns
    for i in range(args.calls):
        kind, text = work[i % len(work)]
        start, start_cpu = wall(), cpu()
        classify(text, history_chars=2_000)
        elapsed_cpu, elapsed = (cpu() - start_cpu) / 1_000, (wall() - start) / 1_000
        per_kind[kind].append(elapsed)
        wall_us.append(elapsed)
        cpu_us.append(elapsed_cpu)

    print(f"classify: {args.calls:,} calls over {len(work)} prompts (load average {os.getloadavg()[0]:.1f})")
    for kind, values in per_kind.items():
        values.sort()
        print(
            f"  {kind:14} {len(values):6,} calls  mean {statistics.fmean(values):6.1f} µs  "
            f"p99 {_percentile(values, 0.99):7.1f} µs"
        )
    for name, values in (("wall", wall_us), ("CPU", cpu_us)):
        values.sort()
        print(
            f"  {'all, ' + name:14} mean {statistics.fmean(values):.1f} µs  p50 {_percentile(values, 0.5):.1f} µs  "
            f"p99 {_percentile(values, 0.99):.1f} µs  max {values[-1]:.1f} µs"
        )
    # On a busy machine the wall-clock tail is the scheduler taking the CPU away mid-call; the
    # thread's own CPU time is what a request costs. Both are printed; the goal is read on both.
    wall_p99, cpu_p99 = _percentile(wall_us, 0.99), _percentile(cpu_us, 0.99)
    print(
        f"goal (p99 <= {GOAL_US:,.0f} µs per request): wall {'holds' if wall_p99 <= GOAL_US else 'MISSED'}, "
        f"CPU {'holds' if cpu_p99 <= GOAL_US else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
