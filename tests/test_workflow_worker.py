# ruff: noqa: F811  (pytest fixtures imported from tests.connector_helpers)
"""Workflow runs in the worker process (ATOM_WORKFLOW_RUNNER=worker): a real `python -m bot worker`
child runs them end to end against the fakes; a worker killed mid-run has its run recorded as
failed with the reason, the owner told, and is restarted; `atom run` starts it and drains it on
SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from datetime import timedelta
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from bot.config import load_settings
from bot.llm.keycheck import KeyCheck
from bot.runtime import Runtime
from bot.storage.encryption import Secret
from bot.storage.models import utcnow
from bot.workflows.spec import ActionStep, ModelStep
from bot.workflows.worker import Handoff
from tests.clock import ManualClock
from tests.conftest import AtomHarness, atom_env, process_env, provider_env
from tests.connector_helpers import (  # noqa: F401  (fixtures)
    ANN,
    connect_google,
    connector_env,
    fake_google,
)
from tests.fakes import google as g
from tests.fakes.providers import Behaviour
from tests.keyhelpers import KEYS, give_keys, settle
from tests.workflowhelpers import enabled, runs, set_due, summary_spec, wait_for_runs

CALENDAR_THEN_SUMMARY = [
    ActionStep(id="calendar", action="calendar.list_events", params={"day": "today"}),
    ModelStep(id="summary", task="summarize", instruction="Summarize my day.", inputs=["calendar"]),
]


@pytest.fixture
async def atom_worker(fake_slack, fake_providers, fake_google, sqlite_url, encryption_key, monkeypatch):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the fake Google is plain http (tests only)
    env = atom_env(fake_slack.url, sqlite_url, encryption_key, **provider_env(fake_providers),
                   **connector_env(fake_google, None), ATOM_WORKFLOW_RUNNER="worker")
    harness = AtomHarness(fake_slack, env)
    harness.providers, harness.google = fake_providers, fake_google
    await harness.start()
    harness.server.worker.start()  # what arming the first workflow does (see the test below)
    await _worker_ready(harness.server.worker)
    yield harness
    await harness.stop()


async def test_no_worker_process_until_a_workflow_is_armed(
    fake_slack, fake_providers, fake_google, sqlite_url, encryption_key, monkeypatch
):
    """An Atom with no workflows runs one process; the first armed workflow starts the worker."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    env = atom_env(fake_slack.url, sqlite_url, encryption_key, **provider_env(fake_providers),
                   **connector_env(fake_google, None), ATOM_WORKFLOW_RUNNER="worker")
    harness = AtomHarness(fake_slack, env)
    await harness.start()
    try:
        worker = harness.server.worker
        await asyncio.sleep(0.5)
        assert worker.pid is None and not worker.ready
        harness.runtime.workflow_scheduler.arm("wf-lazy", utcnow() + timedelta(days=1))
        await _worker_ready(worker)
        assert worker.pid is not None
    finally:
        await harness.stop()


async def _worker_ready(worker, previous_pid: int | None = None, timeout: float = 60.0) -> int:  # noqa: ASYNC109
    deadline = asyncio.get_running_loop().time() + timeout
    while not (worker.ready and worker.pid != previous_pid):
        assert asyncio.get_running_loop().time() < deadline, f"the worker never became ready: {worker.state}"
        await asyncio.sleep(0.05)
    return worker.pid


async def _until(condition, worker, timeout: float = 60.0) -> None:  # noqa: ASYNC109
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"the worker never got there: {worker.state}"
        await asyncio.sleep(0.05)


def dms_to(slack, user: str):
    return [c for c in slack.calls_to("chat.postMessage") if c.params.get("channel") == user]


def test_only_ids_cross_the_pipe():
    line = Handoff("run-1", "wf-1", utcnow(), "schedule").line()
    assert set(json.loads(line)) == {"run", "workflow", "due", "trigger"}


