"""Connectors: Atom's own time per tool step in a chat answer, and acks under slow connector calls.

What it measures
    A real Atom (`AtomServer` via tests/conftest.py's `AtomHarness`, temporary SQLite database)
    wired to the fake Slack, the tool-calling fake providers (`tests/fakes/tool_providers.py`,
    OpenAI wire format) and the fake Google (`tests/fakes/google.py`). The fake Google runs in a
    process of its own (`bench/_fake_google.py`), as a real, remote Google shares neither Atom's
    loop nor its interpreter lock; the bench scripts it, and reads its handler-time counter, over
    a control server on a second port of that process (not counted as Google's time).
    `--fake-in-process` runs it as before, on its own loop in a thread of the bench's process: its
    HTTP parsing and serving (outside its handler time) and the lock hand-offs between its thread
    and Atom's worker threads then land in "own". Run both to compare.
    One person has a Google connection (Calendar and Gmail, tokens stored encrypted as the OAuth
    callback stores them) and an OpenAI key.

    1. Tool steps. `--answers` sequential answers through `ConversationService.respond` with a
       no-op Reply (as bench/pipeline_overhead.py does), each scripted as: the model calls
       `calendar.list_events`, then `gmail.list_unread` (3 unread messages: one list, then three
       gets at once, each in its own worker thread), then answers: two tool steps per answer. A
       timer wraps `ToolLoop._tool` (an instance attribute; no product code changes). "step" is the wall time of one tool step:
       parsing the call, validating parameters, reading the connection (cache + database),
       decrypting the token, the googleapiclient request(s) in a worker thread, formatting and
       delimiting the result. "service" is the wall time during which the fake Google was inside
       at least one of its handlers during that step (the fake counts its own time, concurrent
       calls once; the bench reads the counter just before and just after the step). "own" =
       step - service: Atom's time per tool step, everything but the fake service (and the fake
       model, which is outside the step). It still holds the loopback TCP exchange and the fake's
       HTTP parsing and writing around its handlers, as it would hold the network to Google.
       With the fake in its own process, two more rows: "fake_cpu", the CPU time the fake
       process spent during the step (read from it before and after, less what answering one
       state read costs), and "less_fake_cpu" = step - max(service, fake_cpu): the step without
       anything the fake did, an estimate of what a remote Google would leave on this machine
       (the fake's CPU sits on the step's critical path: Atom waits for its answer; on 2 cores it
       also competes with Atom's threads). Meaningful without `--latency` only.
       Goal: own p50 <= 5 ms. Because "own" still holds the loopback HTTP exchanges and the
       thread hops, each step is followed by "bare": the very same Google requests made straight
       through googleapiclient in a worker thread with a fresh Http (no Atom code), and
       "over_bare" = step - bare, paired per step: what Atom adds to calling Google with the
       library at all. On a loaded machine "own" swings with the scheduler; "over_bare" less.
    2. Acks under slow connector calls. `--acks` signed `/atom help` commands sent one after the
       other from the bench's loop, timed to the full HTTP response, first with no connector
       calls in flight ("quiet"), then with `--slow` `calendar.list_events` calls held
       `--delay` seconds each by the fake Google and kept in flight the whole time ("busy":
       a finished call is replaced at once). Goal: busy p99 <= 1.5 x quiet p99.

How to read the output
    Tool steps: count, p50/p99/max of step, service and own (ms). Acks: p50/p99/max for quiet
    and busy, the p99 ratio, and how many slow calls were in flight at the least and most while
    busy acks were measured. Nothing fails on a figure; it only reports.

    With `--latency S` the fake Google holds every API call S seconds, as a remote Google's round
    trip would: "step" then shows what a person waits for (Gmail's message gets run together),
    while "service" (the wall time during which at least one handler was running, so concurrent
    calls count once) keeps "own" comparable.

Usage: python bench/connectors.py [--answers 200] [--acks 300] [--slow 20] [--delay 2] [--latency 0]
                                  [--fake-in-process] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the fakes speak plain http (bench only)

from bot.llm.runtime import set_offline_switches  # noqa: E402

set_offline_switches()

from cryptography.fernet import Fernet  # noqa: E402

from bench._common import percentile, run_and_report  # noqa: E402
from bench._harness import summarise  # noqa: E402


class InProcessGoogle:
    """`--fake-in-process`: the fake Google on its own loop in its own thread of the bench's process.
    It then shares the interpreter lock with Atom: its HTTP parsing and serving (outside the
    handler time subtracted as "service") and the lock hand-offs between its thread and Atom's
    worker threads land in Atom's "own" time. Kept to compare with the default."""

    mode = "in-process (thread of the bench's process)"

    def __init__(self):
        from tests.connector_helpers import GOOGLE_ID, GOOGLE_SECRET
        from tests.fakes.google import FakeGoogle

        self.fake = FakeGoogle(GOOGLE_ID, GOOGLE_SECRET)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fake-google", daemon=True)

    async def __aenter__(self):
        self.thread.start()
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self.fake.__aenter__(), self.loop))
        self.url, self.account, self.token_lifetime = self.fake.url, self.fake.account, self.fake.token_lifetime
        return self

    async def __aexit__(self, *exc):
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self.fake.__aexit__(None, None, None), self.loop))
        self.loop.call_soon_threadsafe(self.loop.stop)
        await asyncio.to_thread(self.thread.join, 5)

    async def issue_token(self, scopes: set[str]) -> tuple[str, str]:
        return self.fake.issue_token(scopes)

    async def add_message(self, subject: str, sender: str, body: str) -> None:
        self.fake.add_message(subject, sender, body)

    async def add_event(self, event: dict) -> None:
        self.fake.events.append(event)

    async def set_delay(self, seconds: float) -> None:
        self.fake.delay = seconds

    async def state(self) -> tuple[float, float | None]:
        """(handler seconds so far, the fake's CPU seconds so far: None, it shares the bench's process)."""
        return self.fake.server_seconds, None

    async def in_flight(self) -> int:
        return self.fake.in_flight


