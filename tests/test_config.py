"""Configuration: read once, validated, every problem reported together with its fix."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from bot.config import ConfigError, load_settings
from tests.conftest import process_env

BASE = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "secret"}


def test_defaults_match_the_product_contract(tmp_path):
    key = Fernet.generate_key().decode()
    s = load_settings({**BASE, "ATOM_ENCRYPTION_KEYS": key})
    assert s.database_url == "sqlite+aiosqlite:///atom.db"
    assert s.port == 3000
    assert s.public_url == "http://localhost:3000"
    assert s.slack_api_url == "https://slack.com/api/"
    assert s.provider_bases == {
        "openai": "https://api.openai.com/v1",
        "anthropic": "https://api.anthropic.com",
        "gemini": "https://generativelanguage.googleapis.com/v1beta",
        "deepseek": "https://api.deepseek.com",
    }
    assert s.validate_keys is True
    assert (s.log_level, s.log_format) == ("INFO", "text")
    assert not s.socket_mode


def test_every_problem_is_reported_at_once_with_a_fix():
    with pytest.raises(ConfigError) as info:
        load_settings(
            {
                "SLACK_BOT_TOKEN": "xoxp-user-token",
                "ATOM_PORT": "70000",
                "ATOM_DATABASE_URL": "postgresql://u@h/db",
                "ATOM_ENCRYPTION_KEYS": "not-a-key",
                "ATOM_LOG_FORMAT": "xml",
                "ATOM_VALIDATE_KEYS": "maybe",
                "SLACK_API_URL": "slack.com",
            }
        )
    text = info.value.render()
    for fragment in (
        "xoxb-",
        "SLACK_SIGNING_SECRET",
        "ATOM_PORT",
        "postgresql+asyncpg://u@h/db",
        "atom keys generate",
        "ATOM_LOG_FORMAT",
        "ATOM_VALIDATE_KEYS",
        "SLACK_API_URL",
    ):
        assert fragment in text
    assert len(info.value.problems) == 8


def test_socket_mode_needs_no_signing_secret_and_http_flag_overrides():
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "ATOM_ENCRYPTION_KEYS": Fernet.generate_key().decode()}
    assert load_settings(env).socket_mode
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        load_settings(env, force_http=True)


def test_non_sqlite_database_requires_encryption_keys():
    with pytest.raises(ConfigError, match="ATOM_ENCRYPTION_KEYS is required"):
        load_settings({**BASE, "ATOM_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1/test"})


def test_sqlite_key_file_is_created_once_with_mode_0600_and_reused(tmp_path):
    env = {**BASE, "ATOM_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/data/atom.db"}
    with pytest.raises(ConfigError, match="no key file"):
        load_settings(env)  # only `atom run` (create_key_file) may create it
    first = load_settings(env, create_key_file=True)
    key_file = tmp_path / "data" / "atom.db.key"
    assert first.encryption_key_file == key_file
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    second = load_settings(env, create_key_file=True)
    assert second.encryption_keys == first.encryption_keys  # never a fresh key per start


def test_secrets_are_not_in_settings_repr():
    key = Fernet.generate_key().decode()
    s = load_settings({**BASE, "SLACK_BOT_TOKEN": "xoxb-SENTINEL", "ATOM_ENCRYPTION_KEYS": key})
    assert "SENTINEL" not in repr(s) and key not in repr(s) and "secret" not in repr(s)


def _atom(*args, env, cwd):
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], env=process_env(env), cwd=cwd,
        capture_output=True, text=True, timeout=60,
    )


def test_cli_misconfiguration_exits_2_with_a_message_not_a_traceback(tmp_path):
    result = _atom("run", env={"SLACK_BOT_TOKEN": "nope", "ATOM_PORT": "abc"}, cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "SLACK_BOT_TOKEN must be a bot token" in result.stderr
    assert "ATOM_PORT='abc'" in result.stderr


def test_cli_keys_generate_needs_no_configuration(tmp_path):
    result = _atom("keys", "generate", env={}, cwd=tmp_path)
    assert result.returncode == 0
    Fernet(result.stdout.strip().encode())


def test_cli_migrate_on_default_sqlite(tmp_path):
    result = _atom("migrate", env={}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "atom.db").exists() and (tmp_path / "atom.db.key").exists()
    again = _atom("migrate", env={}, cwd=tmp_path)
    assert "up to date" in again.stdout


def test_cli_unreachable_database_is_one_clear_line(tmp_path):
    key = Fernet.generate_key().decode()
    env = {**BASE, "ATOM_ENCRYPTION_KEYS": key, "ATOM_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:9/x"}
    result = _atom("run", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "Check ATOM_DATABASE_URL" in result.stderr
