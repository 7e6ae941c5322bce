"""`atom doctor` reports what is wrong and how to fix it."""

from __future__ import annotations

from cryptography.fernet import Fernet

from tests.conftest import atom_env, run_atom_cli
from tests.keyhelpers import OPENAI_KEY, settle, submit_key


async def test_doctor_all_good(atom_sqlite):
    env = {**atom_sqlite.env}
    await submit_key(atom_sqlite, "openai", OPENAI_KEY)
    await settle(atom_sqlite)
    code, out, err = await run_atom_cli("doctor", env=env)
    assert code == 0, out + err
    assert "[ok  ] Slack auth.test" in out
    assert "1 stored, all decrypt" in out
    assert "All checks passed." in out


async def test_doctor_reports_wrong_token_wrong_key_and_config(fake_slack, atom_sqlite):
    await submit_key(atom_sqlite, "openai", OPENAI_KEY)
    await settle(atom_sqlite)
    fake_slack.bad_tokens["xoxb-test-bot-token"] = "invalid_auth"
    env = {**atom_sqlite.env, "ATOM_ENCRYPTION_KEYS": Fernet.generate_key().decode()}
    code, out, _ = await run_atom_cli("doctor", env=env)
    assert code == 1
    assert "invalid_auth: SLACK_BOT_TOKEN is wrong or revoked" in out
    assert "1 of 1 cannot be decrypted" in out


async def test_doctor_without_slack_settings_still_checks_the_database(tmp_path, encryption_key):
    env = atom_env("http://127.0.0.1:9/api/", f"sqlite+aiosqlite:///{tmp_path / 'a.db'}", encryption_key)
    del env["SLACK_BOT_TOKEN"]
    code, out, _ = await run_atom_cli("doctor", env=env)
    assert code == 1
    assert "SLACK_BOT_TOKEN is not set" in out
    assert "database reachable" in out
    assert "run `atom migrate`" in out
