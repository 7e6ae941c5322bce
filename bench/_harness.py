"""Shared helpers for bench/pipeline_overhead.py, bench/first_token.py and bench/load.py.

Not a benchmark itself. Scripts put the repo root on sys.path and call
`bot.llm.runtime.set_offline_switches()` before importing this module (it imports nothing that
loads litellm, but the switches must be set before anything could).

What is here: nearest-rank percentiles and a summary of samples, a real Atom (`AtomServer` via
tests/conftest.py's `AtomHarness`) on a temporary SQLite database wired to the fake Slack and fake
providers, with keys stored through the key form as tests/keyhelpers.py does, signed Events API
bodies for threaded DMs, and process memory readings.
"""

from __future__ import annotations

import asyncio
import cProfile
import gc
import json
import math
import os
import pstats
import resource
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet

from bench._common import percentile  # noqa: E402
from tests.conftest import SIGNING_SECRET, AtomHarness, atom_env, provider_env
from tests.fakes.payloads import TEAM_ID, event_callback, message_im_event, next_id, next_ts
from tests.fakes.providers import FakeProviders
from tests.fakes.signing import sign
from tests.fakes.slack import Call, FakeSlack
from tests.keyhelpers import give_keys

__all__ = [
    "SIGNING_SECRET",
    "TEAM_ID",
    "GcPauses",
    "LoopLag",
    "SignedEvent",
    "StreamRecorder",
    "atom_stack",
    "carried_text",
    "deep_size",
    "own_time_by_package",
    "peak_rss_mb",
    "percentile",
    "rss_mb",
    "signed_dm",
    "summarise",
]


def summarise(values: list[float]) -> dict:
    """count, p50, p90, p99, mean, max of samples (same unit in and out)."""
    s = sorted(values)
    return {
        "count": len(s),
        "p50": percentile(s, 50),
        "p90": percentile(s, 90),
        "p99": percentile(s, 99),
        "mean": sum(s) / len(s) if s else math.nan,
        "max": s[-1] if s else math.nan,
    }


# ---------------------------------------------------------------------------------------------
# A real Atom against the fakes
# ---------------------------------------------------------------------------------------------


@asynccontextmanager
async def atom_stack(
    providers: FakeProviders, *, users: list[str], keys: tuple[str, ...] = ("openai",), **env
):
    """FakeSlack + the given (not yet started) FakeProviders + AtomServer on a temporary SQLite DB.

    Yields the started `AtomHarness` (`.server`, `.runtime`, `.client`, `.slack`, `.providers`) with
    working keys for `keys` stored for every user in `users` through the key form (a signed
    view_submission, checked against the fake providers), then Slack's and the providers' records
    cleared. `env` overrides Atom's settings (e.g. ATOM_LLM_TIMEOUT="60").
    """
    with tempfile.TemporaryDirectory(prefix="atom-bench-") as tmp:
        async with FakeSlack() as slack, providers:
            database = f"sqlite+aiosqlite:///{Path(tmp) / 'atom.db'}"
            harness = AtomHarness(
                slack,
                atom_env(
                    slack.url, database, Fernet.generate_key().decode(), **provider_env(providers), **env
                ),
            )
            harness.providers = providers
            await harness.start()
            try:
                for user in users:
                    await give_keys(harness, *keys, user_id=user)
                yield harness
            finally:
                await harness.stop()


@dataclass
class SignedEvent:
    """A signed `event_callback` body ready to POST to /slack/events."""

    body: bytes
    headers: dict[str, str]
    channel: str
    thread_ts: str
    event_id: str


def signed_dm(
    text: str, *, user: str, channel: str, thread_ts: str, timestamp: str | None = None
) -> SignedEvent:
    """A person's `message.im` in a thread (Atom answers it by streaming), signed like Slack does."""
    ts = timestamp or str(int(time.time()))  # Bolt accepts +-5 minutes around its clock
    event_id = next_id("Ev")
    event = message_im_event(text, user=user, channel=channel, thread_ts=thread_ts)
    body = json.dumps(event_callback(event, event_id=event_id, event_time=int(ts))).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": sign(SIGNING_SECRET, ts, body),
    }
    return SignedEvent(body, headers, channel, thread_ts, event_id)


def carried_text(call: Call) -> str:
    """The streamed text a chat.*Stream call carries (markdown_text or markdown chunks)."""
    text = call.params.get("markdown_text") or ""
    for chunk in call.params.get("chunks") or []:
        if isinstance(chunk, dict):
            text += chunk.get("text") or ""
    return text


