"""`atom schedule` as a black box: the whole phrase table through real processes, the bad inputs
(each one JSON `error` on stdout, exit 1, no traceback), and no settings or heavy imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.schedule_table import CASES, DEFAULT_NOW

ROOT = Path(__file__).resolve().parent.parent
# No Slack, provider, database or encryption settings at all: the command must not need them.
CLEAN_ENV = {key: value for key, value in os.environ.items() if not key.startswith(("SLACK_", "ATOM_"))}


def atom_schedule(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot", "schedule", *args],
        cwd=ROOT,
        env=CLEAN_ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _expected(case) -> dict:
    if case.error is not None:
        return {"error": case.error}
    key = "rrule" if case.recurring else "at"
    return {key: case.when, "timezone": None, "next_runs": case.runs, "task": case.task}


def test_every_phrase_of_the_table_through_the_process():
    def run(case):
        return case, atom_schedule(case.phrase, "--tz", case.tz, "--now", case.now, "--count", "3")

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run, CASES))
    failures = []
    for case, done in results:
        expected = _expected(case)
        try:
            printed = json.loads(done.stdout)
        except ValueError:
            failures.append((case.phrase, "not JSON", done.stdout[:200], done.stderr[-300:]))
            continue
        if case.error is not None:
            ok = done.returncode == 1 and printed == expected and done.stderr == ""
        else:
            ok = (
                done.returncode == 0
                and done.stderr == ""
                and set(printed) == {*expected, "description"}
                and all(printed[key] == value for key, value in expected.items() if value is not None)
                and printed["description"].endswith(f"({printed['timezone']})")
            )
        if not ok:
            failures.append((case.phrase, done.returncode, printed, done.stderr[-300:]))
    assert failures == []


def test_the_default_count_is_five_and_now_defaults_to_the_current_time():
    done = atom_schedule("every day at noon", "--tz", "Asia/Kolkata")
    printed = json.loads(done.stdout)
    assert done.returncode == 0 and len(printed["next_runs"]) == 5
    assert all(run.endswith("T12:00:00+05:30") for run in printed["next_runs"])
    assert printed["timezone"] == "Asia/Kolkata" and printed["task"] == ""


def test_an_unquoted_phrase_is_read_as_one():
    done = atom_schedule("every", "weekday", "at", "9", "--now", DEFAULT_NOW, "--count", "1")
    assert json.loads(done.stdout)["next_runs"] == ["2026-12-02T09:00:00+00:00"]


BAD_INPUTS = [
    (["x" * 10_000], "10,000 characters"),
    (["every day at 9\x07"], "control characters"),
    (["every day\x1b[31m at 9"], "control characters"),
    (["every day at 9", "--tz", "Mars/Olympus"], "Mars/Olympus"),
    (["every day at 9", "--tz", "../../etc/passwd"], "not a time zone"),
    (["every day at 9", "--tz", ""], "not a time zone"),
    (["every day at 9", "--now", "yesterday-ish"], "--now must be an ISO 8601 time"),
    (["every day at 9", "--now", "2026-13-45T99:00"], "--now must be an ISO 8601 time"),
    (["every day at 9", "--count", "many"], "--count must be a whole number"),
    (["every day at 9", "--count", "0"], "--count must be between 1 and 100"),
    (["every day at 9", "--count", "1000000"], "--count must be between 1 and 100"),
    ([], "Say when"),
    (["   "], "Say when"),
    (["once in a while"], "does not say when"),
]


@pytest.mark.parametrize(("args", "says"), BAD_INPUTS, ids=[says for _, says in BAD_INPUTS])
def test_bad_input_is_one_json_error_and_exit_1(args, says):
    done = atom_schedule(*args)
    assert done.returncode == 1
    assert done.stderr == ""  # no traceback, no warnings
    printed = json.loads(done.stdout)
    assert list(printed) == ["error"] and says in printed["error"]
    assert printed["error"].endswith(".") and "\n" not in printed["error"]


def test_the_command_imports_neither_settings_nor_the_slack_or_model_stack():
    probe = (
        "import sys, json\n"
        "from bot.cli import main\n"
        "code = main(['schedule', 'every weekday at 9', '--now', '2026-12-01T21:25:00Z'])\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('litellm', 'slack_sdk', 'slack_bolt', 'sqlalchemy', 'aiohttp', 'cryptography', 'apscheduler') "
        "or m in ('bot.config', 'bot.app', 'bot.server'))\n"
        "print(json.dumps({'code': code, 'heavy': heavy}), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=CLEAN_ENV, capture_output=True, text=True)
    assert json.loads(done.stderr.strip().splitlines()[-1]) == {"code": 0, "heavy": []}
    assert json.loads(done.stdout)["description"] == "every weekday at 09:00 (UTC)"


def test_other_subcommands_still_work():
    done = subprocess.run(
        [sys.executable, "-m", "bot", "keys", "generate"], cwd=ROOT, env=CLEAN_ENV, capture_output=True, text=True
    )
    assert done.returncode == 0 and len(done.stdout.strip()) == 44
    done = subprocess.run([sys.executable, "-m", "bot", "run"], cwd=ROOT, env=CLEAN_ENV, capture_output=True, text=True)
    assert done.returncode == 2 and "SLACK_BOT_TOKEN" in done.stderr and "Traceback" not in done.stderr
