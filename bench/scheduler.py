"""Workflow scheduler: start-up with 10,000 workflows, and 1,000 runs due in the same second.

What it measures
    load   - 10,000 enabled workflows written to a temporary SQLite database; then the time for
             `WorkflowScheduler.start()` to read them and arm one APScheduler job each, and the
             memory it adds: RSS after a full collection minus the same reading just before, and
             what tracemalloc saw allocated and still held (RSS can hide growth in free pages).
             Goals: ≤ 5 s and ≤ 100 MB.
    burst  - `atom run` as production runs it, a process of its own (`python -m bot run --http`;
             with `--runner worker`, the default, it starts its workflow worker child), against
             fake Slack, fake providers and fake Google served by this script, with `--due`
             workflows (40 owners, each with a key and Google connected) all due at the same
             instant; each run reads the owner's calendar (fake Google), summarizes it with a
             model (fake OpenAI) and DMs the owner (fake Slack). Delay from due time to a run's
             start (`workflow_runs.started_at - due_at`: when the runner began it) p50/p99 (goal
             p99 ≤ 1 s), due → finished, and Slack ack latency (`/atom help`, signed, at
             `--ack-rate` per second, from a probe process of its own) for 5 s while idle and
             from 2 s before the due time until every run has finished, in the same run (goal:
             burst p99 ≤ 2× idle p99). `--runner inline` runs the same with
             ATOM_WORKFLOW_RUNNER=inline: the runs on the loop that acknowledges Slack, as
             before the worker existed. All processes share this machine's cores.

Run: `python bench/scheduler.py [--workflows 10000] [--due 1000] [--runner worker|inline] [--json]`
(`--workflows 0` skips the load part). Never fails on timing.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import tempfile
import time
import tracemalloc
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.llm.runtime import set_offline_switches  # noqa: E402

set_offline_switches()

from bench._common import percentile, run_and_report  # noqa: E402
from tests.conftest import process_env  # noqa: E402

OWNERS = 40


def _spec_json(index: int, steps: list[dict] | None = None) -> dict:
    from bot.workflows.spec import ModelStep, WorkflowSpec
    from tests.workflowhelpers import daily_trigger

    spec = WorkflowSpec(
        name=f"W{index}", trigger=daily_trigger(),
        steps=steps or [ModelStep(id="s", task="summarize", instruction="Summarize my day.")],
    )
    return spec.to_json()


async def _insert(sessions, count: int, when, spec_for) -> list[str]:
    from bot.storage.models import Workflow, utcnow

    ids = [str(uuid.uuid4()) for _ in range(count)]
    rows = [
        {"id": wid, "enterprise_id": "", "team_id": "T1", "user_id": f"U{i % OWNERS:03d}", "name": f"W{i}",
         "spec": spec_for(i), "status": "enabled", "confirmed": [], "next_run_at": when, "last_status": "",
         "failures_in_row": 0, "paused_reason": "", "created_at": utcnow(), "updated_at": utcnow()}
        for i, wid in enumerate(ids)
    ]
    async with sessions.kw["bind"].begin() as conn:
        for start in range(0, len(rows), 1000):
            await conn.execute(Workflow.__table__.insert(), rows[start : start + 1000])
    return ids


async def bench_load(count: int) -> dict:
    from cryptography.fernet import Fernet

    from bench._harness import rss_mb
    from bot.config import load_settings
    from bot.runtime import Runtime
    from bot.storage.models import utcnow
    from tests.conftest import atom_env

    with tempfile.TemporaryDirectory(prefix="atom-bench-") as tmp:
        env = atom_env("http://127.0.0.1:9/api/", f"sqlite+aiosqlite:///{Path(tmp) / 'atom.db'}",
                       Fernet.generate_key().decode())
        runtime = await Runtime.open(load_settings(env))
        spec = _spec_json(0)
        await _insert(runtime.sessions, count, utcnow() + timedelta(days=1), lambda _i: spec)
        gc.collect()
        before = rss_mb()
        started = time.perf_counter()
        armed = await runtime.workflow_scheduler.start()
        seconds = time.perf_counter() - started
        gc.collect()
        added = rss_mb() - before
        await runtime.workflow_scheduler.stop()
        # A second, separate start under tracemalloc (which slows allocation, so not timed).
        from bot.workflows.scheduler import WorkflowScheduler

        again = WorkflowScheduler(runtime.workflows, runtime.workflow_runner.run, grace=timedelta(minutes=10),
                                  empty_outputs=lambda: "")
        tracemalloc.start()
        await again.start()
        gc.collect()
        traced, _peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        await again.stop()
        await runtime.close()
    return {"workflows": armed, "load_seconds": seconds, "memory_mb": added, "traced_mb": traced / 2**20}


async def _ack_latencies(client, rate: float, seconds: float, until: asyncio.Event | None = None) -> list[float]:
    """`/atom help` (signed) at `rate` per second for `seconds`, or until `until` is set."""
    latencies: list[float] = []

    async def one() -> None:
        started = time.perf_counter()
        response = await client.command("help")
        if response.status == 200:
            latencies.append(time.perf_counter() - started)

    tasks = []
    begin = time.perf_counter()
    n = 0
    while time.perf_counter() - begin < seconds and not (until is not None and until.is_set()):
        await asyncio.sleep(max(0.0, begin + n / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(one()))
        n += 1
    await asyncio.gather(*tasks)
    return sorted(latencies)


async def probe(url: str, rate: float, seconds: float) -> None:
    """The ack probe, a process of its own (`--probe URL`): its timings are not delayed by the fakes,
    which serve the burst on the benchmark's loop. Stops after `seconds` or at the end of stdin;
    prints the latencies (s) as JSON."""
    from tests.conftest import SIGNING_SECRET
    from tests.fakes.signing import SlackRequestClient

    loop = asyncio.get_running_loop()
    ended = asyncio.Event()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)

    async def watch() -> None:
        await reader.read()
        ended.set()

    watcher = asyncio.create_task(watch())
    async with SlackRequestClient(url, SIGNING_SECRET) as client:
        latencies = await _ack_latencies(client, rate, seconds, ended)
    watcher.cancel()
    print(json.dumps(latencies))


async def _start_probe(url: str, rate: float, seconds: float):
    return await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--probe", url, "--ack-rate", str(rate), "--seconds", str(seconds),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=process_env({}),
    )


async def _probe_result(proc) -> list[float]:
    proc.stdin.close()
    out, _ = await proc.communicate()
    return json.loads(out)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _wait_ready(url: str, worker: bool, log_path: Path, timeout: float = 120) -> dict:  # noqa: ASYNC109
    import aiohttp

    deadline = time.perf_counter() + timeout
    async with aiohttp.ClientSession() as http:
        while time.perf_counter() < deadline:
            try:
                async with http.get(f"{url}/readyz") as response:
                    body = await response.json()
                    if response.status == 200 and (not worker or body["workflow_worker"]["state"] == "ready"):
                        return body
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit(f"Atom never became ready:\n{log_path.read_text()[-3000:]}")  # noqa: ASYNC240


async def bench_burst(
    due_count: int, ack_rate: float, runner: str, lead: float, atom_cpus: set[int] | None = None
) -> dict:
    """`atom run` as production runs it (its own process; with ATOM_WORKFLOW_RUNNER=worker its
    worker child too) against the fakes served here; acks measured by a probe process."""
    import os
    import signal
    from types import SimpleNamespace
    from zoneinfo import ZoneInfo

    from cryptography.fernet import Fernet
    from sqlalchemy import select

    from bot.config import load_settings
    from bot.identity import Person
    from bot.llm.keycheck import KeyCheck
    from bot.runtime import Runtime
    from bot.storage.encryption import Secret
    from bot.storage.models import WorkflowRun, utcnow
    from bot.workflows.timing import utc
    from tests.conftest import atom_env, provider_env
    from tests.connector_helpers import GOOGLE_ID, GOOGLE_SECRET, connect_google, connector_env
    from tests.fakes import google as g
    from tests.fakes.google import FakeGoogle
    from tests.fakes.providers import FakeProviders
    from tests.fakes.slack import FakeSlack
    from tests.keyhelpers import KEYS

    owners = [f"U{i:03d}" for i in range(OWNERS)]
    steps = [
        {"kind": "action", "id": "calendar", "action": "calendar.list_events", "params": {"day": "today"}},
        {"kind": "model", "id": "brief", "task": "summarize", "instruction": "Summarize my day.", "inputs": ["calendar"]},
    ]
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"  # the fake Google is plain http (tests do the same)
    with tempfile.TemporaryDirectory(prefix="atom-bench-") as tmp:
        async with FakeGoogle(GOOGLE_ID, GOOGLE_SECRET) as google, FakeSlack() as slack, FakeProviders() as providers:
            london = utcnow().astimezone(ZoneInfo("Europe/London")).replace(hour=11, minute=0, second=0, microsecond=0)
            google.events.append({"id": "e1", "status": "confirmed", "summary": "Design review",
                                  "start": {"dateTime": london.isoformat()},
                                  "end": {"dateTime": (london + timedelta(hours=1)).isoformat()}})
            port = _free_port()
            env = atom_env(slack.url, f"sqlite+aiosqlite:///{Path(tmp) / 'atom.db'}", Fernet.generate_key().decode(),
                           **provider_env(providers), **connector_env(google, None), ATOM_PORT=str(port),
                           ATOM_WORKFLOW_RUNNER=runner, ATOM_LOG_LEVEL="INFO")
            setup = await Runtime.open(load_settings(env))
            try:
                for owner in owners:
                    person = Person("", "T1", owner)
                    await setup.vault.save(person, "openai", Secret(KEYS["openai"]), {}, scope="personal",
                                           check=KeyCheck("ok", "checked"))
                    await connect_google(SimpleNamespace(google=google, runtime=setup), person, {g.CALENDAR_READ})
                due = utcnow().replace(microsecond=0) + timedelta(seconds=lead)
                spec = _spec_json(0)
                spec["steps"] = steps
                await _insert(setup.sessions, due_count, due, lambda _i: spec)
            finally:
                await setup.close()
            log_path = Path(tmp) / "atom.log"
            url = f"http://127.0.0.1:{port}"
            with open(log_path, "wb") as log:  # noqa: ASYNC230
                atom = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "bot", "run", "--http", env=process_env(env), stdout=log, stderr=log,
                    # --pin: Atom (and the worker it starts, which inherits this) on a CPU of its own
                    preexec_fn=(lambda: os.sched_setaffinity(0, atom_cpus)) if atom_cpus else None,
                )
            try:
                await _wait_ready(url, runner == "worker", log_path)
                ready_left = (due - utcnow()).total_seconds()
                # Idle: 5 s, ending 3 s before the burst (after both processes' litellm imports).
                await asyncio.sleep(max(0.0, ready_left - 9))
                idle_probe = await _start_probe(url, ack_rate, 5.0)
                await idle_probe.wait()  # it stops by itself after 5 s
                idle = await _probe_result(idle_probe)
                await asyncio.sleep(max(0.0, (due - utcnow()).total_seconds() - 2))
                burst_probe = await _start_probe(url, ack_rate, 600.0)
                check = await Runtime.open(load_settings(env), run_migrations=False)
                deadline = time.perf_counter() + 600
                try:
                    while time.perf_counter() < deadline:
                        async with check.sessions() as session:
                            result = await session.execute(
                                select(WorkflowRun.status, WorkflowRun.due_at, WorkflowRun.started_at,
                                       WorkflowRun.finished_at)
                            )
                            rows = result.all()
                        if len([r for r in rows if r.status != "running"]) >= due_count:
                            break
                        await asyncio.sleep(0.25)
                finally:
                    await check.close()
                burst = await _probe_result(burst_probe)
            finally:
                atom.send_signal(signal.SIGTERM)
                await asyncio.wait_for(atom.wait(), 120)
                # What Atom logged about the burst: the claims and the worker's batches.
                notes = [line for line in log_path.read_text().splitlines()  # noqa: ASYNC240
                         if "claimed and started" in line or "worker received" in line]
    delays = sorted((utc(r.started_at) - utc(r.due_at)).total_seconds() for r in rows if r.started_at)
    finishes = sorted((utc(r.finished_at) - utc(r.due_at)).total_seconds() for r in rows if r.finished_at)
    statuses: dict[str, int] = {}
    for row in rows:
        statuses[row.status] = statuses.get(row.status, 0) + 1
    return {
        "runner": runner,
        "due": due_count,
        "ready_seconds_before_due": ready_left,
        "statuses": statuses,
        "start_delay_p50_s": percentile(delays, 50),
        "start_delay_p99_s": percentile(delays, 99),
        "start_delay_max_s": delays[-1] if delays else float("nan"),
        "finish_p50_s": percentile(finishes, 50),
        "finish_p99_s": percentile(finishes, 99),
        "ack_idle_p99_ms": percentile(idle, 99) * 1000,
        "ack_idle_count": len(idle),
        "ack_burst_p50_ms": percentile(burst, 50) * 1000,
        "ack_burst_p99_ms": percentile(burst, 99) * 1000,
        "ack_burst_count": len(burst),
        "atom_log": notes,
    }


async def bench(args) -> dict:
    from bot.llm.runtime import load_litellm
    from bot.server import tune_gc

    tune_gc()
    load_litellm()  # as `atom run` does in the background before the first answer
    load = await bench_load(args.workflows) if args.workflows else None
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    pin = args.pin if args.pin is not None else len(cpus) >= 2
    atom_cpus = {cpus[-1]} if pin else None
    if pin:  # the fakes (this process) and the probe (its child) on the other CPUs
        os.sched_setaffinity(0, set(cpus[:-1]))
    burst = await bench_burst(args.due, args.ack_rate, args.runner, args.lead, atom_cpus)
    burst["pinned_atom_to"] = sorted(atom_cpus) if atom_cpus else None
    return {"load": load, "burst": burst}


def print_report(report: dict) -> None:
    load, burst = report["load"], report["burst"]
    if load is not None:
        print(f"load: {load['workflows']:,} workflows armed in {load['load_seconds']:.2f} s "
              f"(goal ≤ 5 s: {'met' if load['load_seconds'] <= 5 else 'NOT met'}), "
              f"+{load['memory_mb']:.1f} MB RSS, {load['traced_mb']:.1f} MB allocated and kept "
              f"(goal ≤ 100 MB: {'met' if max(load['memory_mb'], load['traced_mb']) <= 100 else 'NOT met'})")
    print(f"burst ({burst['runner']}): {burst['due']:,} runs due in the same second → {burst['statuses']} "
          f"(Atom ready {burst['ready_seconds_before_due']:.0f} s before)")
    if burst.get("pinned_atom_to"):
        print(f"  pinned: Atom and its worker on CPU {burst['pinned_atom_to']}, the fakes and the probe on the others")
    p99 = burst["start_delay_p99_s"]
    for line in burst.get("atom_log", []):
        print(f"  atom: {line}")
    print(f"  due → start p50 {burst['start_delay_p50_s']:.3f} s, p99 {p99:.3f} s, max {burst['start_delay_max_s']:.3f} s "
          f"(goal p99 ≤ 1 s: {'met' if p99 <= 1 else 'NOT met'}); due → finished p50 {burst['finish_p50_s']:.1f} s, "
          f"p99 {burst['finish_p99_s']:.1f} s")
    ratio = burst["ack_burst_p99_ms"] / burst["ack_idle_p99_ms"]
    print(f"  Slack acks p99: idle {burst['ack_idle_p99_ms']:.1f} ms, during the burst {burst['ack_burst_p99_ms']:.1f} ms "
          f"({ratio:.2f}×; goal ≤ 2×: {'met' if ratio <= 2 else 'NOT met'}; {burst['ack_idle_count']} idle and "
          f"{burst['ack_burst_count']} burst acks, burst p50 {burst['ack_burst_p50_ms']:.1f} ms)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflows", type=int, default=10_000)
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--ack-rate", type=float, default=20.0)
    parser.add_argument("--runner", choices=("worker", "inline"), default="worker",
                        help="ATOM_WORKFLOW_RUNNER for the burst (inline: runs on the loop that acks, as before)")
    parser.add_argument("--lead", type=float, default=45.0, help="seconds from writing the workflows to their due time")
    parser.add_argument(
        "--pin", action=argparse.BooleanOptionalAction, default=None,
        help="Atom's processes on the last CPU, the fakes (remote services in production) and the ack "
        "probe on the others (default: on with 2+ CPUs)",
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--probe", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=5.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        asyncio.run(probe(args.probe, args.ack_rate, args.seconds))
        return 0
    return run_and_report(bench, args, print_report)


if __name__ == "__main__":
    sys.exit(main())
