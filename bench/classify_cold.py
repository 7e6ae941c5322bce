"""Time `bot.llm.classify.classify` cold: right after something has evicted the CPU caches.

What it measures
    In production classify runs right after a litellm call (~20 ms of other Python) that has pushed
    its code, its word lists and its regexes out of the CPU caches, so one call costs several times
    what bench/classify.py measures in a tight loop. Before each timed call this script "thrashes"
    the caches the same way: it writes to every 64th byte (one per cache line) of a 48 MB buffer
    and builds a 20,000-entry dict of ints to strings (which also churns the Python allocator). It
    then times ONE `classify(text, history_chars=2_000)` call with `time.perf_counter_ns`.
    Inputs: every prompt of the labelled set (tests/data/routing/dev.jsonl and heldout.jsonl), and
    one short question ("What is the capital of France, …") timed --repeat times. "warm" is the
    same calls with no thrash in between (the question's and the set's figures after a warm-up).

    With --ref REV (a git revision, e.g. main) the classifier as it was at REV (bot/llm/lexicon.py,
    shapes.py, classify.py read with `git show`) is loaded under another package name and timed in
    the same process, each timed call alternating with the current one, so both see the same
    machine load.

How to read the output
    Median and p90 in µs for each of: labelled set cold, question cold, labelled set warm,
    question warm. The machine is noisy (other processes, frequency scaling): run it a few times
    and compare ranges, not single figures. Timing never fails the script; it only reports.

Run from the repo root: `python bench/classify_cold.py [--repeat 300] [--ref main]`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.llm.classify import classify  # noqa: E402

DATA = ROOT / "tests" / "data" / "routing"
QUESTION = "What is the capital of France, and why did it become the capital? Answer briefly."
_BUFFER = bytearray(48 * 1024 * 1024)  # larger than any L3 cache this runs on
_LINES = len(_BUFFER[::64])


def thrash(round_: int) -> None:
    """Evict the caches: touch every cache line of 48 MB and allocate a dict of 20,000 strings."""
    _BUFFER[::64] = bytes([round_ & 0xFF]) * _LINES
    junk = {i: str(i) for i in range(20_000)}
    del junk


def load_prompts() -> list[str]:
    prompts = []
    for part in ("dev", "heldout"):
        with (DATA / f"{part}.jsonl").open(encoding="utf-8") as lines:
            prompts += [json.loads(line)["text"] for line in lines if line.strip()]
    return prompts


def load_ref(rev: str) -> Callable[..., object]:
    """classify as it was at git revision `rev`, imported as the package `_classify_ref`."""
    package = Path(tempfile.mkdtemp()) / "_classify_ref"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name in ("lexicon", "shapes", "classify"):
        source = subprocess.run(
            ["git", "show", f"{rev}:bot/llm/{name}.py"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
        (package / f"{name}.py").write_text(source.replace("bot.llm.", "_classify_ref."))
    sys.path.insert(0, str(package.parent))
    from _classify_ref.classify import classify as ref_classify  # type: ignore[import-not-found]

    return ref_classify


def time_calls(functions: list[Callable[..., object]], texts: list[str], cold: bool) -> list[list[float]]:
    """One list of µs per function; each text is timed once per function, taking turns to go first
    (whichever runs second on a text finds the text itself in the cache)."""
    clock = time.perf_counter_ns
    timings: list[list[float]] = [[] for _ in functions]
    for round_, text in enumerate(texts):
        for turn in range(len(functions)):
            index = (round_ + turn) % len(functions)
            function = functions[index]
            if cold:
                thrash(round_ * len(functions) + turn)
            start = clock()
            function(text, history_chars=2_000)
            timings[index].append((clock() - start) / 1_000)
    return timings


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=300, help="timed calls of the single question")
    parser.add_argument("--ref", help="also time classify as it was at this git revision")
    args = parser.parse_args()

    functions: list[Callable[..., object]] = [classify]
    names = ["current"]
    if args.ref:
        functions.append(load_ref(args.ref))
        names.append(args.ref)
    prompts = load_prompts()
    for function in functions:  # warm-up: regex caches, lazily built tables
        for text in prompts * 2:
            function(text, history_chars=2_000)

    runs = {
        "labelled set, cold": time_calls(functions, prompts, cold=True),
        "question, cold": time_calls(functions, [QUESTION] * args.repeat, cold=True),
        "labelled set, warm": time_calls(functions, prompts, cold=False),
        "question, warm": time_calls(functions, [QUESTION] * args.repeat, cold=False),
    }
    print(f"classify cold/warm: {len(prompts)} labelled prompts, the question {args.repeat} times")
    for label, timings in runs.items():
        figures = "   ".join(
            f"{name}: p50 {_percentile(values, 0.5):6.1f} µs  p90 {_percentile(values, 0.9):6.1f} µs"
            for name, values in zip(names, timings, strict=True)
        )
        print(f"  {label:20} {figures}")


if __name__ == "__main__":
    main()
