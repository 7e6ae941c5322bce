"""Ack latency of Atom's HTTP endpoint under open-loop load, against a bare slack-bolt app.

What it measures
    N signed `message.im` events per target (real Events API bodies from `tests.fakes.payloads`,
    each with a unique event_id and its own DM channel, from `--people` senders in turn, signed
    with Slack's v0 scheme like `tests.fakes.signing`) are POSTed to `/slack/events` at a fixed
    rate. Sends are scheduled at fixed times (open loop): a slow response never delays the next
    send. Latency is the time from
    just before the POST to the complete HTTP response. Two targets:

    * bare - a slack-bolt `AsyncApp` whose only listener acks the `message` event and does
      nothing else, served by `app.web_app(path="/slack/events")` on its own aiohttp runner.
      This is the floor: Bolt's signature check, parsing and dispatch, plus aiohttp.
    * atom - the real Atom (`python -m bot run --http`) on a temporary SQLite database. Its work
      after the ack (claiming the event id, looking up the person's keys, answering with
      `chat.postMessage`) runs on the same event loop and competes with later acks, as in
      production.

    With the default 97 people, after each person's first event their keys come from Atom's
    per-person read cache (bot/readcache.py); `--people` at least `--events` makes every lookup a
    database read.

    By default each server runs in a process of its own, and the fake Slack (which answers
    Atom's calls) in another; `--in-process` runs both servers on the bench's own loop beside the
    fake Slack instead, whose cost then counts in Atom's figures. Both use the same fake Slack
    base URL and signing secret. Both are warmed up first (Bolt's lazy `auth.test`, SQLite connections,
    first-call imports). Only one target is under load at any time: the events are sent in
    `--rounds` segments alternating bare/atom (ABBA order, so drift and noise from other
    processes hit both alike), and Atom's replies are drained before the other target's segment.

    By default the load comes from a separate process (`--client process`), as Slack is not on
    Atom's event loop; `--client loop` sends from the servers' own loop instead (one shared
    ClientSession in both cases). That adds the generator's CPU to every figure and, worse, a
    busy loop then delays the sends themselves (see "sched lag"), which hides queueing: the
    separate process shows what Slack would see.

How to read the output
    One line per target: events sent, errors (non-200 answers plus transport failures), ack
    latency p50/p90/p99/max in ms, "sched lag p99" (how late the generator started sends; if large
    the generator could not hold the offered rate), the rate actually offered, and "server CPU
    ms/event": CPU time of this process (all threads: servers, fake Slack, SQLite worker) per event
    during the segments and Atom's drain. CPU ms/event x rate / 1000 is roughly how busy the event
    loop was (it is GIL-bound); near 1.0 acks queue behind other work and p99 grows sharply.
    Then the ratio atom p99 / bare p99 and whether the goals hold (atom p99 <= 1.5 x bare p99,
    atom p99 <= 100 ms), and how many `chat.postMessage` calls Atom made after a drain wait: the
    goal is exactly one per event (each event has its own channel, so channels with no reply or
    several replies are counted). Timing never fails the script; it only reports. p99 of a
    few-ms figure is sensitive to other processes on the machine: check `uptime` and compare runs.

Run from the repo root: `python bench/ack_latency.py [--events 2000] [--rate 200] [--json]`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import multiprocessing
import os
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench._common import percentile, run_and_report  # noqa: E402
from bot.llm.runtime import set_offline_switches  # noqa: E402

set_offline_switches()  # before anything can import litellm

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from slack_bolt.async_app import AsyncApp  # noqa: E402
from slack_sdk.web.async_client import AsyncWebClient  # noqa: E402

from bot.config import load_settings  # noqa: E402
from bot.server import AtomServer  # noqa: E402
from tests.fakes.payloads import event_callback, message_im_event, next_id  # noqa: E402
from tests.fakes.signing import sign  # noqa: E402
from tests.fakes.slack import FakeSlack  # noqa: E402

SIGNING_SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench-bot-token"
P99_RATIO_GOAL = 1.5
P99_ABSOLUTE_GOAL_MS = 100.0
TARGETS = ("bare", "atom")


# ---------------------------------------------------------------------------------------------
# Requests and results
# ---------------------------------------------------------------------------------------------


@dataclass
class Prepared:
    """A request body and its headers, built and signed before the timed run."""

    body: bytes
    headers: dict[str, str]
    channel: str


@dataclass
class RunResult:
    """What one target's segments measured (segments are merged into one result per target)."""

    name: str
    sent: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    exceptions: Counter = field(default_factory=Counter)
    sched_lag_ms: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    cpu_s: float = 0.0

    def merge(self, other: RunResult) -> None:
        self.sent += other.sent
        self.latencies_ms += other.latencies_ms
        self.statuses += other.statuses
        self.exceptions += other.exceptions
        self.sched_lag_ms += other.sched_lag_ms
        self.wall_s += other.wall_s
        self.cpu_s += other.cpu_s

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != 200) + sum(self.exceptions.values())

    def summary(self) -> dict:
        lat = sorted(self.latencies_ms)
        lag = sorted(self.sched_lag_ms)
        return {
            "count": self.sent,
            "errors": self.errors,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "exceptions": dict(self.exceptions),
            "p50_ms": percentile(lat, 50),
            "p90_ms": percentile(lat, 90),
            "p99_ms": percentile(lat, 99),
            "max_ms": lat[-1] if lat else math.nan,
            "sched_lag_p99_ms": percentile(lag, 99),
            "offered_rate": self.sent / self.wall_s if self.wall_s else math.nan,
            "server_cpu_ms_per_event": self.cpu_s * 1000 / self.sent if self.sent else math.nan,
        }


