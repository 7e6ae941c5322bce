"""Load: signed DMs at a fixed rate to a running Atom whose model answers slowly.

What it measures
    A real Atom, run as in production (`python -m bot run --http`, HTTP mode, a temporary SQLite
    database) in a process of its own, wired to the fake Slack and the fake providers, which run
    in this script's process with its bookkeeping. Working OpenAI keys for `--users` people are
    stored through the vault before Atom starts. The fake OpenAI endpoint then answers *every*
    request after `--delay` seconds (`FakeProviders.fail_always("openai", Behaviour(delay=...))`,
    a persistent behaviour that delays and then answers normally, streamed).

    `--rate` signed `message.im` events per second for `--duration` seconds are POSTed to
    /slack/events on a fixed schedule (open loop: a slow answer never delays the next send). Each
    event has a unique event_id, its own DM channel and its own thread (thread_ts set, so Atom
    answers through the Assistant path and streams: title, status, chat.startStream / appendStream
    / stopStream). Bodies are built and signed before the run. By default the sender is a separate
    process (bench/ack_latency.py's LoadGenerator, one ClientSession), as Slack is not on Atom's
    event loop; `--client loop` sends from this script's loop instead.

    Measured:
    * ack latency - from just before each POST to its complete HTTP response, in the sender.
    * delivery - after the last ack, the script waits until every event's channel has had its
      chat.stopStream and nothing is in flight; or until nothing is in flight and nothing has
      happened for `--quiet` s (the rest failed); or at most `--drain-timeout` s (then the rest is
      still in flight and counted as not delivered); then 1 s more for late duplicates. Per channel
      it counts chat.stopStream calls (exactly one per event: none missing, none duplicated),
      chat.postMessage calls (a busy, error or fallback message instead of a stream), and whether
      the streamed text is the whole answer; each event without a reply is classed by the last
      Slack call its channel got. Errors in Atom's log are counted.
    * Atom's process - its CPU time per event (from /proc, first send to end of the drain), its
      peak RSS (VmHWM) and RSS before and after, its garbage collector pauses during the load, and
      a timeline every few seconds of acks, answers finished, replies in flight, answers waiting
      for a place and the start rate Atom allows (bot/admission.py), all read from its /metrics.

How to read the output
    Ack latency p50/p90/p99/max ms (goal p99 <= 100 ms), errors and how late the sender started
    sends ("sched lag"; large means the sender itself could not hold the rate). Delivery: events
    sent, channels with exactly one stop, missing, duplicated, with a postMessage, wrong text; the
    time from the first send to the last stop and the answer throughput (answers/s) against the
    offered rate: if throughput is below the rate, Atom fell behind and the backlog grew (see the
    timeline's "in flight" and "waiting"); the goal is that it still answers everyone exactly
    once and keeps acknowledging quickly. "CPU ms/event" x rate / 1000 is roughly how many cores'
    worth the work would need; one Python process is GIL-bound to about one. Timing never fails the
    script; it only reports. With the defaults the run takes about 30 s + the wait for the
    backlog (minutes on a 2-core machine; at most `--drain-timeout`) + ~10 s of start-up.

    `--in-process` runs Atom instead on this script's loop (`AtomServer`, as tests/conftest.py's
    AtomHarness does, keys stored through the key form), beside the fakes: its figures then
    include the fakes' CPU and heap (FakeSlack keeps every call, FakeProviders every request),
    and the process's peak RSS is `ru_maxrss`; in exchange it can show the loop's lag (how late a
    10 ms timer fires), every GC pause, listener errors by exception, and `--profile` (a cProfile
    of the loop thread, own time per event by library; profiling slows the loop). `atom run`'s
    garbage collector settings (bot/server.py) apply only to the default mode.

Run from the repo root: `python bench/load.py [--rate 200] [--duration 30] [--delay 2] [--in-process] [--json]`.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import json
import logging
import os
import pstats
import sys
import time
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bot.llm.runtime import set_offline_switches  # noqa: E402

set_offline_switches()  # before anything can import litellm

from bench._harness import (  # noqa: E402
    GcPauses,
    LoopLag,
    StreamRecorder,
    atom_stack,
    deep_size,
    own_time_by_package,
    peak_rss_mb,
    rss_mb,
    signed_dm,
)
from bench.ack_latency import LoadGenerator, Prepared, ServerProcess, free_port  # noqa: E402
from tests.fakes.payloads import next_ts  # noqa: E402
from tests.fakes.providers import Behaviour, FakeProviders  # noqa: E402
from tests.fakes.slack import FakeSlack  # noqa: E402

ACK_P99_GOAL_MS = 100.0
ANSWER = "Load test answer: every thread gets exactly one of these."


def in_flight(harness) -> int:
    """Replies Atom is working on (queued ones included: they hold their place from the ack)."""
    return harness.runtime.inflight.count


def prepare(count: int, users: list[str], tag: str) -> list[Prepared]:
    """Signed threaded DMs, each with its own event_id, DM channel and thread."""
    out = []
    for i in range(count):
        event = signed_dm(
            f"load test question {tag}{i}: what is the weather like?",
            user=users[i % len(users)],
            channel=f"D{tag}{i:07d}",
            thread_ts=next_ts(),
        )
        out.append(Prepared(event.body, event.headers, event.channel))
    return out


async def sample_timeline(harness, recorder: StreamRecorder, acked, interval: float, rows: list) -> None:
    start = time.perf_counter()
    answered_before = sum(recorder.stops.values())  # the warm-up's
    while True:
        await asyncio.sleep(interval)
        rows.append(
            {
                "t_s": round(time.perf_counter() - start, 1),
                "acked": acked(),
                "answered": sum(recorder.stops.values()) - answered_before,
                "in_flight": in_flight(harness),
                "rss_mb": round(rss_mb(), 1),
            }
        )


async def drain(
    busy, slack, providers, recorder: StreamRecorder, channels: list[str], timeout: float, quiet: float
) -> str:
    """Wait until every channel's stream stopped and nothing is in flight ("all"), or until nothing is
    in flight and nothing has changed for `quiet` seconds ("quiet": the rest failed), or `timeout`.
    `busy()` (awaitable) says how many replies are in flight."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last, changed = None, loop.time()
    while loop.time() < deadline:
        inflight = await busy()
        if inflight == 0 and all(recorder.stops.get(c) for c in channels):
            return "all"
        state = (inflight, len(slack.calls), len(providers.requests))
        if state != last:
            last, changed = state, loop.time()
        elif inflight == 0 and loop.time() - changed >= quiet:
            return "quiet"
        await asyncio.sleep(0.05)
    return "timeout"


