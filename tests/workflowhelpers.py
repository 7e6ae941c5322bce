"""Helpers for workflow scenarios: specs, enabled workflows in the table, waiting for runs."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.identity import Person
from bot.storage.models import Workflow, WorkflowRun, utcnow
from bot.workflows.spec import ModelStep, Output, SlackStep, Trigger, WorkflowSpec

OWNER = Person("", "T1", "U1")
DAILY_9 = "DTSTART;TZID=Europe/London:20261201T090000\nRRULE:FREQ=DAILY"


def daily_trigger(rrule: str = DAILY_9) -> Trigger:
    return Trigger(timezone="Europe/London", description="every day at 9am", rrule=rrule)


def daily_trigger_away_from_now() -> Trigger:
    """Every day at the hour twelve hours from now (London): no occurrence of it falls within the
    minutes a test moves a due time back, whatever the time of day the tests run at (with 9am,
    a test run between 09:00 and 09:30 found that morning's occurrence due as well)."""
    hour = (datetime.now(ZoneInfo("Europe/London")).hour + 12) % 24
    return daily_trigger(f"DTSTART;TZID=Europe/London:20261201T{hour:02d}0000\nRRULE:FREQ=DAILY")


def summary_spec(name: str = "Morning summary", steps=None, output: Output | None = None) -> WorkflowSpec:
    steps = steps or [ModelStep(id="summary", task="summarize", instruction="Summarize my day in one line.")]
    return WorkflowSpec(name=name, trigger=daily_trigger(), steps=steps, output=output or Output())


def message_spec(text: str, name: str = "Hello", trigger: Trigger | None = None) -> WorkflowSpec:
    return WorkflowSpec(name=name, trigger=trigger or daily_trigger(), steps=[SlackStep(id="say", text=text)])


async def enabled(atom_or_runtime, spec: WorkflowSpec, *, person: Person = OWNER, due_in: float | None = None) -> str:
    """Create and Enable a workflow as its owner would; optionally make it due `due_in` s from now."""
    runtime = getattr(atom_or_runtime, "runtime", atom_or_runtime)
    service = runtime.workflow_service
    workflow_id = await service.create_draft(person, spec)
    await service.enable(person, workflow_id)
    if due_in is not None:
        await set_due(runtime, workflow_id, utcnow() + timedelta(seconds=due_in))
    return workflow_id


async def set_due(runtime, workflow_id: str, when: datetime, *, arm: bool = True) -> None:
    await runtime.workflows.update(workflow_id, next_run_at=when)
    if arm:
        runtime.workflow_scheduler.arm(workflow_id, when)


async def runs(runtime, workflow_id: str | None = None) -> list[WorkflowRun]:
    query = select(WorkflowRun).order_by(WorkflowRun.due_at)
    if workflow_id is not None:
        query = query.where(WorkflowRun.workflow_id == workflow_id)
    async with runtime.sessions() as session:
        return list((await session.execute(query)).scalars())


async def workflow(runtime, workflow_id: str) -> Workflow:
    async with runtime.sessions() as session:
        return await session.get(Workflow, workflow_id)


async def wait_for_runs(runtime, workflow_id: str | None, count: int, *, finished: bool = True, timeout: float = 15.0):  # noqa: ASYNC109
    """Poll the table until `count` runs (finished ones, by default) exist."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = [r for r in await runs(runtime, workflow_id) if not finished or r.status != "running"]
        if len(found) >= count:
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"expected {count} runs, found {[(r.status, r.error) for r in found]}")
        await asyncio.sleep(0.05)
