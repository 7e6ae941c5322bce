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

A restart loads every enabled workflow's `next_run_at`; one that passed while Atom was down fires
at once and goes through step 2. APScheduler's own misfire check is off (`misfire_grace_time=None`)
because the grace decision needs the stored due time, which only the table has. Runs start as
tasks of their own, so a slow run never holds the scheduler or a later occurrence back.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from bot.storage.models import Workflow, utcnow
from bot.storage.repositories.workflows import Workflows
from bot.workflows import timing
from bot.workflows.spec import WorkflowSpec

log = logging.getLogger(__name__)

# A job may fire a moment before the stored instant (clock granularity): that still counts as due.
EARLY_TOLERANCE = timedelta(seconds=1)

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
        try:
            await self.fire(workflow_id)
        except Exception:  # one workflow's trouble must not stop the scheduler; it is retried
            log.exception("workflow %s could not be started", workflow_id)
            self.arm(workflow_id, self.clock() + timedelta(minutes=1))

    async def fire(self, workflow_id: str) -> str | None:
        """Handle a due job; the run id started here, or None."""
        workflow = await self.workflows.get(workflow_id)
        if workflow is None or workflow.status != "enabled" or workflow.next_run_at is None:
            self.disarm(workflow_id)
            return None
        stored = timing.utc(workflow.next_run_at)
        now = self.clock()
        if stored > now + EARLY_TOLERANCE:  # another replica ran it and moved on
            self.arm(workflow_id, stored)
            return None
        trigger = WorkflowSpec.from_json(workflow.spec).trigger
        due = [stored, *timing.occurrences_between(trigger, stored, now)]
        newest = due[-1]
        late = now - newest > self.grace
        missed = due if late else due[:-1]
        await self.workflows.claim_many(
            [new_run(workflow, at, "schedule", "missed", self.empty_outputs()) for at in missed]
        )
        run_id = None
        if not late:
            run = new_run(workflow, newest, "schedule", "running", self.empty_outputs())
            if await self.workflows.claim(run):
                run_id = run["id"]
        following = timing.next_after(trigger, max(now, newest))
        if not await self.workflows.advance(workflow_id, stored, following, newest):
            current = await self.workflows.get(workflow_id)  # another replica advanced it
            following = current.next_run_at if current is not None and current.status == "enabled" else None
        self.arm(workflow_id, following)
        if missed:
            await self.workflows.record_outcome(workflow_id, "missed")
            log.info("workflow %s missed %d occurrence(s)", workflow_id, len(missed))
        if run_id is not None:
            self.spawn(self.start_run(workflow, run_id, newest, "schedule"))
        return run_id

    def spawn(self, coro) -> asyncio.Task:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self, timeout: float) -> bool:  # noqa: ASYNC109
        """Wait for runs in progress (shutdown, tests)."""
        if not self._tasks:
            return True
        done, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        return not pending