PEOPLE = 97  # distinct senders, cycled (--people)


def prepare(count: int, tag: str, first: int = 0, people: int = PEOPLE) -> list[Prepared]:
    """Signed `message.im` event_callback bodies, one DM channel and event_id per event, from
    `people` distinct senders in turn.

    Signed with the current time, which Bolt accepts for 5 minutes: sign just before sending.
    """
    timestamp = str(int(time.time()))
    out = []
    for i in range(first, first + count):
        channel = f"D{tag}{i:07d}"
        event = message_im_event(f"benchmark message {i}", user=f"U{tag}{i % people:07d}", channel=channel)
        body = json.dumps(
            event_callback(event, event_id=next_id(f"Ev{tag}"), event_time=int(timestamp))
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": sign(SIGNING_SECRET, timestamp, body),
        }
        out.append(Prepared(body, headers, channel))
    return out


# ---------------------------------------------------------------------------------------------
# Load generation
# ---------------------------------------------------------------------------------------------


async def post_once(session: aiohttp.ClientSession, url: str, req: Prepared, timeout: float) -> int:
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with session.post(url, data=req.body, headers=req.headers, timeout=client_timeout) as resp:
        await resp.read()
        return resp.status


async def warm_up(
    session: aiohttp.ClientSession, url: str, requests: list[Prepared], timeout: float
) -> Counter:
    """Send `requests` one by one (the first one pays for Bolt's lazy auth.test); count the answers."""
    statuses: Counter = Counter()
    for req in requests:
        try:
            statuses[await post_once(session, url, req, timeout)] += 1
        except Exception as exc:  # a benchmark records failures, it does not stop on them
            statuses[type(exc).__name__] += 1
    return statuses


