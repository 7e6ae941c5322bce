"""When workflows run: APScheduler 3's AsyncIOScheduler over Atom's workflows table.

The table is the source of truth; the scheduler is an in-memory index of it, rebuilt at start.
Each enabled workflow has one job, id = the workflow id, arguments = the workflow id only, firing
once at the workflow's stored `next_run_at` (a DateTrigger). When it fires:

1. read the workflow; if another replica already moved `next_run_at` on, just follow it;
2. every occurrence from the stored one up to now is due (more than one after downtime or a
   stall): the newest runs if it is at most the grace period late, the rest are recorded as
   `missed`, so the owner sees them in history;
3. the run is claimed by inserting (workflow, due time) into `workflow_runs` (unique): of two
   replicas firing the same occurrence only one inserts, and only that one runs it;
4. `next_run_at` moves to the next occurrence (compare-and-set) and the job is re-armed.

Every job due in one wake-up of the scheduler goes through these steps together: one read, one
insert of all the claims and one batched update, so a thousand workflows due at 9:00 cost a few
statements, not a few thousand.

A restart loads every enabled workflow's `next_run_at`; one that passed while Atom was down fires
at once and goes through step 2. APScheduler's own misfire check is off (`misfire_grace_time=None`)
because the grace decision needs the stored due time, which only the table has. Runs start as
tasks of their own, so a slow run never holds the scheduler or a later occurrence back.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from bot.admission import AdaptiveAdmission
from bot.storage.models import Workflow, utcnow
from bot.storage.repositories.workflows import Workflows
from bot.workflows import timing
from bot.workflows.spec import WorkflowSpec

log = logging.getLogger(__name__)
# APScheduler logs every job added, run and removed at INFO: thousands of lines at each start.
logging.getLogger("apscheduler").setLevel(logging.WARNING)

# A job may fire a moment before the stored instant (clock granularity): that still counts as due.
EARLY_TOLERANCE = timedelta(seconds=1)
# When many workflows fall due at once (every weekday at 9), they are claimed in one transaction
# per batch, and runs go up to a bound, so they queue here instead of exhausting the database pool.
RUN_CONCURRENCY = 200
BATCH_SIZE = 500  # due workflows claimed in one transaction
RETRY_AFTER = timedelta(minutes=1)
# Reading a spec and its next occurrences costs ~0.1–0.3 ms a workflow: a batch of 500 in one go
# would hold the loop (and every Slack acknowledgement) for up to ~100 ms.
YIELD_EVERY = 25

RunStarter = Callable[[Workflow, str, datetime, str], Awaitable[None]]


def new_run(workflow: Workflow, due_at: datetime, trigger: str, status: str, outputs: str) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "workflow_id": workflow.id,
        "enterprise_id": workflow.enterprise_id,
        "team_id": workflow.team_id,
        "user_id": workflow.user_id,
        "due_at": due_at,
        "trigger": trigger,
        "status": status,
        "started_at": utcnow() if status == "running" else None,
        "finished_at": None if status == "running" else utcnow(),
        "steps": [],
        "outputs": outputs,
        "error": "" if status == "running" else "Atom was not running within the grace period of this time.",
        "cost_usd": 0.0,
    }


class WorkflowScheduler:
    """Arms one job per enabled workflow and claims each due occurrence exactly once."""

    def __init__(
        self,
        workflows: Workflows,
        start_run: RunStarter,
        *,
        grace: timedelta,
        empty_outputs: Callable[[], str],
        clock: Callable[[], datetime] = utcnow,
    ):
        self.workflows = workflows
        self.start_run = start_run
        self.grace = grace
        self.empty_outputs = empty_outputs  # an encrypted "{}" for run rows that hold no output
        self.clock = clock
        self._scheduler = AsyncIOScheduler(
            timezone="UTC",
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1000},
        )
        self._tasks: set[asyncio.Task] = set()
        self._pending: set[str] = set()
        self._batcher: asyncio.Task | None = None
        # Runs start at a rate the event loop can take (as answers do), so a thousand workflows
        # due at 9:00 queue here instead of starving the Slack acknowledgements on the same loop.
        self._admission = AdaptiveAdmission(max_active=RUN_CONCURRENCY)
        # The worker process's supervisor (bot/workflows/worker.py) when runs execute there.
        self.handoff = None

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    async def start(self) -> int:
        """Load every enabled workflow from the table and start firing; how many were armed."""
        rows = await self.workflows.scheduled()
        for workflow_id, next_run_at in rows:
            self.arm(workflow_id, next_run_at)
        self._scheduler.start()
        log.info("workflow scheduler started with %d enabled workflows", len(rows))
        return len(rows)

    async def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
            await asyncio.sleep(0)  # AsyncIOScheduler shuts down on its next loop turn

    def arm(self, workflow_id: str, when: datetime | None) -> None:
        """(Re)schedule a workflow's job at `when`; None removes it."""
        if when is None:
            self.disarm(workflow_id)
            return
        if self.handoff is not None:
            self.handoff.start()  # the worker is up before the first run is due
        self._scheduler.add_job(
            self._due,
            DateTrigger(run_date=timing.utc(when)),
            args=[workflow_id],
            id=workflow_id,
            replace_existing=True,
        )

    def disarm(self, workflow_id: str) -> None:
        try:
            self._scheduler.remove_job(workflow_id)
        except JobLookupError:
            pass

    def armed_at(self, workflow_id: str) -> datetime | None:
        job = self._scheduler.get_job(workflow_id)
        return job.next_run_time if job is not None else None

    def job_count(self) -> int:
        return len(self._scheduler.get_jobs())

    async def _due(self, workflow_id: str) -> None:
        """A job fired: queue the workflow; every job due in this wake-up is handled in one batch."""
        self._pending.add(workflow_id)
        if self._batcher is None or self._batcher.done():
            self._batcher = asyncio.create_task(self._drain_due())

    async def _drain_due(self) -> None:
        await asyncio.sleep(0)  # the other jobs of this wake-up join the batch first
        while self._pending:
            batch = list(self._pending)[:BATCH_SIZE]
            self._pending.difference_update(batch)
            try:
                await self.fire(batch)
            except Exception:  # the database may be briefly unreachable: try again shortly
                log.exception("%d due workflows could not be started; retrying in a minute", len(batch))
                for workflow_id in batch:
                    self.arm(workflow_id, self.clock() + RETRY_AFTER)

    async def fire(self, workflow_ids: list[str]) -> list[str]:
        """Claim and start what is due among `workflow_ids`; the run ids started here."""
        began = time.perf_counter()
        rows = await self.workflows.many(workflow_ids)
        now = self.clock()
        runs: list[dict] = []
        advances: list[dict] = []
        starts: list[tuple[Workflow, dict]] = []
        following: dict[str, datetime | None] = {}
        for number, workflow_id in enumerate(workflow_ids):
            if number and number % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # acknowledgements waiting on this loop go first
            workflow = rows.get(workflow_id)
            if workflow is None or workflow.status != "enabled" or workflow.next_run_at is None:
                self.disarm(workflow_id)
                continue
            stored = timing.utc(workflow.next_run_at)
            if stored > now + EARLY_TOLERANCE:  # another replica ran it and moved on
                self.arm(workflow_id, stored)
                continue
            trigger = WorkflowSpec.from_json(workflow.spec).trigger
            due = [stored, *timing.occurrences_between(trigger, stored, now)]
            newest = due[-1]
            late = now - newest > self.grace
            missed = due if late else due[:-1]
            runs.extend(new_run(workflow, at, "schedule", "missed", self.empty_outputs()) for at in missed)
            if not late:
                run = new_run(workflow, newest, "schedule", "running", self.empty_outputs())
                runs.append(run)
                starts.append((workflow, run))
            following[workflow_id] = timing.next_after(trigger, max(now, newest))
            advances.append(
                {
                    "w_id": workflow_id,
                    "expected": workflow.next_run_at,
                    "next_run_at": following[workflow_id],
                    "last_due_at": newest,
                    "last_status": "missed" if late else workflow.last_status,
                    "updated_at": now,
                }
            )
            if missed:
                log.info("workflow %s missed %d occurrence(s)", workflow_id, len(missed))
        won = await self.workflows.settle_due(runs, advances)
        # Both replicas compute the same next occurrence from the same rule, so each re-arms
        # there whether or not its compare-and-set was the one that moved the table on.
        for workflow_id, when in following.items():
            self.arm(workflow_id, when)
        started = []
        for workflow, run in starts:
            if run["id"] in won:
                started.append(run["id"])
                self.dispatch(workflow, run["id"], run["due_at"], "schedule")
        if started:
            log.info("claimed and started %d of %d due workflow(s) in %.3f s", len(started), len(workflow_ids),
                     time.perf_counter() - began)
        return started

    def dispatch(self, workflow: Workflow, run_id: str, due_at: datetime, trigger: str) -> None:
        """Start a claimed run: handed to the worker process when there is one (only the ids
        cross), else run here as a task of its own through the admission."""
        if self.handoff is not None:
            self.handoff.submit(run_id, workflow.id, due_at, trigger)
        else:
            self.spawn(self.start_run(workflow, run_id, due_at, trigger))

    def spawn(self, coro) -> asyncio.Task:
        task = asyncio.create_task(self._bounded(coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _bounded(self, coro) -> None:
        try:
            await self._admission.acquire()
        except BaseException:
            coro.close()
            raise
        try:
            await coro
        finally:
            self._admission.release()

    async def drain(self, timeout: float) -> bool:  # noqa: ASYNC109
        """Wait for runs in progress (shutdown, tests)."""
        if not self._tasks:
            return True
        done, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        return not pending