class ListenerErrors(logging.Handler):
    """Counts the errors Atom's listeners log ("listener failed"), by exception type and the
    innermost Atom function on the way, instead of printing thousands of tracebacks."""

    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.by_kind: Counter = Counter()
        self.by_channel: dict[str, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        where, channel = "?", None
        if record.exc_info and record.exc_info[2] is not None:
            tb = record.exc_info[2]
            while tb is not None:
                frame = tb.tb_frame
                code = frame.f_code
                if f"{os.sep}bot{os.sep}" in code.co_filename and "storage" not in code.co_filename:
                    where = f"{Path(code.co_filename).stem}.{code.co_name}"
                    channel = channel or frame.f_locals.get("channel")
                tb = tb.tb_next
        kind = type(record.exc_info[1]).__name__ if record.exc_info else record.getMessage()[:60]
        self.by_kind[f"{kind} in {where}"] += 1
        if isinstance(channel, str):
            self.by_channel[channel] = f"{kind} in {where}"


async def warm_up_then_slow_model(
    args, load, url: str, users: list[str], busy, slack, providers, recorder: StreamRecorder, wait_s: float
) -> dict:
    """Sequential events answered by the fast model (first-call costs out of the way), then every
    record cleared and the fake model switched to `--delay` for the load."""
    warm = prepare(args.warmup, users, "W")
    statuses = await load.warm_up(url, warm, args.timeout)
    answered = await drain(busy, slack, providers, recorder, [q.channel for q in warm], wait_s, args.quiet)
    slack.reset()
    providers.clear()
    providers.fail_always("openai", Behaviour(delay=args.delay))
    return {"events": args.warmup, "statuses": dict(statuses), "all_answered": answered == "all"}


LAST_CALLS = (
    "assistant.threads.setTitle",
    "assistant.threads.setStatus",
    "chat.startStream",
    "chat.appendStream",
)


def last_slack_call(seen: Counter) -> str:
    """How far an event without a reply got: the last step of the streamed answer Slack saw."""
    return next((m for m in reversed(LAST_CALLS) if seen[m]), "nothing")


def delivery_figures(
    slack,
    recorder: StreamRecorder,
    providers,
    channels: list[str],
    why_missing,
    *,
    wall_start,
    sending_done,
    drain_done,
) -> dict:
    """Per channel (one per event): exactly one chat.stopStream with the whole answer, or what
    happened instead (`why_missing(channel, calls_seen)` names it)."""
    per_channel: dict[str, Counter] = {}
    for call in slack.calls:
        per_channel.setdefault(call.params.get("channel") or "", Counter())[call.method] += 1
    stops = [recorder.stops.get(c, 0) for c in channels]
    missing = [c for c in channels if not recorder.stops.get(c)]
    last_stop = recorder.last_stop or drain_done
    return {
        "events": len(channels),
        "exactly_one_stop": sum(1 for n in stops if n == 1),
        "missing": len(missing),
        "missing_last_slack_call": dict(
            Counter(why_missing(c, per_channel.get(c, Counter())) for c in missing)
        ),
        "duplicated": sum(1 for n in stops if n > 1),
        "with_post_message": sum(1 for c in channels if per_channel.get(c, Counter())["chat.postMessage"]),
        "wrong_text": sum(1 for c in channels if recorder.stops.get(c) and recorder.text.get(c) != ANSWER),
        "provider_requests": len(providers.requests_for("openai")),
        "send_s": sending_done - wall_start,
        "first_send_to_last_stop_s": last_stop - wall_start,
        "after_last_ack_to_drain_end_s": drain_done - sending_done,
        "answers_per_s": sum(1 for n in stops if n) / max(last_stop - wall_start, 1e-9),
        "slack_calls": dict(Counter(c.method for c in slack.calls)),
    }


def goals(report: dict) -> dict:
    d = report["delivery"]
    return {
        "ack_p99_within_100ms": report["ack"]["p99_ms"] <= ACK_P99_GOAL_MS,
        "every_reply_exactly_once": d["exactly_one_stop"] == d["events"]
        and d["with_post_message"] == 0
        and d["wrong_text"] == 0,
    }


def run_header(args: argparse.Namespace, mode: str) -> tuple[dict, list[str]]:
    """The run's settings for the report, and the people who send."""
    report = {
        "mode": mode,
        "rate": args.rate,
        "duration_s": args.duration,
        "delay_s": args.delay,
        "users": args.users,
        "client": args.client,
        "quiet_s": args.quiet,
        "load_average_start": os.getloadavg()[0],
    }
    return report, [f"U0LOAD{i:04d}" for i in range(args.users)]


async def bench(args: argparse.Namespace) -> dict:
    report, users = run_header(args, "in-process")
    providers = FakeProviders(chunk_size=args.chunk_size)
    providers.reply["openai"] = ANSWER
    events = int(args.rate * args.duration)
    errors = ListenerErrors()
    app_log = logging.getLogger("bot.app")
    app_log.addHandler(errors)
    app_log.propagate = args.verbose  # tracebacks only when asked; they are counted either way
    script_start = time.perf_counter()
    async with (
        LoadGenerator(args.client, args.connections) as load,
        atom_stack(providers, users=users, ATOM_LLM_TIMEOUT=str(args.llm_timeout)) as harness,
    ):
        slack = harness.slack
        registry = harness.runtime.metrics.registry
        recorder = StreamRecorder(slack)
        url = f"{harness.url}/slack/events"

        async def busy() -> int:
            return in_flight(harness)

        # Warm-up with the fast provider: Bolt's lazy auth.test, litellm, SQLite, first-call caches.
        report["warmup"] = await warm_up_then_slow_model(
            args, load, url, users, busy, slack, providers, recorder, wait_s=30.0
        )
        errors.by_kind.clear()

        requests = prepare(events, users, "L")  # signed now: Bolt accepts +-5 minutes
        channels = [q.channel for q in requests]
        gc.collect()
        report["rss_before_mb"] = rss_mb()
        timeline: list[dict] = []
        acks_before = registry.get_sample_value("atom_slack_acks_total") or 0

        def acked() -> float:
            return (registry.get_sample_value("atom_slack_acks_total") or 0) - acks_before

        lag = LoopLag().start()
        gc_pauses = GcPauses().start()
        sampler = asyncio.create_task(sample_timeline(harness, recorder, acked, args.sample_every, timeline))
        profiler = cProfile.Profile() if args.profile else None
        report["setup_s"] = time.perf_counter() - script_start
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        try:
            if profiler is not None:
                profiler.enable()
            result = await load.run("atom", url, requests, args.rate, args.timeout)
            sending_done = time.perf_counter()
            drained = await drain(busy, slack, providers, recorder, channels, args.drain_timeout, args.quiet)
            drain_done = time.perf_counter()
            if profiler is not None:
                profiler.disable()
                report["profile_ms_per_event"] = dict(
                    sorted(own_time_by_package(profiler, events).items(), key=lambda kv: -kv[1])
                )
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(20)
                report["profile_top_functions"] = out.getvalue()
            await asyncio.sleep(1.0)  # late duplicate stops would show up here
        finally:
            sampler.cancel()
            await asyncio.gather(sampler, return_exceptions=True)
            loop_lag = await lag.stop()
            report["gc"] = gc_pauses.stop()
        cpu = time.process_time() - cpu_start

        report["ack"] = result.summary()
        report["delivery"] = delivery_figures(
            slack,
            recorder,
            providers,
            channels,
            lambda c, seen: f"{last_slack_call(seen)}; {errors.by_channel.get(c, 'no error logged')}",
            wall_start=wall_start,
            sending_done=sending_done,
            drain_done=drain_done,
        ) | {
            "drain": drained,
            "in_flight_at_end": in_flight(harness),
            "listener_errors": dict(errors.by_kind.most_common()),
            "duplicate_events": registry.get_sample_value("atom_duplicate_events_total") or 0,
        }
        report["server_cpu_ms_per_event"] = cpu * 1000 / events
        report["loop_lag_ms"] = loop_lag
        report["timeline"] = timeline
        gc.collect()
        report["rss_after_mb"] = rss_mb()
        report["peak_rss_mb"] = peak_rss_mb()
        report["fakes_retained"] = {
            "slack_calls": len(slack.calls),
            "slack_calls_mb": deep_size(slack.calls) / 2**20,
            "slack_transcript_mb": len(slack.all_text()) / 2**20,
            "provider_requests": len(providers.requests),
            "provider_requests_mb": deep_size(providers.requests) / 2**20,
        }
        teardown_start = time.perf_counter()
        if in_flight(harness):
            # Shutting down with replies in flight cancels them mid-call (and asyncio.run cancels what
            # is left); that noise is not a finding. main() turns logging back on.
            logging.disable(logging.CRITICAL)
    app_log.removeHandler(errors)
    report["goals"] = goals(report)
    report["teardown_s"] = time.perf_counter() - teardown_start
    report["load_average_end"] = os.getloadavg()[0]
    return report


class AtomProcess(ServerProcess):
    """Atom as it runs in production (`python -m bot run --http`), its log kept in a file."""

    def __init__(self, env: dict[str, str], port: int, log_path: Path):
        super().__init__([sys.executable, "-m", "bot", "run", "--http"], env, port, str(REPO_ROOT), log_path)

    def memory_mb(self) -> tuple[float, float]:
        """(current RSS, peak RSS) of the Atom process, from /proc."""
        fields = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            fields[name] = value.strip()
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024

    async def gc_pauses(self) -> dict:
        """The Atom process's garbage collector pauses so far, from its /metrics."""
        import aiohttp

        async with aiohttp.ClientSession() as http, http.get(f"{self.url}/metrics") as r:
            text = await r.text()
        pauses: dict = {}
        for line in text.splitlines():
            for field in ("count", "sum"):
                prefix = f'atom_gc_pause_seconds_{field}{{generation="'
                if line.startswith(prefix):
                    generation = line[len(prefix) :].split('"', 1)[0]
                    pauses.setdefault(f"gen{generation}", {})[field] = float(line.split()[-1])
            if line.startswith("atom_gc_pause_max_seconds "):
                pauses["max_ms"] = float(line.split()[-1]) * 1000
        return pauses

    def logged_errors(self) -> Counter:
        counts: Counter = Counter()
        for line in self.log_path.read_text(errors="replace").splitlines():
            if " ERROR " in line or line.startswith("ERROR"):
                counts[line.split(" ERROR ", 1)[-1][:80]] += 1
        return counts


async def store_keys(database_url: str, encryption_key: str, users: list[str]) -> None:
    """Working OpenAI keys for `users`, stored through the vault before Atom starts."""
    from bot.identity import Person
    from bot.storage import migrate
    from bot.storage.encryption import Crypto, Secret
    from bot.storage.engine import create_engine, session_factory
    from bot.vault import KeyVault
    from tests.fakes.payloads import TEAM_ID
    from tests.keyhelpers import OPENAI_KEY

    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        vault = KeyVault(session_factory(engine), Crypto([encryption_key]))
        for user in users:
            await vault.save(
                Person("", TEAM_ID, user), "openai", Secret(OPENAI_KEY), {}, scope="personal", check=None
            )
    finally:
        await engine.dispose()


async def bench_process(args: argparse.Namespace) -> dict:
    """As `bench`, with Atom in a process of its own (the fakes and the sender stay out of its
    event loop, its heap and its CPU figure); loop lag, GC pauses and the profile are not
    available from outside, in-flight and acks come from its /metrics."""
    import tempfile

    from cryptography.fernet import Fernet

    from tests.conftest import atom_env, provider_env

    report, users = run_header(args, "process")
    events = int(args.rate * args.duration)
    script_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="atom-load-") as tmp:
        providers = FakeProviders(chunk_size=args.chunk_size)
        providers.reply["openai"] = ANSWER
        async with FakeSlack() as slack, providers, LoadGenerator(args.client, args.connections) as load:
            database = f"sqlite+aiosqlite:///{Path(tmp) / 'atom.db'}"
            key = Fernet.generate_key().decode()
            await store_keys(database, key, users)
            port = free_port()
            env = atom_env(
                slack.url,
                database,
                key,
                **provider_env(providers),
                ATOM_PORT=str(port),
                ATOM_LLM_TIMEOUT=str(args.llm_timeout),
                ATOM_LOG_LEVEL="WARNING",
            )
            atom = await AtomProcess(env, port, Path(tmp) / "atom.log").start()
            try:
                recorder = StreamRecorder(slack)
                url = f"{atom.url}/slack/events"

                async def in_flight() -> int:
                    return int(await atom.metric("atom_inflight_work"))

                report["warmup"] = await warm_up_then_slow_model(
                    args, load, url, users, in_flight, slack, providers, recorder, wait_s=60.0
                )
                requests = prepare(events, users, "L")
                channels = [q.channel for q in requests]
                acks_before = await atom.metric("atom_slack_acks_total")
                report["rss_before_mb"], _ = atom.memory_mb()
                timeline: list[dict] = []

                async def sample() -> None:
                    start = time.perf_counter()
                    while True:
                        await asyncio.sleep(args.sample_every)
                        timeline.append(
                            {
                                "t_s": round(time.perf_counter() - start, 1),
                                "acked": await atom.metric("atom_slack_acks_total") - acks_before,
                                "answered": sum(recorder.stops.values()),
                                "in_flight": await in_flight(),
                                "rss_mb": round(atom.memory_mb()[0], 1),
                                "waiting": int(await atom.metric("atom_answers_waiting")),
                                "rate": round(await atom.metric("atom_answers_start_rate"), 1),
                            }
                        )

                report["setup_s"] = time.perf_counter() - script_start
                sampler = asyncio.create_task(sample())
                gc_before = await atom.gc_pauses()
                atom_cpu, bench_cpu = atom.cpu_s(), time.process_time()
                wall_start = time.perf_counter()
                try:
                    result = await load.run("atom", url, requests, args.rate, args.timeout)
                    sending_done = time.perf_counter()
                    drained = await drain(
                        in_flight, slack, providers, recorder, channels, args.drain_timeout, args.quiet
                    )
                    drain_done = time.perf_counter()
                    await asyncio.sleep(1.0)  # late duplicate stops would show up here
                finally:
                    sampler.cancel()
                    await asyncio.gather(sampler, return_exceptions=True)
                atom_cpu = atom.cpu_s() - atom_cpu
                bench_cpu = time.process_time() - bench_cpu
                gc_after = await atom.gc_pauses()
                report["atom_gc"] = {
                    gen: {
                        "count": int(gc_after[gen].get("count", 0) - gc_before.get(gen, {}).get("count", 0)),
                        "total_ms": (gc_after[gen].get("sum", 0) - gc_before.get(gen, {}).get("sum", 0))
                        * 1000,
                    }
                    for gen in sorted(k for k in gc_after if k.startswith("gen"))
                } | {"longest_ms_since_start": gc_after.get("max_ms", 0.0)}
                report["ack"] = result.summary()
                report["delivery"] = delivery_figures(
                    slack,
                    recorder,
                    providers,
                    channels,
                    lambda _c, seen: (
                        "a chat.postMessage (Atom said it was busy or failed)"
                        if seen["chat.postMessage"]
                        else last_slack_call(seen)
                    ),
                    wall_start=wall_start,
                    sending_done=sending_done,
                    drain_done=drain_done,
                ) | {
                    "drain": drained,
                    "in_flight_at_end": await in_flight(),
                    "listener_errors": dict(atom.logged_errors().most_common(10)),
                    "duplicate_events": await atom.metric("atom_duplicate_events_total"),
                }
                report["server_cpu_ms_per_event"] = atom_cpu * 1000 / events
                report["bench_cpu_ms_per_event"] = bench_cpu * 1000 / events
                report["rss_after_mb"], report["peak_rss_mb"] = atom.memory_mb()
                report["timeline"] = timeline
                teardown_start = time.perf_counter()
            finally:
                await atom.stop()
    report["goals"] = goals(report)
    report["teardown_s"] = time.perf_counter() - teardown_start
    report["load_average_end"] = os.getloadavg()[0]
    return report