class ProcessGoogle:
    """The default: the fake Google in a process of its own (bench/_fake_google.py), as a real,
    remote Google shares nothing with Atom. The bench scripts it and reads its handler-time counter
    over a control server on a second port of that process (those requests are not Google's and
    are not counted)."""

    mode = "separate process (bench/_fake_google.py)"

    async def __aenter__(self):
        import aiohttp

        from tests.connector_helpers import GOOGLE_ID, GOOGLE_SECRET

        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "bench" / "_fake_google.py"), GOOGLE_ID, GOOGLE_SECRET,
            cwd=str(ROOT), stdout=asyncio.subprocess.PIPE)
        try:
            line = await asyncio.wait_for(self.proc.stdout.readline(), 60)
            urls = json.loads(line)
        except (TimeoutError, ValueError) as error:
            await self._stop()
            raise RuntimeError(f"bench/_fake_google.py did not start: {error!r}") from error
        self.url, self.control = urls["url"], urls["control"]
        self.http = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc):
        await self.http.close()
        await self._stop()

    async def _stop(self):
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()

    async def _call(self, method: str, path: str, body=None) -> dict:
        async with self.http.request(method, self.control + path, json=body) as response:
            response.raise_for_status()
            return await response.json()

    async def issue_token(self, scopes: set[str]) -> tuple[str, str]:
        answer = await self._call("POST", "/issue_token", {"scopes": sorted(scopes)})
        self.account, self.token_lifetime = answer["account"], answer["token_lifetime"]
        return answer["access"], answer["refresh"]

    async def add_message(self, subject: str, sender: str, body: str) -> None:
        await self._call("POST", "/messages", {"subject": subject, "sender": sender, "body": body})

    async def add_event(self, event: dict) -> None:
        await self._call("POST", "/events", event)

    async def set_delay(self, seconds: float) -> None:
        await self._call("POST", "/delay", {"seconds": seconds})

    async def state(self) -> tuple[float, float | None]:
        """(handler seconds so far, the fake process's CPU seconds so far)."""
        state = await self._call("GET", "/state")
        return state["server_seconds"], state["cpu_seconds"]

    async def in_flight(self) -> int:
        return (await self._call("GET", "/state"))["in_flight"]


class NoReply:
    streams = False

    async def post(self, text, blocks=None):
        self.posted = text

    async def status(self, text):
        return None

    async def step(self, *args, **kwargs):
        return None

    async def append(self, delta):
        return None

    async def finish(self, footer, fallback_text):
        return None