class StreamRecorder:
    """FakeSlack handlers for chat.startStream / appendStream / stopStream that keep, per channel,
    when the first streamed text arrived, the text, and how many times the stream was stopped.

    They answer as the fake's defaults do (startStream needs channel and thread_ts and hands out a
    ts); the fake still records every call in `calls` as usual. Times are `time.perf_counter()`,
    taken once the fake has read the whole request.
    """

    def __init__(self, slack: FakeSlack):
        self.first_text: dict[str, float] = {}
        self.text: dict[str, str] = {}
        self.stops: dict[str, int] = {}
        self.last_stop: float | None = None
        self._stopped: dict[str, asyncio.Event] = {}
        slack.set_handler("chat.startStream", self._start)
        slack.set_handler("chat.appendStream", self._append)
        slack.set_handler("chat.stopStream", self._stop)

    def stopped(self, channel: str) -> asyncio.Event:
        return self._stopped.setdefault(channel, asyncio.Event())

    def _saw(self, call: Call) -> str:
        channel = call.params.get("channel") or ""
        text = carried_text(call)
        if text:
            self.first_text.setdefault(channel, time.perf_counter())
            self.text[channel] = self.text.get(channel, "") + text
        return channel

    def _start(self, call: Call) -> dict:
        channel = self._saw(call)
        if not channel or not call.params.get("thread_ts"):
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "channel": channel, "ts": next_ts()}

    def _append(self, call: Call) -> dict:
        channel = self._saw(call)
        return {"ok": True, "channel": channel, "ts": call.params.get("ts")}

    def _stop(self, call: Call) -> dict:
        channel = self._saw(call)
        self.stops[channel] = self.stops.get(channel, 0) + 1
        self.last_stop = time.perf_counter()
        self.stopped(channel).set()
        return {"ok": True, "channel": channel, "ts": call.params.get("ts")}


# ---------------------------------------------------------------------------------------------
# Process figures
# ---------------------------------------------------------------------------------------------


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """Current resident set size of this process (Linux /proc; NaN elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return math.nan


def deep_size(obj, seen: set[int] | None = None) -> int:
    """Bytes held by plain data (dicts, lists, tuples, strings, dataclass instances), shared parts once."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        size += sum(deep_size(k, seen) + deep_size(v, seen) for k, v in obj.items())
    elif isinstance(obj, list | tuple | set | frozenset):
        size += sum(deep_size(item, seen) for item in obj)
    elif hasattr(obj, "__dict__") and not isinstance(obj, type):
        size += deep_size(vars(obj), seen)
    return size


class GcPauses:
    """Times the garbage collector's runs (gc.callbacks), by generation: full (gen 2) collections
    walk every tracked object, litellm's included, and stop the event loop while they run."""

    def __init__(self):
        self.pauses_ms: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._started = 0.0

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses_ms[info["generation"]].append((time.perf_counter() - self._started) * 1000)

    def start(self) -> GcPauses:
        gc.callbacks.append(self._callback)
        return self

    def stop(self) -> dict:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)
        return {
            f"gen{g}": {"count": len(p), "total_ms": sum(p), "max_ms": max(p, default=0.0)}
            for g, p in self.pauses_ms.items()
        }


class LoopLag:
    """Samples how late the event loop wakes a `sleep(interval)`: a direct view of loop saturation."""

    def __init__(self, interval: float = 0.01):
        self.interval = interval
        self.lags_ms: list[float] = []
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.interval
            await asyncio.sleep(self.interval)
            self.lags_ms.append(max(0.0, (loop.time() - due) * 1000))

    def start(self) -> LoopLag:
        self._task = asyncio.create_task(self._run(), name="bench-loop-lag")
        return self

    async def stop(self) -> dict:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        return summarise(self.lags_ms)


# ---------------------------------------------------------------------------------------------
# Profiles
# ---------------------------------------------------------------------------------------------

REPO_ROOT = Path(__file__).resolve().parent.parent


def package_of(filename: str, function: str) -> str:
    """Which library a profiled function belongs to (C builtins in two groups)."""
    if filename == "~":
        if "select.epoll" in function or "select.select" in function:
            return "(idle: waiting in epoll - SQLite worker thread, sockets, timers)"
        return "(C builtins)"
    path = filename.replace("\\", "/")
    if path.startswith("<"):  # generated code, e.g. "<sqlalchemy generated _go() wrapper ...>"
        return "sqlalchemy" if "sqlalchemy" in path else "(generated code)"
    if "/site-packages/" in path:
        top = path.split("/site-packages/", 1)[1].split("/", 1)[0]
        return top.removesuffix(".py").split(".")[0]
    root = str(REPO_ROOT).replace("\\", "/") + "/"
    if path.startswith(root):
        rel = path[len(root) :]
        if rel.startswith("bot/"):
            return "bot (Atom)"
        if rel.startswith("tests/"):
            return "tests.fakes (FakeSlack, FakeProviders)"
        return "bench (this script)"
    if "/asyncio/" in path:
        return "asyncio"
    return f"stdlib {Path(path).stem}"


def own_time_by_package(profiler: cProfile.Profile, per: int) -> dict[str, float]:
    """Own (not cumulative) time in ms per unit of work (`per` = calls or events), by library."""
    groups: dict[str, float] = defaultdict(float)
    for (filename, _line, function), (_cc, _nc, tottime, _ct, _callers) in pstats.Stats(
        profiler
    ).stats.items():
        groups[package_of(filename, function)] += tottime * 1000 / per
    return dict(groups)
