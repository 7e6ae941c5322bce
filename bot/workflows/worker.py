"""Workflow runs in a worker process, so the process that acknowledges Slack never does run work.

`atom run` (the parent) keeps APScheduler and the claims (`scheduler.py`: cheap, and exactly once
across processes); each claimed run is handed to a child, `python -m bot worker`, which builds its
own `Runtime` (engine, vault, Slack client, connectors, model caller) from the same configuration
and starts every run it receives at once, up to ATOM_WORKFLOW_CONCURRENCY. The parent's event loop
only writes a line per run; a thousand runs due at 9:00 cost the child's CPU, not the acks'.

The protocol: JSON lines, ids only (never a key, a token or a spec; the child reads what it needs
from the database, decrypting as any run does).

    parent → child, on the child's stdin:   {"run": id, "workflow": id, "due": iso, "trigger": t}
                                            end of file: finish the runs in flight and exit
    child → parent, on a pipe of its own:   {"ready": pid}
                                            {"started": run id}   written before the run begins
                                            {"done": run id, "status": s}   once it is recorded
                                            {"alive": 1}   every `--heartbeat` seconds, from its loop

The child writes "started" with a blocking write before the run's first step, and the parent
reads the pipe to its end before it treats a dead child, so a run the parent never heard start
provably did nothing: it goes to the next child. A run that started and was not done when the
child died is recorded as failed (only if still recorded as running) and its owner told, as for
any failure: its steps may have had effects, so it is not run again. The child is restarted
with backoff (1 s doubling to 60 s; back to 1 s once a child has lived a minute). On shutdown the
parent sends what is queued, closes the child's stdin, and waits for it to finish its runs
(bounded by the same grace as replies); runs still unfinished then are recorded as failed.

A child whose event loop hangs (a deadlock, a step that never yields, a stopped process) would
hold its runs and take no more without dying. Its heartbeat is written by its event loop, so the
parent treats `hung_after` seconds without any line from a child that has spoken before as a
hang: it kills the child, and its runs go as for any death (never started: to the next child;
started: recorded as failed, owner told). A child still starting has `STARTUP_ALLOWANCE` seconds
to say anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.storage.models import utcnow

log = logging.getLogger(__name__)

BACKOFF_FIRST, BACKOFF_MAX = 1.0, 60.0
STABLE_AFTER = 60.0  # a child that lived this long resets the backoff
EXTRA_STOP_SECONDS = 5.0
HEARTBEAT_SECONDS = 5.0  # how often a child says it is alive
HUNG_AFTER_SECONDS = 60.0  # silence after which a child that spoke before is taken as hung
STARTUP_ALLOWANCE = 120.0  # silence allowed before a child's first line (imports, migrations…)
# The worker yields the CPU to `atom run` when both want it: a run may take a second longer, an
# acknowledgement has Slack's 3 s deadline. Runs still use every core nobody else needs.
WORKER_NICENESS = 5  # beyond the grace, for the child to record and close before it is killed
DIED = "Atom's workflow worker stopped while this run was in progress (exit code {code}), so it did not finish."
CUT = "Atom was shutting down and this run did not finish within {grace:.0f} seconds."
NOT_STARTED = "Atom was shutting down before this run could start."
HUNG = (
    "Atom's workflow worker stopped responding for {seconds:.0f} seconds while this run was in progress, "
    "so it was restarted and the run did not finish."
)


@dataclass
class Handoff:
    run_id: str
    workflow_id: str
    due_at: datetime
    trigger: str
    started_at: datetime | None = None  # when the parent heard the child start it

    def line(self) -> bytes:
        return (
            json.dumps({"run": self.run_id, "workflow": self.workflow_id, "due": self.due_at.isoformat(),
                        "trigger": self.trigger}) + "\n"
        ).encode()


def child_environment(settings) -> dict[str, str]:
    """The child's environment: this process's own (PATH, HOME, locale, litellm's offline
    switches…) without Atom's configuration variables, then exactly the configuration these
    settings were read from; and this checkout first on PYTHONPATH, so both run the same code."""
    from bot.config import CONFIG_PREFIXES

    env = {k: v for k, v in os.environ.items() if not k.startswith(CONFIG_PREFIXES)}
    env.update(settings.source)
    root = str(Path(__file__).resolve().parent.parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


class WorkerSupervisor:
    """The parent's side: starts the child, hands it claimed runs, restarts it when it dies."""

    def __init__(
        self,
        runtime,
        *,
        command: list[str] | None = None,
        heartbeat: float = HEARTBEAT_SECONDS,
        hung_after: float = HUNG_AFTER_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.runtime = runtime
        self.command = command or [sys.executable, "-m", "bot", "worker"]
        self.heartbeat = heartbeat
        self.hung_after = hung_after
        self.clock = clock  # what silence and a child's lifetime are measured by (tests drive it)
        self._queue: deque[Handoff] = deque()  # claimed, not yet sent to a ready child
        self._sent: dict[str, Handoff] = {}  # sent to the current child, not heard started
        self._running: dict[str, Handoff] = {}  # started in the current child, not done
        self._wake = asyncio.Event()
        self._proc: asyncio.subprocess.Process | None = None
        self._ready = False
        self._stopping = False
        self._task: asyncio.Task | None = None
        self._writer: asyncio.Task | None = None
        self.restarts = 0
        self.hangs = 0  # children killed for not answering
        self.finished = 0  # runs the children reported done
        self.heartbeats = 0  # "alive" lines heard from the children
        self.pid: int | None = None
        self.state = "not started (no workflow armed)"

    @property
    def ready(self) -> bool:
        return self._ready

    @property
    def in_flight(self) -> int:
        return len(self._queue) + len(self._sent) + len(self._running)

    def start(self) -> None:
        """Start the child (once): when the first workflow is armed, not before, so an Atom with no
        workflows costs no second process (litellm alone is ~200 MB in each)."""
        if self._task is None and not self._stopping:
            self.state = "starting"
            self._task = asyncio.create_task(self._supervise(), name="atom-workflow-worker")

    def submit(self, run_id: str, workflow_id: str, due_at: datetime, trigger: str) -> None:
        """A claimed run: sent to the child at once (queued while none is ready)."""
        self.start()
        self._queue.append(Handoff(run_id, workflow_id, due_at, trigger))
        self._wake.set()

    async def stop(self, grace: float) -> None:
        """Let the child finish the runs it has (bounded by `grace`), then record what it could not."""
        self._stopping = True
        self._grace = grace
        self._wake.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), grace + EXTRA_STOP_SECONDS)
        except TimeoutError:
            if self._proc is not None and self._proc.returncode is None:
                log.warning("the workflow worker did not stop within %.0f s: killing it", grace)
                with contextlib.suppress(ProcessLookupError):
                    self._proc.kill()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._lose(list(self._queue), NOT_STARTED)
        self._queue.clear()

    # ---------------------------------------------------------------- the child's life cycle

    async def _supervise(self) -> None:
        backoff = BACKOFF_FIRST
        while not self._stopping:
            began = self.clock()
            try:
                code = await self._one_child()
            except Exception:  # could not even start it (fork failed…): the same as dying
                log.exception("could not start the workflow worker")
                code = None
            if self._stopping:
                break
            if self.clock() - began >= STABLE_AFTER:
                backoff = BACKOFF_FIRST
            self.restarts += 1
            why = "it stopped responding" if code == "hung" else f"exit code {code}"
            self.state = f"restarting ({why})"
            log.error("the workflow worker stopped (%s); restarting it in %.0f s", why, backoff)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wait_stopping(), backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)

    async def _wait_stopping(self) -> None:
        while not self._stopping:
            self._wake.clear()
            await self._wake.wait()

    async def _one_child(self) -> int | str | None:
        read_fd, write_fd = os.pipe()
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *self.command, "--report-fd", str(write_fd), "--heartbeat", str(self.heartbeat),
                stdin=asyncio.subprocess.PIPE, pass_fds=(write_fd,),
                env=child_environment(self.runtime.settings),
            )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)  # the child holds it now: its death is the pipe's end of file
        self.pid = self._proc.pid
        log.info("workflow worker started (pid %d)", self._proc.pid)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=2**20)
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(read_fd, "rb", 0)
        )
        self._writer = asyncio.create_task(self._send(self._proc), name="atom-workflow-worker-send")
        hung = spoke = False
        heard = self.clock()  # when the child last wrote a line (or was started, or killed)
        next_line: asyncio.Future | None = None
        try:
            while True:  # to the end: every report the child wrote
                if next_line is None:
                    next_line = asyncio.ensure_future(reader.readline())
                # Looked at once a heartbeat: the silence is measured by `clock`, not by this wait.
                await asyncio.wait({next_line}, timeout=min(self.heartbeat, self.hung_after))
                if not next_line.done():
                    limit = self.hung_after if spoke else max(self.hung_after, STARTUP_ALLOWANCE)
                    if self.clock() - heard < limit:
                        continue
                    if hung:  # killed, yet its pipe is still open: a grandchild holds it
                        break
                    hung = True
                    self.hangs += 1
                    log.error(
                        "the workflow worker (pid %d) sent nothing for %.0f s: killing it",
                        self._proc.pid,
                        self.hung_after,
                    )
                    with contextlib.suppress(ProcessLookupError):
                        self._proc.kill()
                    heard = self.clock()
                    continue
                line, next_line = next_line.result(), None
                if not line:
                    break
                spoke, heard = True, self.clock()
                self._report(line)
        finally:
            if next_line is not None:
                next_line.cancel()
                await asyncio.gather(next_line, return_exceptions=True)
            transport.close()
            self._ready = False
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
        code = await self._proc.wait()
        never_started = list(self._sent.values())
        self._sent.clear()
        lost = list(self._running.values())
        self._running.clear()
        if self._stopping:
            await self._lose(never_started, NOT_STARTED)
            await self._lose(lost, CUT.format(grace=self._grace))
        else:
            # Never heard to start: provably nothing done, so the next child runs them.
            self._queue.extendleft(reversed(never_started))
            await self._lose(lost, HUNG.format(seconds=self.hung_after) if hung else DIED.format(code=code))
        return "hung" if hung else code

    _grace = 20.0

    def _report(self, line: bytes) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            log.warning("the workflow worker wrote something that is not a report")
            return
        if "started" in message:
            handoff = self._sent.pop(message["started"], None)
            if handoff is not None:
                handoff.started_at = utcnow()
                self._running[handoff.run_id] = handoff
        elif "done" in message:
            self.finished += 1
            self._running.pop(message["done"], None) or self._sent.pop(message["done"], None)
        elif "ready" in message:
            self._ready = True
            self.state = "ready"
            self._wake.set()
        elif "alive" in message:
            self.heartbeats += 1

    async def _send(self, proc: asyncio.subprocess.Process) -> None:
        """Write queued runs to the child once it is ready; close its stdin when stopping."""
        while True:
            if self._ready and self._queue:
                lines = []
                while self._queue:
                    handoff = self._queue.popleft()
                    self._sent[handoff.run_id] = handoff
                    lines.append(handoff.line())
                proc.stdin.write(b"".join(lines))
                try:
                    await proc.stdin.drain()
                except (ConnectionError, BrokenPipeError):
                    return  # it died: the reader sees the end and re-queues what it never started
                continue
            if self._stopping and (self._ready or not self._queue):
                with contextlib.suppress(ConnectionError, BrokenPipeError):
                    proc.stdin.close()  # end of file: finish what you have, then exit
                return
            self._wake.clear()
            await self._wake.wait()

    async def _lose(self, handoffs: list[Handoff], reason: str) -> None:
        """Record runs a child could not finish as failed and tell their owners."""
        if not handoffs:
            return
        log.error("%d workflow run(s) lost: %s", len(handoffs), reason)
        runner = self.runtime.workflow_runner
        try:
            rows = await self.runtime.workflows.many(list({h.workflow_id for h in handoffs}))
        except Exception as exc:
            log.error("could not read the workflows of lost runs (%s)", type(exc).__name__)
            return
        for handoff in handoffs:
            workflow = rows.get(handoff.workflow_id)
            if workflow is not None:
                await runner.record_lost(workflow, handoff.run_id, reason, handoff.started_at)


