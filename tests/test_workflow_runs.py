"""Workflow runs over the real harness: scheduled runs, restarts, misfires, failures, keys at run time."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import select

from bot.storage.models import Workflow, WorkflowRun, utcnow
from bot.workflows import timing
from bot.workflows.spec import ModelStep, SlackStep
from tests.keyhelpers import KEYS, give_keys, settle
from tests.workflowhelpers import (
    OWNER,
    daily_trigger_away_from_now,
    enabled,
    message_spec,
    runs,
    set_due,
    summary_spec,
    wait_for_runs,
    workflow,
)


def dms_to(slack, user: str = "U1"):
    return [c for c in slack.calls_to("chat.postMessage") if c.params.get("channel") == user]


async def test_a_due_workflow_runs_its_model_step_and_dms_the_owner_with_the_cost(atom_sqlite):
    await give_keys(atom_sqlite, "openai")
    atom_sqlite.providers.reply["openai"] = "Three meetings today; the 10:00 moved to 11:00."
    workflow_id = await enabled(atom_sqlite, summary_spec(), due_in=0.3)
    [run] = await wait_for_runs(atom_sqlite.runtime, workflow_id, 1)
    assert run.status == "success", run.error
    assert run.trigger == "schedule" and run.cost_usd > 0
    assert [s["id"] for s in run.steps] == ["summary"] and run.steps[0]["status"] == "success"
    assert isinstance(run.steps[0]["ms"], int)
    await settle(atom_sqlite)
    [dm] = dms_to(atom_sqlite.slack)
    assert "the 10:00 moved to 11:00" in str(dm.params["blocks"]) and "$" in str(dm.params["blocks"])
    [request] = atom_sqlite.providers.requests_for("openai")
    assert not request.stream and "Summarize my day in one line." in request.body
    # The next occurrence is armed from the rule, and the stored next run moved on to it.
    row = await workflow(atom_sqlite.runtime, workflow_id)
    assert row.next_run_at is not None and timing.utc(row.next_run_at) > utcnow()
    assert atom_sqlite.runtime.workflow_scheduler.armed_at(workflow_id) == timing.utc(row.next_run_at)
    assert row.last_status == "success"
    # The cost is in the owner's usage too.
    await atom_sqlite.runtime.pending.flush()
    summary = await atom_sqlite.runtime.usage.month(OWNER)
    assert summary.requests == 1 and summary.spend == run.cost_usd


async def test_later_steps_read_earlier_outputs_and_outputs_are_stored_truncated_and_encrypted(atom_sqlite):
    await give_keys(atom_sqlite, "anthropic")
    atom_sqlite.providers.reply["anthropic"] = "X" * 5000
    spec = summary_spec(
        steps=[
            ModelStep(id="draft", task="draft", instruction="Draft a note."),
            SlackStep(id="post", text="Your note: {{draft}}"),
        ]
    )
    workflow_id = await enabled(atom_sqlite, spec)
    await atom_sqlite.runtime.workflow_service.run_now(OWNER, workflow_id)
    [run] = await wait_for_runs(atom_sqlite.runtime, workflow_id, 1)
    assert run.status == "success", run.error
    assert run.steps[0]["truncated"] is True and run.steps[0]["chars"] == 5000
    assert "XXXX" not in run.outputs  # an encrypted token, not the text
    import json

    outputs = json.loads(atom_sqlite.runtime.crypto.decrypt(run.outputs))
    assert len(outputs["draft"]) == 2000 and outputs["post"].startswith("Your note: XXX")
    [dm] = dms_to(atom_sqlite.slack)
    assert "Your note: XXXX" in str(dm.params["blocks"])


async def test_restart_keeps_workflows_scheduled_and_runs_a_missed_one_within_grace_once(atom_sqlite):
    await give_keys(atom_sqlite, "openai")
    on_time = await enabled(atom_sqlite, message_spec("on time"))
    late = await enabled(atom_sqlite, message_spec("five minutes late", trigger=daily_trigger_away_from_now()))
    runtime = atom_sqlite.runtime
    stored = timing.utc((await workflow(runtime, on_time)).next_run_at)
    await atom_sqlite.stop()
    # While Atom is down, `late`'s occurrence passes (5 minutes ago, grace is 10).
    async with runtime.sessions.begin() as session:
        row = await session.get(Workflow, late)
        row.next_run_at = utcnow() - timedelta(minutes=5)
        due = row.next_run_at
    await atom_sqlite.start()
    runtime = atom_sqlite.runtime
    assert runtime.workflow_scheduler.armed_at(on_time) == stored
    [run] = await wait_for_runs(runtime, late, 1)
    assert run.status == "success" and timing.utc(run.due_at) == timing.utc(due)
    assert ["five minutes late" in str(c.params["blocks"]) for c in dms_to(atom_sqlite.slack)] == [True]
    assert timing.utc((await workflow(runtime, late)).next_run_at) > utcnow()
    assert await runs(runtime, on_time) == []


async def test_an_occurrence_missed_beyond_grace_is_recorded_as_missed_and_not_run(atom_sqlite):
    runtime = atom_sqlite.runtime
    workflow_id = await enabled(atom_sqlite, message_spec("too late", trigger=daily_trigger_away_from_now()))
    await atom_sqlite.stop()
    async with runtime.sessions.begin() as session:
        row = await session.get(Workflow, workflow_id)
        row.next_run_at = utcnow() - timedelta(minutes=30)
    await atom_sqlite.start(ATOM_WORKFLOW_MISFIRE_GRACE="600")
    [run] = await wait_for_runs(atom_sqlite.runtime, workflow_id, 1)
    assert run.status == "missed" and "grace" in run.error
    await asyncio.sleep(0.2)
    assert dms_to(atom_sqlite.slack) == []
    row = await workflow(atom_sqlite.runtime, workflow_id)
    assert row.status == "enabled" and timing.utc(row.next_run_at) > utcnow() and row.last_status == "missed"


async def test_a_day_of_downtime_records_each_missed_occurrence_and_runs_only_the_latest_within_grace(atom_sqlite):
    runtime = atom_sqlite.runtime
    hourly = summary_spec().trigger.model_copy(
        update={"rrule": "DTSTART;TZID=UTC:20260101T000000\nRRULE:FREQ=MINUTELY;INTERVAL=10", "timezone": "UTC"}
    )
    spec = message_spec("every ten minutes").model_copy(update={"trigger": hourly})
    workflow_id = await enabled(atom_sqlite, spec)
    last = timing.utc((await workflow(runtime, workflow_id)).next_run_at) - timedelta(minutes=10)
    await set_due(runtime, workflow_id, last - timedelta(minutes=30), arm=False)
    await atom_sqlite.restart()
    found = await wait_for_runs(atom_sqlite.runtime, workflow_id, 4)
    assert [r.status for r in found] == ["missed", "missed", "missed", "success"]
    assert len(dms_to(atom_sqlite.slack)) == 1


async def test_three_failures_in_a_row_pause_the_workflow_with_a_notice(atom_sqlite):
    # No key at all: the model step fails every time, with that reason.
    workflow_id = await enabled(atom_sqlite, summary_spec())
    service = atom_sqlite.runtime.workflow_service
    for count in (1, 2, 3):
        await service.run_now(OWNER, workflow_id)
        await wait_for_runs(atom_sqlite.runtime, workflow_id, count)
    await settle(atom_sqlite)
    found = await runs(atom_sqlite.runtime, workflow_id)
    assert [r.status for r in found] == ["failed"] * 3
    assert all("no working AI provider key" in r.error for r in found)
    dms = dms_to(atom_sqlite.slack)
    assert len(dms) == 3
    first, last = str(dms[0].params["blocks"]), str(dms[-1].params["blocks"])
    assert "workflow_retry" in first and "workflow_pause" in first
    assert "paused it" in last and "workflow_resume" in last
    row = await workflow(atom_sqlite.runtime, workflow_id)
    assert row.status == "paused" and "3 failed runs" in row.paused_reason
    assert atom_sqlite.runtime.workflow_scheduler.armed_at(workflow_id) is None


async def test_a_key_removed_after_enable_fails_the_run_with_that_reason(atom_sqlite):
    await give_keys(atom_sqlite, "openai")
    workflow_id = await enabled(atom_sqlite, summary_spec())
    assert await atom_sqlite.runtime.vault.remove(OWNER, "openai", "personal")
    await set_due(atom_sqlite.runtime, workflow_id, utcnow() + timedelta(seconds=0.2))
    [run] = await wait_for_runs(atom_sqlite.runtime, workflow_id, 1)
    assert run.status == "failed" and "no working AI provider key" in run.error
    assert atom_sqlite.providers.requests == []
    await settle(atom_sqlite)
    [dm] = dms_to(atom_sqlite.slack)
    assert "Add one with `/atom keys`" in str(dm.params["blocks"])


async def test_a_paused_workflow_is_not_run_and_resume_arms_the_next_occurrence(atom_sqlite):
    service = atom_sqlite.runtime.workflow_service
    workflow_id = await enabled(atom_sqlite, message_spec("hi"))
    await service.pause(OWNER, workflow_id)
    assert atom_sqlite.runtime.workflow_scheduler.armed_at(workflow_id) is None
    await set_due(atom_sqlite.runtime, workflow_id, utcnow() - timedelta(seconds=1), arm=False)
    await atom_sqlite.restart()
    await asyncio.sleep(0.3)
    assert await runs(atom_sqlite.runtime, workflow_id) == []
    row = await atom_sqlite.runtime.workflow_service.resume(OWNER, workflow_id)
    assert row.status == "enabled" and timing.utc(row.next_run_at) > utcnow()
    assert atom_sqlite.runtime.workflow_scheduler.armed_at(workflow_id) == timing.utc(row.next_run_at)


async def test_no_key_or_token_in_job_state_run_records_or_logs(atom_sqlite, caplog):
    caplog.set_level(logging.DEBUG)
    await give_keys(atom_sqlite, "openai", "anthropic")
    atom_sqlite.providers.reply["openai"] = "done"
    workflow_id = await enabled(atom_sqlite, summary_spec(), due_in=0.2)
    await wait_for_runs(atom_sqlite.runtime, workflow_id, 1)
    # A failing run as well: its error text and DM must not carry the key either.
    atom_sqlite.providers.valid_keys["openai"] = {"sk-other"}
    atom_sqlite.providers.valid_keys["anthropic"] = {"sk-other"}
    await atom_sqlite.runtime.workflow_service.run_now(OWNER, workflow_id)
    await wait_for_runs(atom_sqlite.runtime, workflow_id, 2)
    await settle(atom_sqlite)
    scheduler = atom_sqlite.runtime.workflow_scheduler
    jobs = [(job.id, job.args, job.kwargs) for job in scheduler._scheduler.get_jobs()]
    assert jobs and all(args == (workflow_id,) and kwargs == {} for _id, args, kwargs in jobs)
    async with atom_sqlite.runtime.sessions() as session:
        stored = [repr(r.__dict__) for r in (await session.execute(select(WorkflowRun))).scalars()]
        stored += [repr(r.__dict__) for r in (await session.execute(select(Workflow))).scalars()]
    everything = "\n".join(stored) + caplog.text + atom_sqlite.slack.all_text()
    for key in KEYS.values():
        assert key not in everything
    assert "xoxb-test-bot-token" not in "\n".join(stored) + caplog.text