async def open_loop(
    name: str, session: aiohttp.ClientSession, url: str, requests: list[Prepared], rate: float, timeout: float
) -> RunResult:
    """Fire `requests` at `rate` per second on a fixed schedule and time each response."""
    result = RunResult(name)
    loop = asyncio.get_running_loop()

    async def one(req: Prepared, scheduled: float) -> None:
        started = time.perf_counter()
        result.sched_lag_ms.append((loop.time() - scheduled) * 1000)
        try:
            status = await post_once(session, url, req, timeout)
        except Exception as exc:
            result.exceptions[type(exc).__name__] += 1
            return
        result.latencies_ms.append((time.perf_counter() - started) * 1000)
        result.statuses[status] += 1

    gc.collect()
    interval = 1.0 / rate
    tasks = []
    start = loop.time() + 0.02
    wall_start = time.perf_counter()
    for i, req in enumerate(requests):
        scheduled = start + i * interval
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(req, scheduled)))
        result.sent += 1
    await asyncio.gather(*tasks)
    result.wall_s = time.perf_counter() - wall_start
    return result


def _new_session(connections: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections, limit_per_host=0))


_worker: dict = {}  # the load-generator process's own loop and session, kept across calls


def client_process_call(kind: str, *args):
    """Runs in the load-generator process (`--client process`): "warmup", "run" or "close"."""
    if "loop" not in _worker:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)

        async def make() -> aiohttp.ClientSession:
            return _new_session(args[-1])

        _worker["loop"], _worker["session"] = loop, loop.run_until_complete(make())
    loop, session = _worker["loop"], _worker["session"]
    if kind == "warmup":
        url, requests, timeout, _connections = args
        return loop.run_until_complete(warm_up(session, url, requests, timeout))
    if kind == "run":
        name, url, requests, rate, timeout, _connections = args
        return loop.run_until_complete(open_loop(name, session, url, requests, rate, timeout))
    loop.run_until_complete(session.close())
    return None


def _worker_ready() -> int:
    return os.getpid()


class LoadGenerator:
    """Sends the load from this event loop (one shared session) or from a child process."""

    def __init__(self, mode: str, connections: int):
        self.mode = mode
        self.connections = connections
        self._session: aiohttp.ClientSession | None = None
        self._pool: ProcessPoolExecutor | None = None

    async def __aenter__(self) -> LoadGenerator:
        if self.mode == "loop":
            self._session = _new_session(self.connections)
        else:
            self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
            # Start the worker now, so its interpreter start-up is not inside any measurement.
            await asyncio.get_running_loop().run_in_executor(self._pool, _worker_ready)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()
        if self._pool is not None:
            await self._call("close")
            self._pool.shutdown()

    async def _call(self, kind: str, *args):
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, client_process_call, kind, *args, self.connections
        )

    async def warm_up(self, url: str, requests: list[Prepared], timeout: float) -> Counter:
        if self._session is not None:
            return await warm_up(self._session, url, requests, timeout)
        return await self._call("warmup", url, requests, timeout)

    async def run(
        self, name: str, url: str, requests: list[Prepared], rate: float, timeout: float
    ) -> RunResult:
        if self._session is not None:
            return await open_loop(name, self._session, url, requests, rate, timeout)
        return await self._call("run", name, url, requests, rate, timeout)


# ---------------------------------------------------------------------------------------------
# Targets
# ---------------------------------------------------------------------------------------------


async def start_bare(slack: FakeSlack) -> tuple[web.AppRunner, str]:
    app = AsyncApp(client=AsyncWebClient(token=BOT_TOKEN, base_url=slack.url), signing_secret=SIGNING_SECRET)

    @app.event("message")
    async def ack_only(ack):
        await ack()

    runner = web.AppRunner(app.web_app(path="/slack/events"), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"


async def start_atom(slack: FakeSlack, tmp: str) -> AtomServer:
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.url,
        "ATOM_DATABASE_URL": f"sqlite+aiosqlite:///{Path(tmp) / 'atom.db'}",
        "ATOM_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ATOM_PORT": "3000",
    }
    server = AtomServer(load_settings(env), host="127.0.0.1", port=0)
    await server.start()
    return server