# -------------------------------------------------------------------- the child: `atom worker`


class _RowBatcher:
    """The workflow rows runs read as their first act, fetched together: every run started in
    one turn of the loop shares one `SELECT … WHERE id IN (…)`."""

    def __init__(self, workflows):
        self.workflows = workflows
        self._pending: dict[str, asyncio.Future] = {}
        self._flush: asyncio.Task | None = None

    async def get(self, workflow_id: str):
        future = self._pending.get(workflow_id)
        if future is None:
            future = self._pending[workflow_id] = asyncio.get_running_loop().create_future()
        if self._flush is None:
            self._flush = asyncio.create_task(self._read())
        return await asyncio.shield(future)

    async def _read(self) -> None:
        await asyncio.sleep(0)  # the runs started in this turn join the read
        batch, self._pending, self._flush = self._pending, {}, None
        try:
            rows = await self.workflows.many(list(batch))
        except Exception as exc:
            for future in batch.values():
                future.set_exception(exc)
            return
        for workflow_id, future in batch.items():
            future.set_result(rows.get(workflow_id))


class _Reports:
    """Blocking writes of one line each on the pipe to the parent (so "started" is out before
    the run begins); lines are far below PIPE_BUF, so each arrives whole."""

    def __init__(self, fd: int):
        self.fd = fd
        os.set_blocking(fd, True)

    def send(self, **message) -> None:
        data = (json.dumps(message) + "\n").encode()
        while data:
            data = data[os.write(self.fd, data):]


