"""Per-call cost of Atom's whole answer path, against a bare litellm call and a raw aiohttp POST.

What it measures
    Three ways of getting the same streamed answer from the same local fake OpenAI endpoint
    (`tests.fakes.providers.FakeProviders`, OpenAI wire format, one reply text cut into
    `--chunk-size`-character SSE chunks, no delays), `--calls` sequential calls each, timed with
    `perf_counter_ns` around one awaited call:

    * atom - `ConversationService.respond(Ask(...), reply)` built as the bot builds it: a
      `Runtime.open(load_settings(env))` on a temporary SQLite database (migrated, production
      pragmas), one OpenAI key stored with `runtime.vault.save(...)`, and
      `ConversationService(runtime, runtime.memory, runtime.usage, runtime.cooldowns)`. The Reply
      is a no-op (post/status/append/finish do nothing), so this is Atom's own work: pasted-key
      check, vault.usable (key rows from the read cache, AES-GCM open), budget check, plan (preferences + classify +
      routing), message fitting, the streamed litellm call through `ModelCaller` (`stream=True`,
      `include_usage`, `max_retries=0`, timeout), cost, memory.remember and usage.record,
      whatever order `respond` does them in. `use_history=False` and a
      *unique thread key per call* (channel D0BENCH, thread_ts counting up), as for new DM
      threads: no history is read, every call stores two turns and one usage row.
      As in the bot, key rows and settings come from the per-person read caches
      (bot/readcache.py) and the turns and usage rows are queued and written in batches moments
      later (bot/pending.py): those batch writes run on the same event loop between and during
      the following calls, so their cost is inside the figures (see "CPU ms/call" and the SQL
      statements per call in the breakdown); a final flush before the report checks every row
      was written.
    * atom-cold - the same, with the read caches emptied before each call: a person's first
      question in five minutes (or right after a key or settings change) reads their key rows,
      blocks, preferences and budget from SQLite. Reported for context; the goal is on `atom`.
    * litellm - `litellm.acompletion(model="openai/<the model Atom chose>", messages=<exactly
      the messages Atom sent>, max_tokens=<Atom's>, api_key, api_base, stream=True,
      stream_options={"include_usage": True}, timeout, max_retries=0)`, consuming the stream and
      keeping text and usage.
    * raw - one shared `aiohttp.ClientSession` POSTing the very JSON body Atom's call put on the
      wire (captured from the fake), reading the SSE body line by line and json-decoding each
      `data:` line. This is the floor for HTTP + SSE in Python.

    Everything runs on one event loop in one process: the fake provider's own work is in all
    three figures alike, so the *differences* are what matter. All three are warmed up first
    (litellm import and first-call caches, SQLite connections, tokenizer). The timed calls run
    in small alternating blocks (`--block` calls of each path in turn, the order rotating each
    time, a `gc.collect()` before each round): this machine's speed drifts by a fifth within
    seconds (bare litellm's mean moved between 24.7 and 36.2 ms from one 300-call segment to the
    next in one run), far more than the 1 ms in question, and a drift only cancels between paths
    measured within the same fraction of a second. Atom's deferred batch writes are charged to
    Atom: whatever is still queued at the end of an Atom block is written then, inside that block's
    last sample, so none of it lands in a litellm or raw sample. `bare` sends the very request
    Atom sent (the report says so: "same request on all paths").

    Then a diagnostic breakdown pass (`--breakdown-calls`, not part of the headline figures):
    the same Atom call with timers wrapped around the service objects' methods (instance
    attributes only; no product code changes), each followed by one bare litellm call so the
    model call inside Atom can be compared with a bare one made under the same conditions, SQL
    statements and commits counted per call, and
    the pure-Python steps (classify, routing, token counting, token encrypt and decrypt, footer blocks)
    timed on their own. `--profile` adds a cProfile of Atom and of bare litellm calls, with
    each one's own time per call grouped by library and the difference.

How to read the output
    One line per path: p50 / p99 / mean / max ms and CPU ms per call (this process's CPU time,
    fake included, divided by calls). "Atom - litellm p50" is what Atom adds on top of a bare
    litellm call; the goal is <= 1 ms. "litellm - raw p50" is litellm's own cost (context).
    The breakdown lists, per Atom call, the median time spent inside each step of `respond`
    (nested steps are indented and included in their parent), the statements/commits per call,
    and "outside the model call" = respond minus caller.run: Atom's own work before and after
    the call. caller.run minus the interleaved bare litellm p50 is the cost of Atom's call wrapper
    (per-chunk callback, cost, attempts). Timing never fails the script; it only reports. A busy machine
    shows up as p99 far above p50: check `uptime` and compare runs.

Run from the repo root: `python bench/pipeline_overhead.py [--calls 1000] [--block 10] [--json] [--profile]`.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import inspect
import io
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench._common import run_and_report  # noqa: E402
from bot.llm.runtime import set_offline_switches  # noqa: E402

set_offline_switches()  # before anything can import litellm

import aiohttp  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from sqlalchemy import event, func, select  # noqa: E402

from bench._harness import own_time_by_package, summarise  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.conversations import SYSTEM_PROMPT, Ask, ConversationService  # noqa: E402
from bot.identity import Person  # noqa: E402
from bot.llm import routing  # noqa: E402
from bot.llm.classify import classify  # noqa: E402
from bot.llm.models import available_models  # noqa: E402
from bot.llm.pricing import baseline_cost, cost  # noqa: E402
from bot.llm.runtime import load_litellm  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.server import tune_gc  # noqa: E402
from bot.storage.encryption import Crypto, Secret  # noqa: E402
from bot.storage.models import ConversationTurn, UsageRecord, utcnow  # noqa: E402
from bot.views.answers import footer_blocks  # noqa: E402
from tests.fakes.providers import FakeProviders  # noqa: E402
from tests.keyhelpers import OPENAI_KEY  # noqa: E402

GOAL_MS = 1.0
PATHS = ("atom", "atom-cold", "litellm", "raw")
PERSON = Person(enterprise_id="", team_id="T0BENCH01", user_id="U0BENCH01")
CHANNEL = "D0BENCH"
QUESTION = "What is the capital of France, and why did it become the capital? Answer briefly."
ANSWER_WORDS = (
    "Paris became the capital because it sat at the centre of the Capetian kings' domain, on a "
    "defensible island crossing of the Seine, with rich farmland and river trade around it. "
)


class NoopReply:
    """A Reply that does nothing: the measurement is Atom's work, not Slack's."""

    streams = True

    async def post(self, text: str, blocks: list[dict] | None = None) -> None:
        return None

    async def status(self, text: str) -> None:
        return None

    async def step(self, title: str, status: str = "complete", details: str | None = None) -> None:
        return None

    async def append(self, delta: str) -> None:
        return None

    async def finish(self, footer: list, fallback_text: str) -> None:
        return None


class Paths:
    """The three ways of making one call, sharing one fake provider."""

    def __init__(self, service: ConversationService, litellm, providers: FakeProviders, timeout: float):
        self.service = service
        self.litellm = litellm
        self.providers = providers
        self.timeout = timeout
        self.reply = NoopReply()
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=10))
        self._thread = 0
        self.wire: dict | None = None  # the JSON body Atom put on the wire (set after the first call)
        self.last_text = {name: "" for name in PATHS}

    async def close(self) -> None:
        await self.session.close()

    def next_ask(self) -> Ask:
        self._thread += 1
        thread_ts = f"1800000000.{self._thread:06d}"
        return Ask(PERSON, QUESTION, CHANNEL, thread_ts, "dm", use_history=False)

    async def atom(self) -> None:
        result = await self.service.respond(self.next_ask(), self.reply)
        if result is None or not result.answered:
            raise RuntimeError(f"Atom did not answer: {result and result.attempts}")
        self.last_text["atom"] = result.text

    async def atom_cold(self) -> None:
        """As `atom`, for a person whose key rows and settings are not in Atom's read caches (their
        first question in five minutes, or right after any key or settings change)."""
        self.service.vault._cache.clear()
        self.service.usage._settings.clear()
        await self.atom()
        self.last_text["atom-cold"] = self.last_text["atom"]

    async def bare(self) -> None:
        wire = self.wire
        stream = await self.litellm.acompletion(
            model=f"openai/{wire['model']}",
            messages=wire["messages"],
            # litellm puts Atom's max_tokens on the wire as max_completion_tokens for this model
            max_tokens=wire.get("max_tokens", wire.get("max_completion_tokens")),
            api_key=OPENAI_KEY,
            api_base=self.providers.openai_base,
            stream=True,
            stream_options={"include_usage": True},
            timeout=self.timeout,
            max_retries=0,
        )
        parts, usage = [], None
        async for chunk in stream:
            if getattr(chunk, "usage", None):
                usage = chunk.usage
            delta = chunk.choices[0].delta.content if chunk.choices else None
            if delta:
                parts.append(delta)
        if usage is None:
            raise RuntimeError("litellm stream carried no usage")
        self.last_text["litellm"] = "".join(parts)

    async def raw(self) -> None:
        headers = {"Authorization": f"Bearer {OPENAI_KEY}", "Content-Type": "application/json"}
        body = json.dumps(self.wire).encode()
        parts, usage = [], None
        async with self.session.post(
            f"{self.providers.openai_base}/chat/completions",
            data=body,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=self.timeout),
        ) as resp:
            if resp.status != 200:
                raise RuntimeError(f"raw POST got HTTP {resp.status}")
            async for line in resp.content:
                if not line.startswith(b"data: ") or line.startswith(b"data: [DONE]"):
                    continue
                data = json.loads(line[6:])
                usage = data.get("usage") or usage
                for choice in data.get("choices") or ():
                    if text := (choice.get("delta") or {}).get("content"):
                        parts.append(text)
        if usage is None:
            raise RuntimeError("raw stream carried no usage")
        self.last_text["raw"] = "".join(parts)

    def fn(self, name: str):
        return {"atom": self.atom, "atom-cold": self.atom_cold, "litellm": self.bare, "raw": self.raw}[name]


async def all_records_stored(runtime: Runtime, paths: Paths) -> bool:
    """Every Atom answer so far left one usage row and two turns in the database (after a flush)."""
    await runtime.pending.flush()
    async with runtime.engine.connect() as conn:
        usage = (await conn.execute(select(func.count()).select_from(UsageRecord))).scalar()
        turns = (await conn.execute(select(func.count()).select_from(ConversationTurn))).scalar()
    return runtime.pending.dropped == 0 and usage == paths._thread and turns == 2 * paths._thread


async def timed_block(fn, count: int, settle=None) -> tuple[list[float], float]:
    """`count` sequential calls of `fn`: per-call ms and this process's CPU seconds for all of them.
    `settle` (Atom's paths): awaited after the last call and charged to it, so the batch writes
    Atom deferred are paid inside Atom's own samples and never spill into the next block."""
    samples = []
    cpu = time.process_time()
    for i in range(count):
        start = time.perf_counter_ns()
        await fn()
        if settle is not None and i == count - 1:
            await settle()
        samples.append((time.perf_counter_ns() - start) / 1e6)
    return samples, time.process_time() - cpu


def block_medians_diff(a: list[list[float]], b: list[list[float]]) -> float:
    """Median over blocks of (median of a's block - median of b's block next to it): each pair
    ran within a fraction of a second, so a drift of the machine's speed cancels within it."""
    return statistics.median(statistics.median(x) - statistics.median(y) for x, y in zip(a, b, strict=True))


# ---------------------------------------------------------------------------------------------
# Breakdown (diagnostic)
# ---------------------------------------------------------------------------------------------

# (object, method, depth): nested steps are included in the step above them. Steps that a call never
# reaches (e.g. memory.history with use_history=False) are left out of the report.
STEPS = (
    ("vault", "usable", 0),
    ("usage", "gate", 0),
    ("memory", "conversation", 0),
    ("memory", "history", 0),
    ("service", "plan", 0),
    ("service", "_messages", 0),
    ("answers", "begin", 0),
    ("tools", "offer", 0),
    ("caller", "run", 0),
    ("service", "_store", 0),
    ("memory", "remember", 1),
    ("usage", "record", 1),
)
LABELS = {"service": "", "caller": "caller."}


def step_label(owner: str, method: str) -> str:
    return f"{LABELS.get(owner, owner + '.')}{method}"


class StepTimers:
    """Wraps bound methods of the service's own objects with timers (instance attributes only)."""

    def __init__(self, service: ConversationService):
        self.objects = {
            "service": service,
            "vault": service.vault,
            "usage": service.usage,
            "memory": service.memory,
            "caller": service.caller,
            "answers": service.runtime.answers,
            "tools": service.tools,
        }
        self.current: dict[str, float] = defaultdict(float)
        self.samples: dict[str, list[float]] = defaultdict(list)
        self.calls: Counter = Counter()
        self._installed: list[tuple[object, str]] = []

    def install(self) -> None:
        for owner, method, _depth in STEPS:
            obj = self.objects[owner]
            original = getattr(obj, method, None)
            if original is None:  # the product changed: report what exists
                continue

            def make(original=original, label=step_label(owner, method)):
                if not inspect.iscoroutinefunction(original):  # pure steps (plan) stay synchronous

                    def timed_sync(*args, **kwargs):
                        self.calls[label] += 1
                        start = time.perf_counter_ns()
                        try:
                            return original(*args, **kwargs)
                        finally:
                            self.current[label] += (time.perf_counter_ns() - start) / 1e6

                    return timed_sync

                async def timed(*args, **kwargs):
                    self.calls[label] += 1
                    start = time.perf_counter_ns()
                    try:
                        return await original(*args, **kwargs)
                    finally:
                        self.current[label] += (time.perf_counter_ns() - start) / 1e6

                return timed

            setattr(obj, method, make())
            self._installed.append((obj, method))

    def uninstall(self) -> None:
        for obj, method in self._installed:
            delattr(obj, method)  # the class's method shows through again
        self._installed.clear()

    def end_call(self) -> None:
        for owner, method, _depth in STEPS:
            label = step_label(owner, method)
            self.samples[label].append(self.current.get(label, 0.0))
        self.current.clear()


def time_sync(fn, repeat: int) -> float:
    """Mean µs per call of a cheap synchronous function."""
    fn()
    start = time.perf_counter_ns()
    for _ in range(repeat):
        fn()
    return (time.perf_counter_ns() - start) / repeat / 1e3


async def breakdown(paths: Paths, runtime: Runtime, litellm, encryption_key: str, calls: int) -> dict:
    service = paths.service
    timers = StepTimers(service)
    statements = {"n": 0, "commits": 0}

    def on_execute(*_args):
        statements["n"] += 1

    def on_commit(*_args):
        statements["commits"] += 1

    sync_engine = runtime.engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", on_execute)
    event.listen(sync_engine, "commit", on_commit)
    timers.install()
    totals, bare = [], []
    try:
        gc.collect()
        for _ in range(calls):
            start = time.perf_counter_ns()
            await paths.atom()
            totals.append((time.perf_counter_ns() - start) / 1e6)
            timers.end_call()
            # One bare litellm call after each Atom call, outside the SQL listeners' reach (it does no
            # SQL), so caller.run can be compared with a bare call made under the same conditions.
            start = time.perf_counter_ns()
            await paths.bare()
            bare.append((time.perf_counter_ns() - start) / 1e6)
    finally:
        timers.uninstall()
        event.remove(sync_engine, "before_cursor_execute", on_execute)
        event.remove(sync_engine, "commit", on_commit)

    steps = []
    for owner, method, depth in STEPS:
        label = step_label(owner, method)
        if not timers.calls[label]:
            continue
        s = summarise(timers.samples[label])
        steps.append(
            {
                "step": label,
                "depth": depth,
                "calls_per_answer": timers.calls[label] / calls,
                "p50_ms": s["p50"],
                "mean_ms": s["mean"],
            }
        )
    outside = [t - c for t, c in zip(totals, timers.samples["caller.run"], strict=True)]

    # Pure steps on their own, with this run's inputs.
    crypto = Crypto([encryption_key])
    token = crypto.encrypt(OPENAI_KEY)
    profile = classify(QUESTION)
    available = available_models(["openai"])
    plan = routing.plan(profile, available, "balanced", {}, {}, now=utcnow())
    model = plan.candidates[0].model
    messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": QUESTION}]
    pure = {
        "classify": time_sync(lambda: classify(QUESTION), 5000),
        "available_models": time_sync(lambda: available_models(["openai"]), 5000),
        "routing.plan": time_sync(
            lambda: routing.plan(profile, available, "balanced", {}, {}, now=utcnow()), 2000
        ),
        "plan.explain": time_sync(plan.explain, 2000),
        "litellm.token_counter (when fit counts)": time_sync(
            lambda: litellm.token_counter(model=model.litellm_name, messages=messages), 1000
        ),
        "token decrypt (AES-GCM)": time_sync(lambda: crypto.decrypt(token), 5000),
        "token encrypt (AES-GCM)": time_sync(lambda: crypto.encrypt(QUESTION), 5000),
        "cost + baseline_cost": time_sync(lambda: (cost(model, 40, 60), baseline_cost(40, 60)), 5000),
        "footer_blocks": time_sync(
            lambda: footer_blocks("rid", model=model.litellm_name, cost=0.0001, saving=0.001, notes=[]), 2000
        ),
    }
    return {
        "calls": calls,
        "respond": summarise(totals),
        "bare_litellm_interleaved": summarise(bare),
        "steps": steps,
        "outside_model_call": summarise(outside),
        "sql_statements_per_call": statements["n"] / calls,
        "commits_per_call": statements["commits"] / calls,
        "pure_us": pure,
    }


async def profile_paths(paths: Paths, calls: int) -> dict:
    """cProfile `calls` Atom calls and `calls` bare litellm calls; own time per call by library."""
    by_path: dict[str, dict[str, float]] = {}
    top_atom = ""
    for name in ("atom", "litellm"):
        fn = paths.fn(name)
        profiler = cProfile.Profile()
        gc.collect()
        profiler.enable()
        try:
            for _ in range(calls):
                await fn()
        finally:
            profiler.disable()
        by_path[name] = own_time_by_package(profiler, calls)
        if name == "atom":
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime").print_stats(15)
            top_atom = out.getvalue()
    packages = sorted(
        set(by_path["atom"]) | set(by_path["litellm"]),
        key=lambda k: -(by_path["atom"].get(k, 0) - by_path["litellm"].get(k, 0)),
    )
    rows = [
        {
            "package": k,
            "atom_ms": by_path["atom"].get(k, 0.0),
            "litellm_ms": by_path["litellm"].get(k, 0.0),
            "diff_ms": by_path["atom"].get(k, 0.0) - by_path["litellm"].get(k, 0.0),
        }
        for k in packages
    ]
    return {"calls": calls, "by_package": rows, "top_atom": top_atom}


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------


async def bench(args: argparse.Namespace) -> dict:
    report: dict = {
        "calls": args.calls,
        "block": args.block,
        "warmup": args.warmup,
        "reply_chars": args.reply_chars,
        "chunk_size": args.chunk_size,
        "load_average_start": os.getloadavg()[0],
    }
    reply_text = (ANSWER_WORDS * (args.reply_chars // len(ANSWER_WORDS) + 1))[: args.reply_chars]
    encryption_key = Fernet.generate_key().decode()
    with tempfile.TemporaryDirectory(prefix="atom-bench-") as tmp:
        async with FakeProviders(chunk_size=args.chunk_size) as providers:
            providers.reply["openai"] = reply_text
            env = {
                "SLACK_BOT_TOKEN": "xoxb-bench-bot-token",
                "SLACK_SIGNING_SECRET": "bench-signing-secret",
                "SLACK_API_URL": "http://127.0.0.1:9/api/",  # never called: the Reply is a no-op
                "ATOM_DATABASE_URL": f"sqlite+aiosqlite:///{Path(tmp) / 'atom.db'}",
                "ATOM_ENCRYPTION_KEYS": encryption_key,
                "ATOM_PORT": "3000",
                "ATOM_OPENAI_API_BASE": providers.openai_base,
                "ATOM_LLM_TIMEOUT": str(args.timeout),
            }
            settings = load_settings(env)
            tune_gc()  # as `atom run` does
            runtime = await Runtime.open(settings)
            litellm = await asyncio.to_thread(load_litellm)
            await runtime.vault.save(PERSON, "openai", Secret(OPENAI_KEY), {}, scope="personal", check=None)
            service = ConversationService(runtime, runtime.memory, runtime.usage, runtime.cooldowns)
            paths = Paths(service, litellm, providers, settings.llm_timeout)
            try:
                await paths.atom()  # first call: captures the wire body the other two paths send
                paths.wire = providers.requests_for("openai")[-1].json
                report["model"] = paths.wire["model"]
                report["request_bytes"] = len(json.dumps(paths.wire))
                for name in PATHS:
                    for _ in range(args.warmup):
                        await paths.fn(name)()
                texts = paths.last_text
                sent = [r.json for r in providers.requests_for("openai")]
                # the last warm-up call of each path, in PATHS order
                report["same_request_on_all_paths"] = all(
                    body == paths.wire for body in sent[args.warmup - 1 :: args.warmup]
                ) and len(sent) == 1 + args.warmup * len(PATHS)
                report["same_answer_on_all_paths"] = (
                    texts["atom"] == texts["atom-cold"] == texts["litellm"] == texts["raw"] == reply_text
                )
                providers.clear()

                samples: dict[str, list[float]] = {name: [] for name in PATHS}
                blocks: dict[str, list[list[float]]] = {name: [] for name in PATHS}
                cpu: dict[str, float] = dict.fromkeys(PATHS, 0.0)
                atom_paths = ("atom", "atom-cold")
                base, extra = divmod(args.calls, args.block)
                for r in range(base + (1 if extra else 0)):
                    size = args.block if r < base else extra
                    order = PATHS[r % len(PATHS) :] + PATHS[: r % len(PATHS)]
                    gc.collect()
                    for name in order:
                        settle = runtime.pending.flush if name in atom_paths else None
                        block, block_cpu = await timed_block(paths.fn(name), size, settle)
                        samples[name] += block
                        blocks[name].append(block)
                        cpu[name] += block_cpu
                    if r % 20 == 19:
                        providers.clear()  # the fake keeps every request; do not let it grow
                for name in PATHS:
                    report[name] = summarise(samples[name]) | {
                        "cpu_ms_per_call": cpu[name] * 1000 / args.calls
                    }
                report["atom_minus_litellm_block_median_ms"] = block_medians_diff(blocks["atom"], blocks["litellm"])
                report["provider_requests_unexpected"] = len(providers.requests_for("unknown"))
                report["all_records_stored"] = await all_records_stored(runtime, paths)

                if args.breakdown_calls:
                    report["breakdown"] = await breakdown(
                        paths, runtime, litellm, encryption_key, args.breakdown_calls
                    )
                if args.profile:
                    report["profile"] = await profile_paths(paths, args.profile_calls)
            finally:
                await paths.close()
                await runtime.close()
    report["load_average_end"] = os.getloadavg()[0]
    report["atom_minus_litellm_p50_ms"] = report["atom"]["p50"] - report["litellm"]["p50"]
    report["atom_cold_minus_litellm_p50_ms"] = report["atom-cold"]["p50"] - report["litellm"]["p50"]
    report["litellm_minus_raw_p50_ms"] = report["litellm"]["p50"] - report["raw"]["p50"]
    report["goal_met"] = report["atom_minus_litellm_p50_ms"] <= GOAL_MS
    return report


def print_report(r: dict) -> None:
    print(
        f"Pipeline overhead: {r['calls']} sequential streamed calls per path to the fake OpenAI endpoint "
        f"(model {r['model']}, {r['reply_chars']}-char answer in {r['chunk_size']}-char chunks, "
        f"request {r['request_bytes']} B),"
    )
    print(
        f"in alternating blocks of {r['block']} (order rotating) after {r['warmup']} warm-up calls each; "
        f"load average {r['load_average_start']:.2f} -> {r['load_average_end']:.2f}. "
        f"Same request on all paths: {'yes' if r['same_request_on_all_paths'] else 'NO'}; "
        f"same answer: {'yes' if r['same_answer_on_all_paths'] else 'NO'}; "
        f"every answer's turns and usage stored: {'yes' if r['all_records_stored'] else 'NO'}."
    )
    print()
    header = f"{'path':<10} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'max ms':>8} {'CPU ms/call':>12}"
    print(header)
    print("-" * len(header))
    for name in PATHS:
        s = r[name]
        print(
            f"{name:<10} {s['p50']:>8.3f} {s['p90']:>8.3f} {s['p99']:>8.3f} {s['mean']:>8.3f} {s['max']:>8.2f}"
            f" {s['cpu_ms_per_call']:>12.3f}"
        )
    print()
    print(
        f"Atom - litellm p50 = {r['atom_minus_litellm_p50_ms']:.3f} ms "
        f"(goal <= {GOAL_MS:g} ms: {'met' if r['goal_met'] else 'NOT met'}); "
        f"median over blocks of the difference of neighbouring blocks' medians: "
        f"{r['atom_minus_litellm_block_median_ms']:.3f} ms"
    )
    print(
        f"Atom (cold caches) - litellm p50 = {r['atom_cold_minus_litellm_p50_ms']:.3f} ms (a person's first "
        "question in 5 minutes: key rows and settings read from the database; for context)"
    )
    print(f"litellm - raw p50  = {r['litellm_minus_raw_p50_ms']:.3f} ms (litellm's own cost, for context)")

    b = r.get("breakdown")
    if b:
        print()
        print(
            f"Where Atom's time goes ({b['calls']} instrumented calls, (xN) = calls per answer; "
            f"respond p50 {b['respond']['p50']:.3f} ms, "
            f"{b['sql_statements_per_call']:.1f} SQL statements and {b['commits_per_call']:.1f} commits per call):"
        )
        for step in b["steps"]:
            indent = "  " * (step["depth"] + 1)
            label = f"{indent}{step['step']} (x{step['calls_per_answer']:g})"
            print(f"{label:<46} p50 {step['p50_ms']:>7.3f} ms   mean {step['mean_ms']:>7.3f} ms")
        o = b["outside_model_call"]
        print(
            f"  {'respond - caller.run (Atom outside the call)':<44} p50 {o['p50']:>7.3f} ms   mean {o['mean']:>7.3f} ms"
        )
        caller = next(s for s in b["steps"] if s["step"] == "caller.run")
        bare = b["bare_litellm_interleaved"]["p50"]
        print(
            f"  caller.run p50 - bare litellm p50 (interleaved in this pass: {bare:.3f} ms) = "
            f"{caller['p50_ms'] - bare:+.3f} ms (Atom's call wrapper: per-chunk callback, cost, attempts)"
        )
        print("Pure steps on their own (mean µs per call):")
        for name, us in b["pure_us"].items():
            print(f"    {name:<44} {us:>9.1f} µs")
    p = r.get("profile")
    if p:
        print()
        print(
            f"cProfile, own time per call by library ({p['calls']} Atom calls, then {p['calls']} bare litellm "
            "calls; profiling inflates everything, compare the columns):"
        )
        print(f"    {'library':<66} {'atom ms':>8} {'litellm ms':>10} {'diff ms':>8}")
        rest = {"atom_ms": 0.0, "litellm_ms": 0.0, "diff_ms": 0.0}
        for row in p["by_package"]:
            if abs(row["diff_ms"]) >= 0.05:
                print(
                    f"    {row['package']:<66} {row['atom_ms']:>8.3f} {row['litellm_ms']:>10.3f} {row['diff_ms']:>+8.3f}"
                )
            else:
                for k in rest:
                    rest[k] += row[k]
        print(
            f"    {'(everything else, each under 0.05 ms apart)':<66} {rest['atom_ms']:>8.3f} "
            f"{rest['litellm_ms']:>10.3f} {rest['diff_ms']:>+8.3f}"
        )
        total = {k: sum(row[k] for row in p["by_package"]) for k in rest}
        print(
            f"    {'total':<66} {total['atom_ms']:>8.3f} {total['litellm_ms']:>10.3f} {total['diff_ms']:>+8.3f}"
        )
        print()
        print("Top functions by own time in the profiled Atom calls:")
        print(p["top_atom"])
    print(
        "Note: the fake provider runs on the same event loop, so its work is inside all three paths; "
        "compare differences, not absolute figures."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Atom's answer path vs bare litellm vs raw aiohttp, per call (see the module docstring)."
    )
    parser.add_argument("--calls", type=int, default=1000, help="timed calls per path (default 1000)")
    parser.add_argument(
        "--block", type=int, default=10, help="calls per path in each alternating block (default 10)"
    )
    parser.add_argument("--warmup", type=int, default=50, help="warm-up calls per path (default 50)")
    parser.add_argument("--reply-chars", type=int, default=200, help="answer length (default 200)")
    parser.add_argument(
        "--chunk-size", type=int, default=20, help="characters per streamed chunk (default 20)"
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="per-call timeout in s (default 60)")
    parser.add_argument(
        "--breakdown-calls", type=int, default=300, help="instrumented Atom calls for the breakdown (0: skip)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="also cProfile Atom and bare litellm calls, by library"
    )
    parser.add_argument(
        "--profile-calls", type=int, default=300, help="calls per path to profile (default 300)"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead")
    args = parser.parse_args(argv)
    if args.calls < 1 or args.warmup < 1 or not 1 <= args.block <= args.calls or args.reply_chars < 1:
        parser.error("--calls, --warmup, --reply-chars must be positive and 1 <= --block <= --calls")
    return run_and_report(bench, args, print_report)


if __name__ == "__main__":
    raise SystemExit(main())
