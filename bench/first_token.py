"""First-token latency through Atom: provider's first streamed token -> first text at Slack.

What it measures
    A real Atom (`AtomServer` on a real port, started as tests/conftest.py's AtomHarness does, on
    a temporary SQLite database) wired to the fake Slack and the fake providers, with a working
    OpenAI key stored through the key form (a signed view_submission, as tests/keyhelpers.py's
    `give_keys` does). Then, `--runs` times, one at a time: a signed `message.im` event in a
    thread (thread_ts set, its own DM channel, a numbered question) is POSTed to /slack/events;
    Atom acknowledges it, answers through the Assistant path (title, status, model call) and
    streams the answer with chat.startStream / appendStream / stopStream, task cards on: the
    "Choosing a model" card starts the stream before the model call, so the first text is a
    chat.appendStream. The next run starts when the previous stream has stopped.

    The fake provider streams `--chunk-size`-character chunks `--chunk-delay` seconds apart (the
    first text chunk right after the role chunk, the rest spaced out), so the first token is a
    distinct moment. Two clocks, both `time.perf_counter()` in this one process:

    * provider first token - a FakeProviders subclass stamps the moment just before it writes the
      first text chunk of each streamed answer (it wraps the event iterator handed to the fake's
      own stream writer; the fake's code is not changed), keyed by the question number.
    * Slack first text - FakeSlack handlers for chat.startStream / chat.appendStream stamp the
      first call per channel whose `chunks` or `markdown_text` carry text (after the fake has
      read the whole request), answering as the fake's defaults do.

    The difference is Atom's first-token path: litellm parsing the chunk, ModelCaller's
    callback, ThreadReply's first flush and slack_sdk's chat.startStream round trip (including its
    per-request HTTP session set-up) up to the fake reading the request. Everything shares one
    event loop; with one request in flight at a time nothing else competes.

How to read the output
    "provider first token -> Slack first text": p50 / p90 / p99 / max ms over the runs; the goal is
    p99 <= 250 ms (p50 is printed against it too). For context: the ack latency of each event,
    "event POST -> provider first token" (Atom's work before the call: claim, title, status, keys,
    routing, then litellm's request; the fake answers at once) and "event POST -> Slack first
    text" (what a person waits for the first words, minus Slack's own delivery). Every run must
    end in exactly one chat.stopStream carrying the whole answer; mismatches are counted.
    Timing never fails the script; it only reports.

Run from the repo root: `python bench/first_token.py [--runs 50] [--chunk-delay 0.05] [--json]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench._common import run_and_report  # noqa: E402
from bot.llm.runtime import set_offline_switches  # noqa: E402

set_offline_switches()  # before anything can import litellm

from bench._harness import StreamRecorder, atom_stack, summarise  # noqa: E402
from tests.fakes.payloads import message_im_event, next_ts  # noqa: E402
from tests.fakes.providers import FakeProviders  # noqa: E402

GOAL_MS = 250.0
USER = "U0FIRST01"
PROBE = re.compile(rb"first-token probe (\d+)")
ANSWER = "Four. Two plus two is four in any base above four."


class TimedProviders(FakeProviders):
    """FakeProviders that stamps the moment it writes each streamed answer's first text chunk."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.first_token: dict[int, float] = {}

    async def _stream(self, request, behaviour, events, n_preamble):
        match = PROBE.search(await request.read())  # aiohttp caches the body the fake already read
        probe = int(match.group(1)) if match else -1

        def stamped():
            for index, event in enumerate(events):
                if index == n_preamble:  # the fake writes this event right after taking it
                    self.first_token.setdefault(probe, time.perf_counter())
                yield event

        return await super()._stream(request, behaviour, stamped(), n_preamble)


async def one_run(harness, clock: StreamRecorder, probe: int, timeout: float) -> dict:
    channel = f"D0FT{probe:06d}"
    text = f"first-token probe {probe}: what is two plus two?"
    event = message_im_event(text, user=USER, channel=channel, thread_ts=next_ts())
    posted = time.perf_counter()
    response = await harness.client.event(event)
    acked = time.perf_counter()
    try:
        await asyncio.wait_for(clock.stopped(channel).wait(), timeout)
    except TimeoutError:
        return {
            "probe": probe,
            "status": response.status,
            "ack_ms": (acked - posted) * 1000,
            "timed_out": True,
        }
    providers: TimedProviders = harness.providers
    first_token = providers.first_token.get(probe)
    first_text = clock.first_text.get(channel)
    row = {
        "probe": probe,
        "status": response.status,
        "ack_ms": (acked - posted) * 1000,
        "timed_out": False,
        "text_ok": clock.text.get(channel) == ANSWER,
    }
    if first_token is not None and first_text is not None:
        row["token_to_slack_ms"] = (first_text - first_token) * 1000
        row["post_to_token_ms"] = (first_token - posted) * 1000
        row["post_to_slack_ms"] = (first_text - posted) * 1000
    return row