async def drain_replies(slack: FakeSlack, server: AtomServer, expected: int, timeout: float) -> float:
    """Wait until Atom made `expected` chat.postMessage calls and has nothing in flight."""
    started = time.perf_counter()
    deadline = started + timeout
    while time.perf_counter() < deadline:
        if len(slack.calls_to("chat.postMessage")) >= expected and server.runtime.inflight.count == 0:
            break
        await asyncio.sleep(0.01)
    return time.perf_counter() - started


class ServerProcess:
    """A server under test in a process of its own, as it runs in production: the fake Slack and the
    bench's bookkeeping then stay off its event loop. CPU is read from /proc for that process only."""

    def __init__(
        self, argv: list[str], env: dict[str, str], port: int, cwd: str, log_path: Path | None = None,
        cpus: set[int] | None = None,
    ):
        self.argv, self.env, self.port, self.cwd = argv, env, port, cwd
        self.cpus = cpus  # run on these CPUs only (--pin)
        self.log_path = log_path  # where its output goes (default: nowhere)
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, timeout: float = 60.0) -> ServerProcess:
        with open(self.log_path or os.devnull, "wb") as output:  # noqa: ASYNC230 - once, before the run
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv,
                env={"PATH": os.environ["PATH"], **self.env},
                cwd=self.cwd,
                stdout=output,
                stderr=output,
                preexec_fn=(lambda: os.sched_setaffinity(0, self.cpus)) if self.cpus else None,
            )
        deadline = time.perf_counter() + timeout
        async with aiohttp.ClientSession() as http:
            while time.perf_counter() < deadline:
                try:
                    async with http.get(f"{self.url}/healthz") as r:
                        if r.status == 200:
                            return self
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        raise RuntimeError(f"{self.argv} did not start within {timeout}s")

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def metric(self, name: str) -> float:
        async with aiohttp.ClientSession() as http, http.get(f"{self.url}/metrics") as r:
            for line in (await r.text()).splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[1])
        return 0.0

    async def gc_pauses(self) -> dict[str, tuple[float, float, float]]:
        """Per generation: (collections, seconds paused, collections that paused over 10 ms)."""
        found: dict[str, list[float]] = {}
        async with aiohttp.ClientSession() as http, http.get(f"{self.url}/metrics") as r:
            for line in (await r.text()).splitlines():
                if not line.startswith("atom_gc_pause_seconds"):
                    continue
                name, value = line.rsplit(" ", 1)
                generation = name.split('generation="')[1].split('"')[0] if 'generation="' in name else "?"
                row = found.setdefault(generation, [0.0, 0.0, 0.0, 0.0])
                if name.startswith("atom_gc_pause_seconds_count"):
                    row[0] = float(value)
                elif name.startswith("atom_gc_pause_seconds_sum"):
                    row[1] = float(value)
                elif 'le="0.01"' in name:
                    row[3] = float(value)
        return {g: (c, t, c - under) for g, (c, t, _, under) in found.items()}

    async def stop(self) -> None:
        if self.proc and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def drain_posts(slack: FakeSlack, expected: int, timeout: float) -> float:
    """Wait until `expected` chat.postMessage calls arrived (Atom in its own process)."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout and len(slack.calls_to("chat.postMessage")) < expected:  # noqa: ASYNC110 - polling the fake
        await asyncio.sleep(0.01)
    return time.perf_counter() - started


def segments(events: int, rounds: int) -> list[int]:
    base, extra = divmod(events, rounds)
    return [base + (1 if r < extra else 0) for r in range(rounds)]


async def bench(args: argparse.Namespace) -> dict:
    report: dict = {
        "events": args.events,
        "rate": args.rate,
        "people": args.people,
        "warmup": args.warmup,
        "rounds": args.rounds,
        "client": args.client,
        "load_average": os.getloadavg()[0],
        "pinned": sorted(args.server_cpus) if args.server_cpus else None,
    }
    results = {name: RunResult(name) for name in TARGETS}
    tags = {"bare": "B", "atom": "A"}
    atom_channels: list[str] = []
    async with (
        FakeSlack() as slack,
        LoadGenerator(args.client, args.connections) as load,
    ):
        tmp = tempfile.TemporaryDirectory(prefix="atom-bench-")
        env = {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.url,
        }
        atom_env = {
            **env,
            "ATOM_DATABASE_URL": f"sqlite+aiosqlite:///{Path(tmp.name) / 'atom.db'}",
            "ATOM_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "ATOM_LOG_LEVEL": "WARNING",
        }
        runner = server = bare_proc = atom_proc = None
        if args.in_process:
            runner, bare_url = await start_bare(slack)
            server = await start_atom(slack, tmp.name)
            urls = {"bare": bare_url, "atom": f"{server.url}/slack/events"}
        else:
            bare_port, atom_port = free_port(), free_port()
            bare_proc = await ServerProcess(
                [sys.executable, str(Path(__file__).with_name("_bare_app.py")), str(bare_port)],
                env,
                bare_port,
                tmp.name,
                cpus=args.server_cpus,
            ).start()
            atom_proc = await ServerProcess(
                [sys.executable, "-m", "bot", "run", "--http"],
                {**atom_env, "ATOM_PORT": str(atom_port)},
                atom_port,
                str(REPO_ROOT),
                cpus=args.server_cpus,
            ).start()
            urls = {"bare": f"{bare_proc.url}/slack/events", "atom": f"{atom_proc.url}/slack/events"}
            await asyncio.sleep(8)  # let Atom finish importing litellm in the background, as after any start

        async def drain(expected: int) -> float:
            if server is not None:
                return await drain_replies(slack, server, expected, args.drain_timeout)
            return await drain_posts(slack, expected, args.drain_timeout)

        def cpu(name: str) -> float:
            proc = {"bare": bare_proc, "atom": atom_proc}[name]
            return proc.cpu_s() if proc is not None else time.process_time()

        try:
            warm = {
                "bare": await load.warm_up(urls["bare"], prepare(args.warmup, "W"), args.timeout),
                "atom": await load.warm_up(urls["atom"], prepare(args.warmup, "X"), args.timeout),
            }
            await drain(args.warmup)
            warmup_slack_calls = Counter(c.method for c in slack.calls)
            slack.reset()

            gc_before = await atom_proc.gc_pauses() if atom_proc is not None else {}
            offsets = {name: 0 for name in TARGETS}
            drain_s = 0.0
            for r, size in enumerate(segments(args.events, args.rounds)):
                for name in TARGETS if r % 2 == 0 else reversed(TARGETS):
                    chunk = prepare(size, tags[name], first=offsets[name], people=args.people)
                    offsets[name] += size
                    if name == "atom":
                        atom_channels += [q.channel for q in chunk]
                    cpu_start = cpu(name)
                    segment = await load.run(name, urls[name], chunk, args.rate, args.timeout)
                    if name == "atom":  # its work after the ack belongs to its segment
                        drain_s = await drain(offsets["atom"])
                    segment.cpu_s = cpu(name) - cpu_start
                    results[name].merge(segment)
            await asyncio.sleep(0.5)  # late duplicate replies would show up here

            posts = slack.calls_to("chat.postMessage")
            per_channel = Counter(c.params.get("channel") for c in posts)
            if server is not None:
                registry = server.runtime.metrics.registry
                handler_errors = registry.get_sample_value("atom_handler_errors_total") or 0
                duplicates = registry.get_sample_value("atom_duplicate_events_total") or 0
                gc_max = registry.get_sample_value("atom_gc_pause_max_seconds") or 0
            else:
                handler_errors = await atom_proc.metric("atom_handler_errors_total")
                duplicates = await atom_proc.metric("atom_duplicate_events_total")
                gc_max = await atom_proc.metric("atom_gc_pause_max_seconds")
                gc_after = await atom_proc.gc_pauses()
                gc_run = {
                    g: tuple(a - b for a, b in zip(after, gc_before.get(g, (0.0, 0.0, 0.0)), strict=True))
                    for g, after in gc_after.items()
                }
            report["bare"] = results["bare"].summary() | {
                "warmup_statuses": {str(k): v for k, v in warm["bare"].items()},
            }
            report["atom"] = results["atom"].summary() | {
                "warmup_statuses": {str(k): v for k, v in warm["atom"].items()},
                "chat_postMessage": len(posts),
                "events_without_reply": sum(1 for c in atom_channels if per_channel[c] == 0),
                "events_with_several_replies": sum(1 for c in atom_channels if per_channel[c] > 1),
                "last_drain_s": drain_s,
                "slack_calls": dict(Counter(c.method for c in slack.calls)),
                "handler_errors": handler_errors,
                "gc_pause_max_ms": gc_max * 1000,
                "gc_during_run": gc_run if server is None else {},
                "duplicate_events": duplicates,
            }
            report["warmup_slack_calls"] = dict(warmup_slack_calls)
            report["servers"] = "in this process" if args.in_process else "each in its own process"
        finally:
            if runner is not None:
                await runner.cleanup()
            if server is not None:
                await server.stop(grace=args.drain_timeout)
            for proc in (bare_proc, atom_proc):
                if proc is not None:
                    await proc.stop()
            tmp.cleanup()

    a99, b99 = report["atom"]["p99_ms"], report["bare"]["p99_ms"]
    ratio = a99 / b99 if b99 else math.inf
    report["ratio_p99"] = ratio
    atom = report["atom"]
    report["goals"] = {
        "atom_p99_within_1.5x_bare": ratio <= P99_RATIO_GOAL,
        "atom_p99_within_100ms": a99 <= P99_ABSOLUTE_GOAL_MS,
        "one_reply_per_event": atom["chat_postMessage"] == args.events
        and atom["events_without_reply"] == 0
        and atom["events_with_several_replies"] == 0,
    }
    return report


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def print_report(r: dict) -> None:
    ok = {True: "yes", False: "NO"}
    where = {
        "loop": "from the servers' own event loop (one shared ClientSession)",
        "process": "from a separate load-generator process (one ClientSession)",
    }[r["client"]]
    print(f"Ack latency: {r['events']} signed message.im events per target at {r['rate']:g}/s, open loop,")
    print(f"from {r['people']} distinct people in turn, sent {where},")
    print(
        f"in {r['rounds']} alternating segment(s) per target, after {r['warmup']} warm-up requests each "
        f"(1-min load average at start: {r['load_average']:.2f})."
    )
    print()
    header = (
        f"{'target':<6} {'count':>6} {'errors':>6} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}"
        f"  {'sched lag p99':>13} {'rate/s':>7} {'server CPU ms/event':>20}"
    )
    print(header)
    print("-" * len(header))
    for name in TARGETS:
        s = r[name]
        print(
            f"{name:<6} {s['count']:>6} {s['errors']:>6} {s['p50_ms']:>8.2f} {s['p90_ms']:>8.2f} "
            f"{s['p99_ms']:>8.2f} {s['max_ms']:>8.2f}  {s['sched_lag_p99_ms']:>10.2f} ms {s['offered_rate']:>7.1f}"
            f" {s['server_cpu_ms_per_event']:>20.2f}"
        )
        if s["errors"]:
            print(f"       non-200/failures: statuses {s['statuses']} exceptions {s['exceptions']}")
    a = r["atom"]
    print()
    print(f"atom p99 / bare p99 = {r['ratio_p99']:.2f}x")
    print(f"  goal atom p99 <= {P99_RATIO_GOAL}x bare p99 : {ok[r['goals']['atom_p99_within_1.5x_bare']]}")
    print(
        f"  goal atom p99 <= {P99_ABSOLUTE_GOAL_MS:.0f} ms        : {ok[r['goals']['atom_p99_within_100ms']]}"
    )
    print(
        f"Atom replies: {a['chat_postMessage']} chat.postMessage calls for {a['count']} events "
        f"(events with no reply: {a['events_without_reply']}, with several: {a['events_with_several_replies']}) "
        f"-> exactly one per event: {ok[r['goals']['one_reply_per_event']]}"
    )
    print(f"  Slack calls Atom made during the run: {a['slack_calls']}")
    print(
        f"  Atom listener errors: {a['handler_errors']:.0f}, redeliveries skipped: {a['duplicate_events']:.0f}, "
        f"last drain after the final ack: {a['last_drain_s'] * 1000:.0f} ms, "
        f"longest garbage collector pause since start: {a['gc_pause_max_ms']:.1f} ms"
    )
    for generation, (count, seconds, over) in sorted(a.get("gc_during_run", {}).items()):
        print(
            f"  during the run, generation {generation} collections: {count:.0f}, "
            f"{seconds * 1000:.1f} ms paused in all, {over:.0f} over 10 ms"
        )
    if r.get("servers") == "in this process":
        print(
            "Note: the fake Slack runs in this process, on the servers' loop: its answers to Atom's "
            "chat.postMessage calls are part of Atom's measured latency and CPU (bare calls nothing)."
        )
    else:
        print(
            "Servers: Atom (`python -m bot run --http`, SQLite) and the bare app each ran in a process of "
            "their own; the fake Slack and the load generator ran in two others. CPU is the server's own."
        )
        if r.get("pinned"):
            print(
                f"      Pinned (--pin): each server on CPU {r['pinned']}, the fake Slack and the load "
                "generator on the others (one at a time under load, so each server had that CPU to itself)."
            )
    if r["client"] == "loop":
        print("      With --client loop, the load generator's own CPU is in both targets' figures too.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Ack latency of Atom vs a bare slack-bolt app under open-loop load (see the module docstring)."
    )
    parser.add_argument("--events", type=int, default=2000, help="events per target (default 2000)")
    parser.add_argument("--rate", type=float, default=200.0, help="events per second (default 200)")
    parser.add_argument(
        "--people",
        type=int,
        default=PEOPLE,
        help=f"distinct senders, cycled (default {PEOPLE}); as many as --events: nobody is in Atom's read cache",
    )
    parser.add_argument(
        "--warmup", type=int, default=20, help="sequential warm-up requests per target (default 20)"
    )
    parser.add_argument(
        "--rounds", type=int, default=4, help="alternating bare/atom segments per target (default 4)"
    )
    parser.add_argument(
        "--client",
        choices=("process", "loop"),
        default="process",
        help="send from a separate process (default) or from the servers' own event loop",
    )
    parser.add_argument(
        "--connections", type=int, default=1000, help="client connection limit (default 1000)"
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="per-request timeout in s (default 10)")
    parser.add_argument(
        "--drain-timeout", type=float, default=30.0, help="max wait for Atom's replies in s (default 30)"
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run both servers on the bench's own loop, beside the fake Slack (default: each its own process)",
    )
    parser.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="servers on the last CPU, the bench (fake Slack, load generator) on the others, so the "
        "fake Slack's work for Atom's replies does not take the server's CPU (default: on with 2+ CPUs)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead")
    args = parser.parse_args(argv)
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if args.pin is None:
        args.pin = len(cpus) >= 2 and not args.in_process
    args.server_cpus = {cpus[-1]} if args.pin else None
    if args.pin:
        os.sched_setaffinity(0, set(cpus[:-1]))  # this process and the generator it spawns
    if args.events < 1 or args.warmup < 1 or args.rate <= 0 or not 1 <= args.rounds <= args.events:
        parser.error("--events, --warmup and --rounds must be at least 1 (rounds <= events), --rate positive")
    return run_and_report(bench, args, print_report)


if __name__ == "__main__":
    raise SystemExit(main())