def print_report(r: dict) -> None:
    yes = {True: "yes", False: "NO"}
    sender = "a separate process" if r["client"] == "process" else "the bench's own event loop"
    print(
        f"Load: {r['rate']:g} signed threaded DMs/s for {r['duration_s']:g} s (open loop, sent from {sender}), "
        f"{r['users']} people, fake OpenAI answering each after {r['delay_s']:g} s"
        + (
            ", Atom in its own process."
            if r.get("mode") == "process"
            else ", Atom on the bench's loop beside the fakes."
        )
    )
    print(
        f"Warm-up: {r['warmup']['events']} events, statuses {r['warmup']['statuses']}, "
        f"all answered {yes[r['warmup']['all_answered']]}. "
        f"Load average {r['load_average_start']:.2f} -> {r['load_average_end']:.2f}."
    )
    a = r["ack"]
    print()
    print(
        f"Ack latency: p50 {a['p50_ms']:.2f} ms, p90 {a['p90_ms']:.2f} ms, p99 {a['p99_ms']:.2f} ms, "
        f"max {a['max_ms']:.2f} ms over {a['count']} events; errors {a['errors']} {a['statuses']} {a['exceptions'] or ''}"
    )
    print(f"  sched lag p99 {a['sched_lag_p99_ms']:.2f} ms, offered rate {a['offered_rate']:.1f}/s")
    print(
        f"  goal p99 <= {ACK_P99_GOAL_MS:.0f} ms: {'met' if r['goals']['ack_p99_within_100ms'] else 'NOT met'}"
    )
    d = r["delivery"]
    print()
    print(
        f"Delivery: {d['events']} events; exactly one chat.stopStream {d['exactly_one_stop']}, missing {d['missing']}, "
        f"duplicated {d['duplicated']}, with a chat.postMessage {d['with_post_message']}, wrong text {d['wrong_text']}"
    )
    drain_end = {
        "all": "every reply arrived",
        "quiet": f"nothing in flight and no activity for {r['quiet_s']:g} s (the rest had failed)",
        "timeout": f"--drain-timeout ran out with {d['in_flight_at_end']} replies still in flight",
    }[d["drain"]]
    print(f"  waiting ended: {drain_end}")
    if d["missing"]:
        print("  events without a reply, by the last Slack call they got and their listener's error:")
        for what, n in d["missing_last_slack_call"].items():
            print(f"    {n:>6}  {what}")
    if d["listener_errors"]:
        print("  listener errors (exception in Atom's innermost function):")
        for kind, n in d["listener_errors"].items():
            print(f"    {n:>6}  {kind}")
    print(f"  every reply delivered exactly once: {yes[r['goals']['every_reply_exactly_once']]}")
    print(
        f"  sending took {d['send_s']:.1f} s; first send -> last stop {d['first_send_to_last_stop_s']:.1f} s; "
        f"last ack -> end of wait {d['after_last_ack_to_drain_end_s']:.1f} s; answers {d['answers_per_s']:.1f}/s "
        f"vs offered {r['rate']:g}/s"
    )
    print(f"  provider requests {d['provider_requests']}; redeliveries skipped {d['duplicate_events']:.0f}")
    print(f"  Slack calls: {d['slack_calls']}")
    print()
    if r.get("mode") == "process":
        print(
            f"Atom ran in a process of its own: its CPU {r['server_cpu_ms_per_event']:.2f} ms/event "
            f"(x rate = {r['server_cpu_ms_per_event'] * r['rate'] / 1000:.2f} cores' worth; one process "
            f"is GIL-bound to about 1), the fakes' and this script's {r['bench_cpu_ms_per_event']:.2f} ms/event."
        )
        g = r["atom_gc"]
        print(
            "Garbage collector pauses in Atom during the load: "
            + ", ".join(
                f"{k}: {v['count']} runs, {v['total_ms']:.0f} ms in all"
                for k, v in g.items()
                if k.startswith("gen")
            )
            + f"; longest since start {g['longest_ms_since_start']:.1f} ms"
        )
        print(
            f"Memory of the Atom process: peak RSS {r['peak_rss_mb']:.0f} MB (VmHWM); RSS before load "
            f"{r['rss_before_mb']:.0f} MB, after drain {r['rss_after_mb']:.0f} MB."
        )
        print(
            f"Script: set-up (fakes, keys, Atom process, sender process, warm-up) {r['setup_s']:.1f} s, "
            f"shutdown {r['teardown_s']:.1f} s."
        )
    else:
        lag = r["loop_lag_ms"]
        print(
            f"Event loop lag (10 ms timer): p50 {lag['p50']:.1f} ms, p99 {lag['p99']:.1f} ms, max {lag['max']:.1f} ms; "
            f"server CPU {r['server_cpu_ms_per_event']:.2f} ms/event "
            f"(x rate = {r['server_cpu_ms_per_event'] * r['rate'] / 1000:.2f} cores' worth)"
        )
        print(
            f"Script: set-up (fakes, Atom, keys, sender process, warm-up) {r['setup_s']:.1f} s, "
            f"shutdown {r['teardown_s']:.1f} s."
        )
        g = r["gc"]
        print(
            "Garbage collector pauses during the load: "
            + ", ".join(
                f"gen {k[-1]}: {v['count']} runs, {v['total_ms']:.0f} ms in all, max {v['max_ms']:.1f} ms"
                for k, v in g.items()
            )
        )
        f = r["fakes_retained"]
        print(
            f"Memory: peak RSS {r['peak_rss_mb']:.0f} MB (ru_maxrss); RSS before load {r['rss_before_mb']:.0f} MB, "
            f"after drain {r['rss_after_mb']:.0f} MB."
        )
        fakes_mb = f["slack_calls_mb"] + f["slack_transcript_mb"] + f["provider_requests_mb"]
        print(
            f"  The fakes share this process and keep everything: FakeSlack {f['slack_calls']} calls "
            f"({f['slack_calls_mb']:.1f} MB) and a {f['slack_transcript_mb']:.1f} MB transcript, FakeProviders "
            f"{f['provider_requests']} requests ({f['provider_requests_mb']:.1f} MB): about {fakes_mb:.0f} MB of the "
            "growth is theirs (Python object sizes; allocator overhead comes on top)."
        )
    if r.get("profile_ms_per_event"):
        print()
        print(
            "cProfile of the event-loop thread during the load and the wait, own time per event by library:"
        )
        for package, ms in list(r["profile_ms_per_event"].items())[:15]:
            print(f"    {package:<66} {ms:>7.2f} ms")
        print("Top functions by own time (whole run):")
        print(r["profile_top_functions"])
    print()
    admission = bool(r["timeline"]) and "rate" in r["timeline"][0]
    print(
        f"{'t s':>6} {'acked':>7} {'answered':>9} {'in flight':>10} {'RSS MB':>8}"
        + (f" {'waiting':>8} {'starts/s':>9}" if admission else "")
    )
    for row in r["timeline"]:
        print(
            f"{row['t_s']:>6.1f} {row['acked']:>7.0f} {row['answered']:>9} {row['in_flight']:>10} {row['rss_mb']:>8.1f}"
            + (f" {row['waiting']:>8} {row['rate']:>9.1f}" if admission else "")
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Signed DMs at a fixed rate to a real Atom with a slow model (see the module docstring)."
    )
    parser.add_argument("--rate", type=float, default=200.0, help="events per second (default 200)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of sending (default 30)")
    parser.add_argument(
        "--delay", type=float, default=2.0, help="fake model's delay before answering (default 2)"
    )
    parser.add_argument("--users", type=int, default=10, help="people sending, each with a key (default 10)")
    parser.add_argument("--warmup", type=int, default=20, help="sequential warm-up events (default 20)")
    parser.add_argument(
        "--chunk-size", type=int, default=20, help="characters per streamed chunk (default 20)"
    )
    parser.add_argument(
        "--client",
        choices=("process", "loop"),
        default="process",
        help="send from a separate process (default) or from this script's own event loop",
    )
    parser.add_argument(
        "--connections", type=int, default=1000, help="sender connection limit (default 1000)"
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="per-POST timeout in s (default 30)")
    parser.add_argument(
        "--llm-timeout", type=float, default=120.0, help="Atom's model-call timeout (default 120)"
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=300.0,
        help="max wait for all replies after the last ack (default 300: a 30 s burst leaves minutes of answers)",
    )
    parser.add_argument(
        "--quiet",
        type=float,
        default=3.0,
        help="stop waiting after this many idle seconds with nothing in flight",
    )
    parser.add_argument("--verbose", action="store_true", help="print listener tracebacks as they happen")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="with --in-process: cProfile the loop thread during the load (slows it down)",
    )
    parser.add_argument("--sample-every", type=float, default=5.0, help="timeline interval in s (default 5)")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run Atom on this script's loop beside the fakes (default: `python -m bot run --http` in a "
        "process of its own, as in production)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead")
    args = parser.parse_args(argv)
    if (
        args.rate <= 0
        or args.duration <= 0
        or args.delay < 0
        or args.users < 1
        or args.warmup < 1
    ):
        parser.error("--rate, --duration, --users, --warmup must be positive; --delay not negative")
    logging.basicConfig(level=logging.WARNING)
    try:
        report = asyncio.run(bench(args) if args.in_process else bench_process(args))
    finally:
        logging.disable(logging.NOTSET)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print_report(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
