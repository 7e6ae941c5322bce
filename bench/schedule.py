"""How fast Atom reads a schedule: per-phrase parse time, and `atom schedule` start to exit.

What it measures
    * parse - every phrase of the test table (tests/schedule_table.py: 256 phrases, 41 of them
      refused) through `parse_schedule` with its zone and fixed "now", `--rounds` times (default
      1,000), after importing the code and one warm-up round. Each call is timed alone with
      `perf_counter_ns`; refusals count too (they are as likely on the Slack ack path). The
      per-schedule caches of compiled rules are cleared before every round, so each round pays
      for building its dateutil rules as a new request would; the word caches (misspellings)
      stay warm, as they do in a running process. Goal: p99 <= 1 ms per phrase. The calling
      thread's CPU time per call is reported beside the wall-clock time: on a shared machine the
      wall-clock p99 includes the moments another process held the CPU. The garbage collector
      runs with the settings of a running Atom (`bot.server.tune_gc`): with Python's defaults a
      full collection lands on roughly one parse in a hundred and is the p99 by itself.
    * process - `python -m bot schedule "<phrase>" --now …` spawned `--spawns` times (default 20)
      with no Slack, provider or database settings, from just before the spawn to its exit.
      Measured twice: as this shell runs it (here PYTHONDONTWRITEBYTECODE=1, so every module of
      Atom's is compiled from source at each start), and with bytecode compiled once into a
      temporary PYTHONPYCACHEPREFIX, as `pip install` leaves an installed package.
      Goal: <= 0.5 s. For scale, the same interpreter running `python -c pass` is timed as well:
      the difference is what Atom's command adds (argparse, the schedule code, dateutil).
      The modules the command loaded are listed, to show that litellm, Slack, SQLAlchemy and the
      settings stay out.

How to read the output
    Percentiles are nearest-rank. On a shared 2-vCPU machine the figures wander with the load;
    the load average, taken after the run, is printed too. Timing never fails the script.
    `--json` prints the same figures as one JSON object instead.

Run from the repo root: `python bench/schedule.py [--rounds 1000] [--spawns 20] [--json]`.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench._common import percentile  # noqa: E402

GOAL_P99_MS = 1.0
GOAL_PROCESS_S = 0.5
PHRASE = "every weekday at 9 DM me my calendar"
HEAVY = ("litellm", "slack_sdk", "slack_bolt", "sqlalchemy", "aiohttp", "cryptography", "apscheduler")


def bench_parse(rounds: int) -> dict:
    from bot.llm.runtime import set_offline_switches

    set_offline_switches()  # bot.server below must not let litellm reach out if anything loads it
    from bot.server import tune_gc
    from bot.workflows import recurrence
    from bot.workflows.schedule import ScheduleError, parse_schedule
    from tests.schedule_table import CASES

    cases = [(case.phrase, case.tz, datetime.fromisoformat(case.now)) for case in CASES]

    def one_round(samples: list[int] | None, cpu: list[int] | None = None) -> None:
        recurrence._compiled.cache_clear()
        recurrence.parse.cache_clear()
        for phrase, tz, now in cases:
            start_cpu = time.thread_time_ns()
            start = time.perf_counter_ns()
            try:
                parse_schedule(phrase, tz=tz, now=now)
            except ScheduleError:
                pass
            if samples is not None:
                samples.append(time.perf_counter_ns() - start)
                cpu.append(time.thread_time_ns() - start_cpu)

    one_round(None)  # warm-up: imports done, word caches filled
    samples: list[int] = []
    cpu: list[int] = []
    gc.collect()
    tune_gc()  # the collector settings of a running Atom, where this parser runs
    started = time.perf_counter()
    for _ in range(rounds):
        one_round(samples, cpu)
    wall = time.perf_counter() - started
    samples.sort()
    gauge = _speed_gauge()
    ms = [value / 1e6 for value in samples]
    cpu_ms = sorted(value / 1e6 for value in cpu)
    slowest = _slowest(cases)
    return {
        "phrases": len(cases),
        "rounds": rounds,
        "calls": len(ms),
        "p50_ms": round(percentile(ms, 50), 4),
        "p90_ms": round(percentile(ms, 90), 4),
        "p99_ms": round(percentile(ms, 99), 4),
        "max_ms": round(ms[-1], 3),
        "mean_ms": round(sum(ms) / len(ms), 4),
        "cpu_p50_ms": round(percentile(cpu_ms, 50), 4),
        "cpu_p99_ms": round(percentile(cpu_ms, 99), 4),
        "wall_s": round(wall, 1),
        "slowest_phrases": slowest,
        "speed_gauge_ms": gauge,
        "goal_p99_ms": GOAL_P99_MS,
    }


def _speed_gauge() -> float:
    """CPU ms of a fixed pure-Python loop (median of 5): how fast this machine runs Python now."""
    times = []
    for _ in range(5):
        start = time.thread_time_ns()
        total = 0
        for value in range(200_000):
            total += value % 7
        times.append((time.thread_time_ns() - start) / 1e6)
    return round(sorted(times)[2], 2)


def _slowest(cases) -> list[dict]:
    """The five phrases with the highest median over 50 calls each (where the time goes)."""
    from bot.workflows import recurrence
    from bot.workflows.schedule import ScheduleError, parse_schedule

    medians = []
    for phrase, tz, now in cases:
        times = []
        for _ in range(50):
            recurrence._compiled.cache_clear()
            start = time.perf_counter_ns()
            try:
                parse_schedule(phrase, tz=tz, now=now)
            except ScheduleError:
                pass
            times.append(time.perf_counter_ns() - start)
        times.sort()
        medians.append((times[len(times) // 2] / 1e6, phrase))
    medians.sort(reverse=True)
    return [{"phrase": phrase, "median_ms": round(value, 3)} for value, phrase in medians[:5]]


def bench_process(spawns: int) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SLACK_", "ATOM_"))}
    command = [sys.executable, "-m", "bot", "schedule", PHRASE, "--tz", "Europe/Berlin",
               "--now", "2026-12-01T21:25:00Z"]  # fmt: skip
    baseline = [sys.executable, "-c", "pass"]

    def timed(argv: list[str]) -> tuple[float, subprocess.CompletedProcess]:
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
        return time.perf_counter() - start, done

    timed(command)  # page cache warm-up
    atom, bare, cached, exits = [], [], [], set()
    with tempfile.TemporaryDirectory() as prefix:
        # As installed (pip compiles bytecode at install time): .pyc files kept outside the tree.
        cached_env = {key: value for key, value in env.items() if key != "PYTHONDONTWRITEBYTECODE"}
        cached_env["PYTHONPYCACHEPREFIX"] = prefix
        subprocess.run([sys.executable, "-m", "compileall", "-q", "bot"], cwd=REPO_ROOT, env=cached_env, check=False)
        subprocess.run(command, cwd=REPO_ROOT, env=cached_env, capture_output=True, check=False)
        for _ in range(spawns):
            seconds, done = timed(command)
            atom.append(seconds)
            exits.add(done.returncode)
            bare.append(timed(baseline)[0])
            start = time.perf_counter()
            done = subprocess.run(command, cwd=REPO_ROOT, env=cached_env, capture_output=True, check=False)
            cached.append(time.perf_counter() - start)
            exits.add(done.returncode)
    atom.sort()
    bare.sort()
    cached.sort()
    probe = (
        "import sys, io, contextlib\n"
        "from bot.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    main(['schedule', {PHRASE!r}])\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))\n"
        "print('bot.config' in sys.modules)\n"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    heavy, config = (loaded.stdout.strip().splitlines() + ["?", "?"])[:2]
    return {
        "spawns": spawns,
        "exit_codes": sorted(exits),
        "atom_schedule_p50_s": round(percentile(atom, 50), 3),
        "atom_schedule_p95_s": round(percentile(atom, 95), 3),
        "atom_schedule_min_s": round(atom[0], 3),
        "with_bytecode_p50_s": round(percentile(cached, 50), 3),
        "with_bytecode_min_s": round(cached[0], 3),
        "python_c_pass_p50_s": round(percentile(bare, 50), 3),
        "python_c_pass_min_s": round(bare[0], 3),
        "added_by_atom_p50_s": round(percentile(cached, 50) - percentile(bare, 50), 3),
        "heavy_modules_loaded": heavy,
        "settings_loaded": config,
        "bytecode_cache": "off (PYTHONDONTWRITEBYTECODE)" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "on",
        "goal_s": GOAL_PROCESS_S,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--spawns", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = {"parse": bench_parse(args.rounds), "process": bench_process(args.spawns),
              "load_average": [round(x, 2) for x in os.getloadavg()]}  # fmt: skip
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    parse, process = report["parse"], report["process"]
    print(f"parse: {parse['calls']:,} calls ({parse['phrases']} phrases x {parse['rounds']} rounds) in {parse['wall_s']} s")
    print(f"  p50 {parse['p50_ms']} ms  p90 {parse['p90_ms']} ms  p99 {parse['p99_ms']} ms  "
          f"max {parse['max_ms']} ms  mean {parse['mean_ms']} ms  (goal p99 <= {GOAL_P99_MS} ms)")  # fmt: skip
    print(f"  CPU time of the calling thread per call: p50 {parse['cpu_p50_ms']} ms, p99 {parse['cpu_p99_ms']} ms "
          "(what the code costs, without the time other processes held the CPU)")
    print(f"  speed gauge (a fixed pure-Python loop, CPU): {parse['speed_gauge_ms']} ms - compare runs with it")
    for row in parse["slowest_phrases"]:
        print(f"  slowest: {row['median_ms']} ms  {row['phrase']!r}")
    print(f"process: atom schedule p50 {process['atom_schedule_p50_s']} s, p95 {process['atom_schedule_p95_s']} s, "
          f"min {process['atom_schedule_min_s']} s (goal <= {GOAL_PROCESS_S} s); exit codes {process['exit_codes']}")  # fmt: skip
    print(f"  with bytecode compiled (as pip installs it): p50 {process['with_bytecode_p50_s']} s, "
          f"min {process['with_bytecode_min_s']} s")
    print(f"  python -c pass p50 {process['python_c_pass_p50_s']} s, min {process['python_c_pass_min_s']} s; "
          f"added by Atom's command (with bytecode) p50 {process['added_by_atom_p50_s']} s; "
          f"this shell's bytecode cache: {process['bytecode_cache']}")  # fmt: skip
    print(f"  heavy modules loaded: {process['heavy_modules_loaded']}; settings loaded: {process['settings_loaded']}")
    print(f"load average after the run: {report['load_average']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