async def bench(args) -> dict:
    from bot.conversations import Ask, ConversationService
    from bot.llm.runtime import load_litellm
    from tests.conftest import AtomHarness, atom_env, provider_env
    from tests.connector_helpers import ANN, connector_env
    from tests.fakes import google as g
    from tests.fakes.slack import FakeSlack
    from tests.fakes.tool_providers import ToolCallingProviders
    from tests.keyhelpers import give_keys

    await asyncio.to_thread(load_litellm)  # as `atom run` does in the background at start
    report: dict = {}
    google_side = InProcessGoogle() if args.fake_in_process else ProcessGoogle()
    report: dict = {"fake_google": google_side.mode, "load_average": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="atom-bench-") as tmp:
        async with google_side as google, FakeSlack() as slack, ToolCallingProviders() as providers:
            env = atom_env(slack.url, f"sqlite+aiosqlite:///{Path(tmp) / 'atom.db'}", Fernet.generate_key().decode(),
                           **provider_env(providers), **connector_env(google, None))
            atom = AtomHarness(slack, env)
            atom.providers, atom.google = providers, google
            await atom.start()
            try:
                await give_keys(atom, "openai")
                token = await connect(atom, google, ANN, {g.CALENDAR_READ, g.GMAIL_READ, g.EMAIL})
                for i in range(3):
                    await google.add_message(f"Subject {i}", f"sender{i}@example.com", "body " * 20)
                await google.set_delay(args.latency)
                await google.add_event({"id": "e1", "summary": "Standup", "start": {"date": "2026-12-01"}, "end": {"date": "2026-12-02"}})
                report["tool_steps"] = await tool_steps(atom, providers, google, token, args.answers, Ask,
                                                        ConversationService, ANN)
                report["acks"] = await acks_under_load(atom, google, args, ANN)
            finally:
                await atom.stop()
    return report


async def connect(atom, google, person, scopes: set[str]) -> str:
    """The person's Google connection as the OAuth callback stores it (tests' connect_google, with
    the token issued by whichever fake runs); returns the access token."""
    from bot.connectors.accounts import Grant
    from bot.storage.encryption import Secret
    from tests.connector_helpers import _expiry

    access, refresh = await google.issue_token(scopes)
    grant = Grant(Secret(access), Secret(refresh), _expiry(google.token_lifetime), frozenset(scopes), google.account)
    await atom.runtime.connectors.tokens.store(person, "google", grant)
    return access


def bare_requests(google, token: str, tool: str) -> None:
    """The same Google requests a tool step makes, straight through googleapiclient with a fresh
    Http: no Atom code at all. Run in a worker thread, as Atom runs its own."""
    import httplib2

    http = httplib2.Http(timeout=20)
    headers = {"Authorization": f"Bearer {token}"}
    http.request = _with_headers(http.request, headers)
    if tool == "calendar__list_events":
        events = _bare(google.url, "calendar", "v3", "/calendar/v3/").events()
        events.list(calendarId="primary", timeMin="2026-12-01T00:00:00+00:00", timeMax="2026-12-02T00:00:00+00:00",
                    singleEvents=True, orderBy="startTime", timeZone="Europe/London", maxResults=50).execute(http=http)
    else:
        messages = _bare(google.url, "gmail", "v1", "/").users().messages()
        listed = messages.list(userId="me", q="is:unread in:inbox", maxResults=5).execute(http=http)

        def get(ref):  # each get in its own thread with its own Http, as Atom makes them
            own = httplib2.Http(timeout=20)
            own.request = _with_headers(own.request, headers)
            return messages.get(userId="me", id=ref["id"], format="metadata",
                                metadataHeaders=["From", "To", "Subject", "Date"]).execute(http=own)

        list(_bare_threads().map(get, listed.get("messages") or []))


def _bare_threads():
    from concurrent.futures import ThreadPoolExecutor

    if "threads" not in _BARE:
        _BARE["threads"] = ThreadPoolExecutor(10, thread_name_prefix="bare-google")
    return _BARE["threads"]


def _with_headers(request, headers):
    def send(uri, method="GET", body=None, headers_in=None, **kw):
        return request(uri, method=method, body=body, headers={**(headers_in or {}), **headers}, **kw)

    return lambda uri, method="GET", body=None, headers=None, **kw: send(uri, method, body, headers, **kw)


_BARE: dict = {}