async def test_a_due_run_is_executed_by_the_worker_process_end_to_end(atom_worker):
    atom = atom_worker
    worker = atom.server.worker
    assert worker.pid != os.getpid()
    await give_keys(atom, "openai")
    await connect_google(atom, ANN, {g.CALENDAR_READ})
    london = utcnow().astimezone(ZoneInfo("Europe/London")).replace(hour=11, minute=0, second=0, microsecond=0)
    atom.google.events.append({"id": "e1", "status": "confirmed", "summary": "Design review",
                               "start": {"dateTime": london.isoformat()},
                               "end": {"dateTime": (london + timedelta(hours=1)).isoformat()}})
    atom.providers.reply["openai"] = "One meeting: the design review at 11."
    workflow_id = await enabled(atom, summary_spec(steps=CALENDAR_THEN_SUMMARY), due_in=0.5)
    [run] = await wait_for_runs(atom.runtime, workflow_id, 1, timeout=60)
    assert run.status == "success", run.error
    assert [s["id"] for s in run.steps] == ["calendar", "summary"] and run.cost_usd > 0
    assert "Design review" in atom.providers.requests_for("openai")[0].body
    [dm] = dms_to(atom.slack, "U1")
    assert "design review at 11" in str(dm.params["blocks"])
    # The worker ran it: it reported it done, and nothing ran on this process's loop.
    assert worker.finished == 1 and atom.runtime.workflow_scheduler._tasks == set()
    # Run now from Slack goes the same way.
    await atom.runtime.workflow_service.run_now(ANN, workflow_id)
    await wait_for_runs(atom.runtime, workflow_id, 2, timeout=60)
    assert worker.finished == 2 and len(dms_to(atom.slack, "U1")) == 2


async def test_a_worker_killed_mid_run_fails_the_run_tells_the_owner_and_is_restarted(atom_worker):
    atom = atom_worker
    worker = atom.server.worker
    await give_keys(atom, "openai")
    atom.providers.script("openai", Behaviour(hang=True))
    workflow_id = await enabled(atom, summary_spec(), due_in=0.3)
    await asyncio.wait_for(atom.providers.wait_for_requests(1, "openai"), 60)  # the run is mid-step
    first = worker.pid
    os.kill(first, signal.SIGKILL)
    [run] = await wait_for_runs(atom.runtime, workflow_id, 1, timeout=30)
    assert run.status == "failed" and "workflow worker stopped" in run.error and "exit code -9" in run.error
    await settle(atom)
    [dm] = dms_to(atom.slack, "U1")
    assert "failed" in dm.params["text"] and "workflow_retry" in str(dm.params["blocks"])
    # A new worker takes over, and runs work again (Retry goes through it).
    second = await _worker_ready(worker, previous_pid=first)
    assert second != first and worker.restarts == 1
    await atom.runtime.workflow_service.run_now(ANN, workflow_id, trigger="retry")
    found = await wait_for_runs(atom.runtime, workflow_id, 2, timeout=60)
    assert [r.status for r in found] == ["failed", "success"], [r.error for r in found]


