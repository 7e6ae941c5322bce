"""Start-up time and memory of `python -m bot run` (HTTP mode), measured from outside the process.

What it measures
    Each run spawns `python -m bot run` in a fresh temporary working directory (so the default
    SQLite database `atom.db` and its key file `atom.db.key` are created there: a first start,
    migrations included), with SLACK_BOT_TOKEN=xoxb-bench, a signing secret, SLACK_API_URL
    pointing at a FakeSlack served by this script, and ATOM_PORT set to a free port. litellm's
    offline switches are set in the child's environment too, so nothing reaches the internet.

    * time to first ack - from just before the spawn, a signed `/atom help` slash command is sent
      every 20 ms (connection refused and errors just mean "not yet") until the first HTTP 200.
      This covers interpreter start, imports, configuration, migrations, the HTTP listener and
      the first request itself (Slack's `auth.test` is made during start-up, against the fake Slack).
    * RSS at first ack - VmRSS from /proc/<pid>/status right after that 200.
    * idle RSS - Atom imports litellm in a background thread after it starts listening. The RSS
      and CPU time of the process are sampled every 100 ms until, over the last `--settle`
      seconds (default 2), RSS grew by less than 1 MB and the process used under 10% of a CPU,
      or `--idle-timeout` (default 30 s) after the first ack. "litellm mapped" says whether
      litellm's native extension is in the process's memory map by then (it is loaded during
      the import, so "no" means the background load never got going).
    * shutdown - SIGTERM, then the exit code and how long the process took to exit.

How to read the output
    One line per run, then the median of each column. Goals: first ack <= 2 s, idle RSS <= 250 MB
    (MB here is 2^20 bytes, as VmRSS is reported in kB). Exit code 0 is a clean shutdown. Timing
    never fails the script; a run that never acknowledged is reported with the tail of its log.
    Start-up time depends on the page cache (the first run after a reboot or an install is
    slower) and on other processes competing for the CPU.

Run from the repo root: `python bench/startup.py [--runs 3] [--json]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlencode

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bot.llm.runtime import OFFLINE_ENV, set_offline_switches  # noqa: E402

set_offline_switches()  # before anything can import litellm (nothing here should)

import aiohttp  # noqa: E402

from tests.fakes.payloads import command_payload  # noqa: E402
from tests.fakes.signing import sign  # noqa: E402
from tests.fakes.slack import FakeSlack  # noqa: E402

BOT_TOKEN = "xoxb-bench"
SIGNING_SECRET = "bench-signing-secret"
POLL_INTERVAL = 0.020
SAMPLE_INTERVAL = 0.100
FIRST_ACK_GOAL_S = 2.0
IDLE_RSS_GOAL_MB = 250.0
RSS_STABLE_MB = 1.0
IDLE_CPU_SHARE = 0.10
LITELLM_MARKER = "litellm/rust_bridge/"  # a native extension litellm loads during its import
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    run: int
    first_ack_s: float | None = None
    attempts: int = 0
    rss_at_ack_mb: float | None = None
    idle_rss_mb: float | None = None
    peak_rss_mb: float | None = None
    idle_after_s: float | None = None  # seconds from spawn until RSS and CPU settled
    settled: bool = False
    litellm_mapped: bool = False
    exit_code: int | None = None
    stop_s: float | None = None
    error_lines: int = 0
    problem: str = ""


# ---------------------------------------------------------------------------------------------
# /proc readings
# ---------------------------------------------------------------------------------------------


def rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime, all threads


def litellm_mapped(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/maps") as fh:
            return any(LITELLM_MARKER in line for line in fh)
    except OSError:
        return False


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# One run
# ---------------------------------------------------------------------------------------------


def child_env(slack: FakeSlack, port: int) -> dict[str, str]:
    # The child's configuration is exactly this: nothing Atom reads is inherited from the caller.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ATOM_", "LITELLM_"))}
    env.update(
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.url,
            "ATOM_PORT": str(port),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        }
    )
    env.update(OFFLINE_ENV)
    return env


def signed_help(slack: FakeSlack) -> tuple[bytes, dict[str, str]]:
    fields = command_payload("help", response_url=f"{slack.response_url_base}commands/bench")
    body = urlencode(fields).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": sign(SIGNING_SECRET, timestamp, body),
    }
    return body, headers


async def wait_first_ack(
    proc: asyncio.subprocess.Process, slack: FakeSlack, url: str, started: float, deadline: float, result: Run
) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        next_try = started
        while time.perf_counter() < deadline and proc.returncode is None:
            result.attempts += 1
            body, headers = signed_help(slack)
            try:
                async with session.post(url, data=body, headers=headers) as resp:
                    await resp.read()
                    if resp.status == 200:
                        result.first_ack_s = time.perf_counter() - started
                        result.rss_at_ack_mb = rss_mb(proc.pid)
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass  # not listening yet
            next_try += POLL_INTERVAL
            await asyncio.sleep(max(0.0, next_try - time.perf_counter()))


async def wait_idle(
    proc: asyncio.subprocess.Process, started: float, args: argparse.Namespace, result: Run
) -> None:
    """Sample RSS and CPU until both settle over `args.settle` seconds, or `args.idle_timeout` passes."""
    deadline = time.perf_counter() + args.idle_timeout
    samples: list[tuple[float, float, float]] = []  # (time, rss MB, cpu s)
    while time.perf_counter() < deadline and proc.returncode is None:
        now, rss, cpu = time.perf_counter(), rss_mb(proc.pid), cpu_seconds(proc.pid)
        if rss is None or cpu is None:
            break
        samples.append((now, rss, cpu))
        result.peak_rss_mb = max(result.peak_rss_mb or 0.0, rss)
        window = [s for s in samples if s[0] >= now - args.settle]
        if now - samples[0][0] >= args.settle and window:
            t0, rss0, cpu0 = window[0]
            span = now - t0
            if (
                span >= args.settle * 0.9
                and rss - rss0 < RSS_STABLE_MB
                and (cpu - cpu0) < IDLE_CPU_SHARE * span
            ):
                result.settled = True
                break
        await asyncio.sleep(SAMPLE_INTERVAL)
    if samples:
        result.idle_rss_mb = samples[-1][1]
        result.idle_after_s = samples[-1][0] - started
    result.litellm_mapped = litellm_mapped(proc.pid)


async def one_run(n: int, slack: FakeSlack, args: argparse.Namespace) -> tuple[Run, str]:
    result = Run(run=n)
    with tempfile.TemporaryDirectory(prefix="atom-startup-") as tmp:
        port = free_port()
        log_path = Path(tmp) / "atom.log"
        log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            started = time.perf_counter()
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                cwd=tmp,
                env=child_env(slack, port),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_fd,
                stderr=asyncio.subprocess.STDOUT,
            )
            try:
                url = f"http://127.0.0.1:{port}/slack/events"
                await wait_first_ack(proc, slack, url, started, started + args.ack_timeout, result)
                if result.first_ack_s is None:
                    result.problem = (
                        f"exited with code {proc.returncode} before acknowledging"
                        if proc.returncode is not None
                        else f"no HTTP 200 within {args.ack_timeout:g} s"
                    )
                else:
                    await wait_idle(proc, started, args, result)
            finally:
                if proc.returncode is None:
                    stop_started = time.perf_counter()
                    proc.send_signal(signal.SIGTERM)
                    try:
                        async with asyncio.timeout(args.stop_timeout):
                            await proc.wait()
                        result.stop_s = time.perf_counter() - stop_started
                    except TimeoutError:
                        proc.kill()
                        await proc.wait()
                        result.problem += f" did not exit within {args.stop_timeout:g} s of SIGTERM (killed)"
                else:
                    await proc.wait()
                result.exit_code = proc.returncode
        finally:
            os.close(log_fd)
        log_text = log_path.read_text(errors="replace")
    result.error_lines = sum(1 for line in log_text.splitlines() if " ERROR " in line or "Traceback" in line)
    return result, log_text


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def _median(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _fmt(value: float | None, spec: str) -> str:
    """`value` formatted with `spec`, or a dash padded to the same width."""
    if value is None:
        return "-".rjust(len(format(0, spec)))
    return format(value, spec)


def summarise(runs: list[Run]) -> dict:
    return {
        "first_ack_s": _median([r.first_ack_s for r in runs]),
        "rss_at_ack_mb": _median([r.rss_at_ack_mb for r in runs]),
        "idle_rss_mb": _median([r.idle_rss_mb for r in runs]),
        "peak_rss_mb": _median([r.peak_rss_mb for r in runs]),
        "idle_after_s": _median([r.idle_after_s for r in runs]),
        "stop_s": _median([r.stop_s for r in runs]),
    }


def print_report(runs: list[Run], median: dict, logs: list[str]) -> None:
    ok = {True: "yes", False: "NO", None: "n/a"}
    print("Start-up of `python -m bot run` (HTTP mode, fresh SQLite database and key file each run)")
    print()
    header = (
        f"{'run':>3} {'first ack s':>11} {'polls':>5} {'RSS@ack MB':>10} {'idle RSS MB':>11} {'peak MB':>8}"
        f" {'idle at s':>9} {'settled':>7} {'litellm':>7} {'exit':>4} {'stop s':>6} {'errors':>6}"
    )
    print(header)
    print("-" * len(header))
    for r in runs:
        print(
            f"{r.run:>3} {_fmt(r.first_ack_s, '11.3f')} {r.attempts:>5} {_fmt(r.rss_at_ack_mb, '10.1f')}"
            f" {_fmt(r.idle_rss_mb, '11.1f')} {_fmt(r.peak_rss_mb, '8.1f')} {_fmt(r.idle_after_s, '9.1f')}"
            f" {ok[r.settled]:>7} {ok[r.litellm_mapped]:>7} {_fmt(r.exit_code, '4d')} {_fmt(r.stop_s, '6.2f')}"
            f" {r.error_lines:>6}"
        )
        if r.problem:
            print(f"    problem: {r.problem.strip()}")
    print(
        f"{'med':>3} {_fmt(median['first_ack_s'], '11.3f')} {'':>5} {_fmt(median['rss_at_ack_mb'], '10.1f')}"
        f" {_fmt(median['idle_rss_mb'], '11.1f')} {_fmt(median['peak_rss_mb'], '8.1f')}"
        f" {_fmt(median['idle_after_s'], '9.1f')} {'':>7} {'':>7} {'':>4} {_fmt(median['stop_s'], '6.2f')}"
    )
    print()
    first, idle = median["first_ack_s"], median["idle_rss_mb"]
    print(
        f"goal first ack <= {FIRST_ACK_GOAL_S:g} s (median)  : {ok[None if first is None else first <= FIRST_ACK_GOAL_S]}"
    )
    print(
        f"goal idle RSS <= {IDLE_RSS_GOAL_MB:g} MB (median): {ok[None if idle is None else idle <= IDLE_RSS_GOAL_MB]}"
    )
    print(f"clean shutdown (exit code 0 on SIGTERM, every run): {ok[all(r.exit_code == 0 for r in runs)]}")
    for r, text in zip(runs, logs, strict=True):
        if r.problem or r.error_lines:
            print(f"\n--- log of run {r.run} (last 20 lines) ---")
            print("\n".join(text.splitlines()[-20:]))


async def bench(args: argparse.Namespace) -> tuple[list[Run], list[str]]:
    runs, logs = [], []
    async with FakeSlack() as slack:
        for n in range(1, args.runs + 1):
            run, log_text = await one_run(n, slack, args)
            runs.append(run)
            logs.append(log_text)
    return runs, logs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Start-up time and memory of `python -m bot run` (see the module docstring)."
    )
    parser.add_argument("--runs", type=int, default=3, help="number of start-ups (default 3)")
    parser.add_argument(
        "--ack-timeout", type=float, default=30.0, help="max wait for the first 200, s (default 30)"
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=30.0,
        help="max wait for RSS to settle after the first ack, s (default 30)",
    )
    parser.add_argument(
        "--settle", type=float, default=2.0, help="RSS/CPU quiet window that means idle, s (default 2)"
    )
    parser.add_argument(
        "--stop-timeout", type=float, default=30.0, help="max wait for exit after SIGTERM, s (default 30)"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    runs, logs = asyncio.run(bench(args))
    median = summarise(runs)
    if args.json:
        print(
            json.dumps(
                {
                    "runs": [asdict(r) for r in runs],
                    "median": median,
                    "goals": {"first_ack_s": FIRST_ACK_GOAL_S, "idle_rss_mb": IDLE_RSS_GOAL_MB},
                },
                indent=2,
            )
        )
    else:
        print_report(runs, median, logs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