def _bare(base: str, api: str, version: str, path: str):
    """A built service kept whole (its sub-resources are made per call, as a plain client does;
    made once here so the floor is the HTTP exchange, not docstring generation)."""
    import httplib2
    from googleapiclient.discovery import build

    key = (api, base)
    if key not in _BARE:
        _BARE[key] = build(api, version, http=httplib2.Http(), static_discovery=True, cache_discovery=False,
                           client_options={"api_endpoint": base + path})
    return _BARE[key]


async def tool_steps(atom, providers, google, token, answers, Ask, ConversationService, person) -> dict:
    runtime = atom.runtime
    conversations = ConversationService(runtime, runtime.memory, runtime.usage, runtime.cooldowns)
    loop = conversations.tools
    original = loop._tool
    steps: list[float] = []
    services: list[float] = []
    bares: list[float] = []
    tools: list[str] = []
    fake_cpu: list[float] = []
    # What the fake's CPU counter moves between two back-to-back state reads (answering one), to
    # take off each step's reading: the median of 50.
    idle = []
    for _ in range(51):
        idle.append((await google.state())[1])
    idle_cpu = sorted(b - a for a, b in zip(idle[:-1], idle[1:], strict=True)) if idle[0] is not None else [0.0]
    idle_cpu = idle_cpu[len(idle_cpu) // 2]

    async def timed(call, *a, **kw):
        before_service, before_cpu = await google.state()
        started = time.perf_counter()
        try:
            return await original(call, *a, **kw)
        finally:
            steps.append(time.perf_counter() - started)
            after_service, after_cpu = await google.state()
            services.append(after_service - before_service)
            if before_cpu is not None:
                fake_cpu.append(after_cpu - before_cpu - idle_cpu)
            tools.append(call.function.name.replace("__", "."))
            # The floor for the same requests, right after: machine-wide noise hits both alike.
            started = time.perf_counter()
            await asyncio.to_thread(bare_requests, google, token, call.function.name)
            bares.append(time.perf_counter() - started)

    loop._tool = timed
    reply = NoReply()
    for i in range(answers + 10):  # the first ten warm up: imports, connections, caches
        providers.steps.extend([[("calendar__list_events", {"day": "today"})], [("gmail__list_unread", {"max_results": 5})],
                                "You have a standup and three unread emails."])
        result = await conversations.respond(
            Ask(person, "what's on today and what's unread?", "D0BENCH", f"1700000000.{i:06d}", "dm", use_history=False),
            reply,
        )
        assert result is not None and result.text, f"the scripted answer did not arrive: {getattr(reply, 'posted', result)}"
        if i == 9:
            steps.clear()
            services.clear()
            bares.clear()
            tools.clear()
            fake_cpu.clear()
    loop._tool = original
    own = [s - v for s, v in zip(steps, services, strict=True)]
    over_bare = [s - b for s, b in zip(steps, bares, strict=True)]
    ms = lambda values: {k: (v * 1000 if isinstance(v, float) else v) for k, v in summarise(values).items()}  # noqa: E731
    per_tool = {name: {"step": ms([s for s, t in zip(steps, tools, strict=True) if t == name]),
                       "own": ms([o for o, t in zip(own, tools, strict=True) if t == name]),
                       "bare": ms([b for b, t in zip(bares, tools, strict=True) if t == name])}
                for name in sorted(set(tools))}
    extra = {}
    if fake_cpu:  # separate process only
        # The fake's CPU holds its handlers' (~service, without --latency): take off the larger.
        own_less_cpu = [s - max(v, c) for s, v, c in zip(steps, services, fake_cpu, strict=True)]
        extra = {"fake_cpu": ms(fake_cpu), "less_fake_cpu": ms(own_less_cpu)}
        for name, rows in per_tool.items():
            rows["fake_cpu"] = ms([c for c, t in zip(fake_cpu, tools, strict=True) if t == name])
            rows["less_fake_cpu"] = ms([o for o, t in zip(own_less_cpu, tools, strict=True) if t == name])
    return {"step": ms(steps), "service": ms(services), "own": ms(own), "bare": ms(bares), "over_bare": ms(over_bare),
            "per_tool": per_tool, **extra}


async def acks_under_load(atom, google, args, person) -> dict:
    async def acks(n: int) -> list[float]:
        out = []
        for _ in range(n):
            started = time.perf_counter()
            response = await atom.client.command("help")
            if response.status != 200:
                raise RuntimeError(f"ack failed: {response.status}")
            out.append(time.perf_counter() - started)
        return out

    await acks(30)  # warm-up
    quiet = await acks(args.acks)
    await google.set_delay(args.delay)
    stop = asyncio.Event()
    in_flight = 0
    seen: list[int] = []

    async def keep_one_going():
        nonlocal in_flight
        while not stop.is_set():
            in_flight += 1
            try:
                await atom.runtime.connectors.run_action(person, "calendar.list_events", {})
            finally:
                in_flight -= 1

    workers = [asyncio.create_task(keep_one_going()) for _ in range(args.slow)]
    while await google.in_flight() < args.slow:  # noqa: ASYNC110 (the fake counts what it holds)
        await asyncio.sleep(0.05)
    busy = []
    for _ in range(args.acks):
        seen.append(await google.in_flight())
        busy += await acks(1)
    stop.set()
    await asyncio.gather(*workers)
    await google.set_delay(args.latency)
    q, b = sorted(quiet), sorted(busy)
    return {
        "quiet_ms": {"p50": percentile(q, 50) * 1000, "p99": percentile(q, 99) * 1000, "max": q[-1] * 1000},
        "busy_ms": {"p50": percentile(b, 50) * 1000, "p99": percentile(b, 99) * 1000, "max": b[-1] * 1000},
        "p99_ratio": percentile(b, 99) / percentile(q, 99),
        "slow_calls_in_flight": {"min": min(seen), "max": max(seen)},
    }


def print_report(report: dict) -> None:
    t = report["tool_steps"]
    print(f"Fake Google: {report['fake_google']}; load average at start {report['load_average']:.2f}")
    print(f"Tool steps (n={t['step']['count']}): ms      p50     p99     max")
    for name in ("step", "service", "own", "bare", "over_bare", "fake_cpu", "less_fake_cpu"):
        if name not in t:
            continue
        row = t[name]
        print(f"  {name:<17}       {row['p50']:7.2f} {row['p99']:7.2f} {row['max']:7.2f}")
    for name, rows in t["per_tool"].items():
        print(f"  {name:<20} step p50 {rows['step']['p50']:6.2f}  own p50 {rows['own']['p50']:6.2f}"
              f"  p99 {rows['own']['p99']:6.2f}  bare p50 {rows['bare']['p50']:6.2f}")
    if "fake_cpu" in t:
        each = ", ".join(f"{name} {rows['fake_cpu']['p50']:.2f} / {rows['less_fake_cpu']['p50']:.2f}"
                         for name, rows in t["per_tool"].items())
        print(f"  fake_cpu / less_fake_cpu p50 per tool: {each}")
    print(f"  goal: own p50 <= 5 ms -> {'met' if t['own']['p50'] <= 5 else 'NOT met'}"
          f" (step - the same requests made bare: {t['over_bare']['p50']:.2f} ms p50)")
    a = report["acks"]
    print("Acks of /atom help: ms   p50     p99     max")
    for name in ("quiet_ms", "busy_ms"):
        row = a[name]
        print(f"  {name[:-3]:<8}                {row['p50']:7.2f} {row['p99']:7.2f} {row['max']:7.2f}")
    flight = a["slow_calls_in_flight"]
    print(f"  busy: {flight['min']}–{flight['max']} slow Google calls in flight while measured")
    print(f"  p99 busy/quiet = {a['p99_ratio']:.2f} x (goal <= 1.5 x) -> {'met' if a['p99_ratio'] <= 1.5 else 'NOT met'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--answers", type=int, default=200)
    parser.add_argument("--acks", type=int, default=300)
    parser.add_argument("--slow", type=int, default=20)
    parser.add_argument("--delay", type=float, default=2.0)
    parser.add_argument("--latency", type=float, default=0.0,
                        help="seconds the fake Google holds every API call, as a remote Google's round trip would "
                             "(counted as service time, so 'own' stays Atom's)")
    parser.add_argument("--fake-in-process", action="store_true",
                        help="run the fake Google in a thread of this process (the old way) instead of its own process")
    parser.add_argument("--json", action="store_true")
    return run_and_report(bench, parser.parse_args(), print_report)


if __name__ == "__main__":
    raise SystemExit(main())