async def test_a_hung_worker_is_killed_its_run_failed_with_the_reason_and_a_new_one_started(
    fake_slack, fake_providers, fake_google, sqlite_url, encryption_key, monkeypatch
):
    """A child whose loop stops (here: SIGSTOP) writes no heartbeat: after `hung_after` seconds of
    silence the parent kills it, records its started run as failed, tells the owner, restarts it."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    env = atom_env(fake_slack.url, sqlite_url, encryption_key, **provider_env(fake_providers),
                   **connector_env(fake_google, None), ATOM_WORKFLOW_RUNNER="worker")
    atom = AtomHarness(fake_slack, env)
    atom.providers = fake_providers
    await atom.start()
    worker = atom.server.worker
    # Silence is measured by a clock the test moves: ten minutes of it never pass in real time here,
    # so only the test's clock can make the worker count as hung, however fast this machine runs.
    clock = ManualClock()
    worker.heartbeat, worker.hung_after, worker.clock = 0.2, 600.0, clock
    try:
        worker.start()
        first = await _worker_ready(worker)
        for _ in range(5):  # 40 minutes in all, never 10 without a line: a quiet, healthy worker is left alone
            heard = worker.heartbeats
            clock.advance(480.0)
            await _until(lambda heard=heard: worker.heartbeats > heard, worker)  # one line after the move
        assert worker.hangs == 0 and worker.pid == first
        await give_keys(atom, "openai")
        atom.providers.script("openai", Behaviour(hang=True))
        workflow_id = await enabled(atom, summary_spec(), due_in=0.3)
        await asyncio.wait_for(atom.providers.wait_for_requests(1, "openai"), 60)  # mid-step
        os.kill(first, signal.SIGSTOP)

        def silent_for_10_minutes() -> bool:  # a line written just before the stop may still come in
            clock.advance(600.0)
            return worker.hangs > 0

        await _until(silent_for_10_minutes, worker)
        [run] = await wait_for_runs(atom.runtime, workflow_id, 1, timeout=60)
        assert worker.hangs == 1
        assert run.status == "failed" and "stopped responding for 600 seconds" in run.error, run.error
        await settle(atom)
        [dm] = dms_to(atom.slack, "U1")
        assert "failed" in dm.params["text"] and "workflow_retry" in str(dm.params["blocks"])
        second = await _worker_ready(worker, previous_pid=first)
        assert worker.hangs == 1 and worker.restarts == 1 and second != first
        with pytest.raises(ProcessLookupError):
            os.kill(first, 0)  # the stopped child is gone, not left behind
        await atom.runtime.workflow_service.run_now(ANN, workflow_id, trigger="retry")
        found = await wait_for_runs(atom.runtime, workflow_id, 2, timeout=60)
        assert [r.status for r in found] == ["failed", "success"], [r.error for r in found]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(first, signal.SIGKILL)
        await atom.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_atom_run_starts_the_worker_and_sigterm_lets_its_run_finish(
    fake_slack, fake_providers, sqlite_url, encryption_key, tmp_path
):
    port = _free_port()
    env = atom_env(fake_slack.url, sqlite_url, encryption_key, **provider_env(fake_providers),
                   ATOM_PORT=str(port), ATOM_WORKFLOW_RUNNER="worker")
    setup = await Runtime.open(load_settings(env))
    try:
        await setup.vault.save(ANN, "openai", Secret(KEYS["openai"]), {}, scope="personal",
                               check=KeyCheck("ok", "checked"))
        workflow_id = await enabled(setup, summary_spec())
        # Due in a moment: `atom run` arms it at start-up (or fires it at once, within the grace).
        await set_due(setup, workflow_id, utcnow() + timedelta(seconds=2), arm=False)
    finally:
        await setup.close()
    fake_providers.script("openai", Behaviour(delay=3.0, text="Your day, summarized."))
    log_path = tmp_path / "atom.log"
    with open(log_path, "wb") as log:  # noqa: ASYNC230
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", "--http", env=process_env(env), stdout=log, stderr=log,
        )
    try:
        async with aiohttp.ClientSession() as http:
            status = await _wait_worker(http, port, log_path)
        worker_pid = status["workflow_worker"]["pid"]
        assert worker_pid != proc.pid and _alive(worker_pid)
        await asyncio.wait_for(fake_providers.wait_for_requests(1, "openai"), 60)  # mid-run, 3 s to go
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 60) == 0, log_path.read_text()[-3000:]
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert not _alive(worker_pid)
    check = await Runtime.open(load_settings(env), run_migrations=False)
    try:
        [run] = await runs(check, workflow_id)
    finally:
        await check.close()
    assert run.status == "success", run.error  # SIGTERM waited for the worker's run
    assert "Your day, summarized." in str(dms_to(fake_slack, "U1")[0].params["blocks"])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is not alive
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


async def _wait_worker(http: aiohttp.ClientSession, port: int, log_path) -> dict:
    for _ in range(900):
        try:
            async with http.get(f"http://127.0.0.1:{port}/readyz") as response:
                body = await response.json()
                if response.status == 200 and body.get("workflow_worker", {}).get("state") == "ready":
                    return body
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"atom never had a ready worker:\n{log_path.read_text()[-3000:]}")