async def _beat(reports: _Reports, every: float) -> None:
    """The child's heartbeat, written by its event loop: silence means the loop is stuck."""
    while True:
        await asyncio.sleep(every)
        reports.send(alive=1)


async def serve(settings, report_fd: int, heartbeat: float = HEARTBEAT_SECONDS) -> int:
    """The worker's main loop: runs what arrives on stdin until its end (or SIGTERM), then
    finishes the runs in flight (bounded) and exits."""
    from bot.llm import runtime as llm_runtime
    from bot.runtime import Runtime

    llm_runtime.set_offline_switches()
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)
    reports = _Reports(report_fd)
    beating = asyncio.create_task(_beat(reports, heartbeat), name="atom-worker-heartbeat")
    runtime = await Runtime.open(settings, run_migrations=False)
    llm_runtime.start_background_load()  # as `atom run` does: model steps wait for it if needed
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    slots = asyncio.Semaphore(settings.workflow_concurrency)
    tasks: set[asyncio.Task] = set()
    runner = runtime.workflow_runner

    rows = _RowBatcher(runtime.workflows)

    async def one(message: dict) -> None:
        async with slots:
            reports.send(started=message["run"])
            try:
                report = await runner.run(
                    None, message["run"], datetime.fromisoformat(message["due"]), message["trigger"],
                    load=lambda: rows.get(message["workflow"]),
                )
            except RuntimeError:  # its row could not be read: the parent records it as lost
                return
        reports.send(done=message["run"], status=report.status)

    def take(batch: list[dict]) -> None:
        late = max((utcnow() - datetime.fromisoformat(m["due"])).total_seconds() for m in batch)
        log.info("workflow worker received %d run(s), the latest %.3f s after its due time", len(batch), late)
        for message in batch:
            task = asyncio.create_task(one(message))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    reader = asyncio.StreamReader(limit=2**20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
    reports.send(ready=os.getpid())
    log.info("workflow worker ready (pid %d)", os.getpid())
    stopping = asyncio.create_task(stop.wait())
    pending_bytes = b""
    try:
        while True:
            # A chunk at a time: every run already written joins one batch (one database read).
            reading = asyncio.create_task(reader.read(2**16))
            await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not reading.done():
                reading.cancel()
                break
            chunk = reading.result()
            if not chunk:
                break  # the parent closed stdin (or died): finish and go
            *lines, pending_bytes = (pending_bytes + chunk).split(b"\n")
            batch = [json.loads(line) for line in lines if line.strip()]
            if batch:
                take(batch)
    finally:
        stopping.cancel()
    grace = _drain_seconds()
    if tasks:
        log.info("workflow worker stopping: finishing %d run(s)", len(tasks))
        _done, pending = await asyncio.wait(set(tasks), timeout=grace)
        for task in pending:
            task.cancel()  # the parent records these as cut short
        await asyncio.gather(*pending, return_exceptions=True)
    beating.cancel()
    await runtime.close()
    return 0


def _drain_seconds() -> float:
    from bot.server import SHUTDOWN_GRACE_SECONDS

    return SHUTDOWN_GRACE_SECONDS
