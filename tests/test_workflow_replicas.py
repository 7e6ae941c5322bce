"""Exactly once across replicas: two schedulers, and two `atom run` processes, on one PostgreSQL
database, with every workflow due at the same instant. Runs when ATOM_TEST_POSTGRES_URL is set."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections import Counter
from datetime import timedelta

import aiohttp
import pytest

from bot.config import load_settings
from bot.runtime import Runtime
from bot.storage.models import Workflow, utcnow
from tests.conftest import atom_env
from tests.workflowhelpers import message_spec, runs

DUE_RUNS = 200


async def _open(env: dict[str, str]) -> Runtime:
    return await Runtime.open(load_settings(env))


async def _make_due_workflows(runtime: Runtime, when) -> list[str]:
    """Enabled workflows (one per owner: a person may have 25 active), all due at `when`, written
    in one transaction so that every one is due at the same instant."""
    ids = [str(uuid.uuid4()) for _ in range(DUE_RUNS)]
    async with runtime.sessions.begin() as session:
        for number, workflow_id in enumerate(ids):
            spec = message_spec(f"occurrence {number}", name=f"W{number}")
            session.add(Workflow(
                id=workflow_id, team_id="T1", user_id=f"U{number:04d}", name=spec.name, spec=spec.to_json(),
                status="enabled", confirmed=[], next_run_at=when, created_at=utcnow(), updated_at=utcnow(),
            ))
    return ids


async def _wait_finished(runtime: Runtime, count: int, timeout: float) -> list:  # noqa: ASYNC109
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = [r for r in await runs(runtime) if r.status != "running"]
        if len(found) >= count or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.1)


def _assert_each_ran_once(found, ids, slack) -> None:
    assert len(found) == DUE_RUNS, (Counter(r.status for r in found), Counter(r.error for r in found))
    assert Counter(r.workflow_id for r in found) == Counter(ids)
    assert {r.status for r in found} == {"success"}
    posted = Counter(
        str(c.params.get("blocks")).split("occurrence ")[1].split("'")[0] for c in slack.calls_to("chat.postMessage")
    )
    assert len(posted) == DUE_RUNS and set(posted.values()) == {1}


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_two_schedulers_on_one_database_run_each_due_occurrence_once(fake_slack, database_url, encryption_key):
    env = atom_env(fake_slack.url, database_url, encryption_key)
    first, second = await _open(env), await _open(env)
    try:
        ids = await _make_due_workflows(first, utcnow() + timedelta(seconds=3))
        # Both rebuild from the table, as at start-up, and both fire every workflow at once.
        await first.workflow_scheduler.start()
        await second.workflow_scheduler.start()
        found = await _wait_finished(first, DUE_RUNS, 60)
        await asyncio.sleep(0.5)  # a late duplicate would show up now
        found = [r for r in await runs(first) if r.status != "running"]
        await first.workflow_scheduler.drain(10)
        await second.workflow_scheduler.drain(10)
        _assert_each_ran_once(found, ids, fake_slack)
        # Both replicas re-armed every workflow at its next occurrence.
        assert first.workflow_scheduler.job_count() == second.workflow_scheduler.job_count() == DUE_RUNS
    finally:
        for runtime in (first, second):
            await runtime.workflow_scheduler.stop()
            await runtime.close()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_two_atom_run_processes_run_each_due_occurrence_once(fake_slack, database_url, encryption_key, tmp_path):
    env = atom_env(fake_slack.url, database_url, encryption_key)
    setup = await _open(env)
    try:
        # Due far enough ahead that both processes have started and armed it; then they race.
        ids = await _make_due_workflows(setup, utcnow() + timedelta(seconds=20))
    finally:
        await setup.close()
    procs = []
    for port in (0, 0):
        port = _free_port()
        proc_env = {"PATH": os.environ["PATH"], **env, "ATOM_PORT": str(port), "ATOM_LOG_LEVEL": "INFO"}
        log = open(tmp_path / f"atom-{port}.log", "wb")  # noqa: SIM115,ASYNC230
        procs.append((await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", "--http", env=proc_env, stdout=log, stderr=log
        ), port, log))
    try:
        async with aiohttp.ClientSession() as http:
            for _proc, port, log in procs:
                await _ready(http, port, log.name)
        check = await _open(env)
        try:
            found = await _wait_finished(check, DUE_RUNS, 90)
            await asyncio.sleep(1.0)
            found = [r for r in await runs(check) if r.status != "running"]
        finally:
            await check.close()
        _assert_each_ran_once(found, ids, fake_slack)
    finally:
        for proc, _port, log in procs:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 30)
            log.close()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _ready(http: aiohttp.ClientSession, port: int, log_path: str) -> None:
    for _ in range(600):
        try:
            async with http.get(f"http://127.0.0.1:{port}/readyz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    with open(log_path, errors="replace") as log:  # noqa: ASYNC230
        raise AssertionError(f"atom on port {port} never became ready:\n{log.read()[-3000:]}")