async def bench(args: argparse.Namespace) -> dict:
    report: dict = {
        "runs": args.runs,
        "warmup": args.warmup,
        "chunk_delay_s": args.chunk_delay,
        "chunk_size": args.chunk_size,
        "load_average_start": os.getloadavg()[0],
    }
    providers = TimedProviders(chunk_size=args.chunk_size, chunk_delay=args.chunk_delay)
    providers.reply["openai"] = ANSWER
    async with atom_stack(providers, users=[USER]) as harness:
        clock = StreamRecorder(harness.slack)
        rows = []
        for probe in range(args.warmup + args.runs):
            row = await one_run(harness, clock, probe, args.timeout)
            if probe >= args.warmup:
                rows.append(row)
        await asyncio.sleep(0.2)  # a late duplicate stop would show up here
        await harness.runtime.inflight.drain(5)
        channels = [f"D0FT{r['probe']:06d}" for r in rows]
        report["timed_out"] = sum(1 for r in rows if r["timed_out"])
        report["non_200_acks"] = sum(1 for r in rows if r["status"] != 200)
        report["wrong_text"] = sum(1 for r in rows if not r["timed_out"] and not r["text_ok"])
        report["stops_not_exactly_one"] = sum(1 for c in channels if clock.stops.get(c, 0) != 1)
        # Task cards (Slack's task_update chunks: "Choosing a model", …) stream before the text.
        report["task_cards"] = sum(
            1
            for call in harness.slack.calls
            if call.method in ("chat.startStream", "chat.appendStream", "chat.stopStream")
            for chunk in call.params.get("chunks") or []
            if isinstance(chunk, dict) and chunk.get("type") == "task_update"
        )
        report["provider_requests"] = len(harness.providers.requests_for("openai"))
        report["model"] = (
            harness.providers.requests_for("openai")[-1].model if report["provider_requests"] else None
        )
    ok = [r for r in rows if "token_to_slack_ms" in r]
    report["measured"] = len(ok)
    report["token_to_slack_ms"] = summarise([r["token_to_slack_ms"] for r in ok])
    report["ack_ms"] = summarise([r["ack_ms"] for r in rows])
    report["post_to_token_ms"] = summarise([r["post_to_token_ms"] for r in ok])
    report["post_to_slack_ms"] = summarise([r["post_to_slack_ms"] for r in ok])
    report["goal_met"] = report["token_to_slack_ms"]["p99"] <= GOAL_MS
    report["load_average_end"] = os.getloadavg()[0]
    return report


def print_report(r: dict) -> None:
    print(
        f"First token: {r['runs']} threaded DMs to a real Atom, one at a time, after {r['warmup']} warm-up runs; "
        f"fake OpenAI ({r['model']}) streams {r['chunk_size']}-char chunks {r['chunk_delay_s'] * 1000:.0f} ms apart."
    )
    print(f"Load average {r['load_average_start']:.2f} -> {r['load_average_end']:.2f}.")
    print()
    header = f"{'interval':<42} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    print(header)
    print("-" * len(header))
    for key, label in (
        ("token_to_slack_ms", "provider first token -> Slack first text"),
        ("ack_ms", "event POST -> ack (context)"),
        ("post_to_token_ms", "event POST -> provider first token (ctx)"),
        ("post_to_slack_ms", "event POST -> Slack first text (context)"),
    ):
        s = r[key]
        print(f"{label:<42} {s['p50']:>8.2f} {s['p90']:>8.2f} {s['p99']:>8.2f} {s['max']:>8.2f}")
    print()
    print(
        f"Goal: provider first token -> Slack first text p99 <= {GOAL_MS:.0f} ms: "
        f"{'met' if r['goal_met'] else 'NOT met'} (p50 {r['token_to_slack_ms']['p50']:.2f} ms)."
    )
    print(
        f"Runs measured {r['measured']}/{r['runs']}; timed out {r['timed_out']}, non-200 acks {r['non_200_acks']}, "
        f"wrong streamed text {r['wrong_text']}, channels without exactly one chat.stopStream "
        f"{r['stops_not_exactly_one']}; provider requests {r['provider_requests']} (incl. warm-up); "
        f"task cards streamed {r['task_cards']} (incl. warm-up)."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Provider's first streamed token -> first text at Slack, through a real Atom (see the docstring)."
    )
    parser.add_argument("--runs", type=int, default=50, help="measured runs (default 50)")
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured runs first (default 5)")
    parser.add_argument(
        "--chunk-delay", type=float, default=0.05, help="seconds between chunks (default 0.05)"
    )
    parser.add_argument("--chunk-size", type=int, default=8, help="characters per chunk (default 8)")
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="max wait for one answer in s (default 30)"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 0 or args.chunk_delay < 0 or args.chunk_size < 1:
        parser.error("--runs and --chunk-size must be positive, --warmup and --chunk-delay not negative")
    return run_and_report(bench, args, print_report)


if __name__ == "__main__":
    raise SystemExit(main())
