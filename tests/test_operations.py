"""Operating Atom: what the operator sees when the database is away or the configuration is
wrong, and what Atom leaves on disk (nothing before its configuration is valid; private files)."""

from __future__ import annotations

import asyncio
import os
import stat

import pytest
from cryptography.fernet import Fernet

from bot.config import ConfigError, load_settings
from tests.conftest import atom_env, run_atom_cli

UNREACHABLE_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:9/atom"  # port 9: nothing listens


def _one_line_report(code: int, out: str, err: str) -> str:
    assert "Traceback" not in out + err, out + err
    return err.strip()


@pytest.mark.parametrize("command", [("migrate",), ("keys", "rotate"), ("run",)])
async def test_an_unreachable_database_is_one_line_for_every_command(command, tmp_path, encryption_key):
    env = atom_env("http://127.0.0.1:9/api/", UNREACHABLE_POSTGRES, encryption_key)
    code, out, err = await run_atom_cli(*command, env=env, cwd=tmp_path)
    report = _one_line_report(code, out, err)
    assert code == 1, out + err  # README: 1 when the database cannot be used, 2 for configuration
    assert len(report.splitlines()) == 1, report
    assert "Check ATOM_DATABASE_URL" in report and "ConnectionRefusedError" in report


async def test_doctor_reports_an_unreachable_database_as_a_failed_check(tmp_path, encryption_key):
    env = atom_env("http://127.0.0.1:9/api/", UNREACHABLE_POSTGRES, encryption_key)
    code, out, err = await run_atom_cli("doctor", env=env, cwd=tmp_path)
    assert code == 1 and "Traceback" not in out + err
    [line] = [line for line in out.splitlines() if "database reachable" in line]
    assert line.startswith("[FAIL]") and "Check ATOM_DATABASE_URL" in line


@pytest.mark.parametrize("command", [("migrate",), ("doctor",), ("keys", "rotate")])
async def test_a_sqlite_path_that_cannot_exist_is_one_line(command, tmp_path, encryption_key):
    (tmp_path / "not-a-folder").write_text("")
    url = f"sqlite+aiosqlite:///{tmp_path / 'not-a-folder' / 'atom.db'}"
    code, out, err = await run_atom_cli(*command, env=atom_env("http://127.0.0.1:9/api/", url, encryption_key), cwd=tmp_path)
    assert code == 1 and "Traceback" not in out + err, out + err
    assert "not-a-folder" in out + err and "Check ATOM_DATABASE_URL" in out + err


async def test_migrate_twice_is_idempotent_and_says_so(database_url, tmp_path, encryption_key):
    env = atom_env("http://127.0.0.1:9/api/", database_url, encryption_key)
    code, out, err = await run_atom_cli("migrate", env=env, cwd=tmp_path)
    assert code == 0 and "database schema: empty ->" in out, out + err
    code, again, err = await run_atom_cli("migrate", env=env, cwd=tmp_path)
    assert code == 0 and "database schema up to date" in again, again + err


async def test_a_start_refused_for_bad_configuration_writes_nothing(tmp_path):
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "ATOM_PORT": "not-a-port"}
    code, out, err = await run_atom_cli("run", env=env, cwd=tmp_path)
    assert code == 2 and "ATOM_PORT='not-a-port'" in err
    assert list(tmp_path.iterdir()) == []  # no atom.db.key, no atom.db


def test_the_key_file_is_created_only_once_everything_else_is_valid(tmp_path):
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "ATOM_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'd' / 'atom.db'}"}
    with pytest.raises(ConfigError) as info:
        load_settings(env, create_key_file=True)  # no signing secret in HTTP mode
    assert "SLACK_SIGNING_SECRET" in info.value.render()
    assert not (tmp_path / "d").exists()
    settings = load_settings({**env, "SLACK_SIGNING_SECRET": "s"}, create_key_file=True)
    assert settings.encryption_key_file == tmp_path / "d" / "atom.db.key"
    assert settings.encryption_key_file.read_text().strip() == settings.encryption_keys[0]


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


async def test_the_sqlite_database_and_its_wal_are_private_after_a_real_write(tmp_path):
    from sqlalchemy import text

    from bot.storage import migrate
    from bot.storage.engine import create_engine

    old_umask = os.umask(0o022)  # a usual umask: files would be created world-readable
    try:
        db = tmp_path / "data" / "atom.db"
        engine = create_engine(f"sqlite+aiosqlite:///{db}")
        await migrate.upgrade(engine)
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE IF NOT EXISTS probe (x TEXT)"))
            await conn.execute(text("INSERT INTO probe VALUES ('written')"))
        files = {p.name: _mode(p) for p in db.parent.iterdir()}
        await engine.dispose()
    finally:
        os.umask(old_umask)
    assert {"atom.db", "atom.db-wal", "atom.db-shm"} <= set(files), files
    assert all(mode == 0o600 for mode in files.values()), {k: oct(v) for k, v in files.items()}
    assert _mode(db.parent) & 0o077 == 0


async def test_an_existing_world_readable_database_is_made_private(tmp_path):
    from bot.storage import migrate
    from bot.storage.engine import create_engine

    db = tmp_path / "atom.db"
    db.write_bytes(b"")
    db.chmod(0o644)
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    await migrate.upgrade(engine)
    await engine.dispose()
    assert _mode(db) == 0o600


async def test_keys_rotate_with_only_a_wrong_key_changes_nothing(tmp_path, encryption_key):
    db = tmp_path / "atom.db"
    env = atom_env("http://127.0.0.1:9/api/", f"sqlite+aiosqlite:///{db}", encryption_key)
    code, out, err = await run_atom_cli("keys", "rotate", env=env, cwd=tmp_path)
    assert code == 0, out + err
    before = db.read_bytes()
    wrong = {**env, "ATOM_ENCRYPTION_KEYS": Fernet.generate_key().decode()}
    code, out, err = await run_atom_cli("keys", "rotate", env=wrong, cwd=tmp_path)
    assert code == 2 and "Traceback" not in out + err
    assert "cannot decrypt the stored secrets" in err
    assert db.read_bytes() == before


async def test_database_passwords_stay_out_of_the_one_line_reports(tmp_path, encryption_key):
    secret = "hunter2-db-password"
    env = atom_env("http://127.0.0.1:9/api/", f"postgresql+asyncpg://atom:{secret}@127.0.0.1:9/atom", encryption_key)
    code, out, err = await run_atom_cli("migrate", env=env, cwd=tmp_path)
    assert code == 1 and "Check ATOM_DATABASE_URL" in err and secret not in out + err
    with pytest.raises(ConfigError) as info:
        load_settings({"ATOM_DATABASE_URL": f"postgresql://atom:{secret}@db/atom"}, need_slack=False)
    assert "postgresql+asyncpg://atom:***@db/atom" in info.value.render() and secret not in info.value.render()


async def test_a_database_server_that_never_answers_is_one_line_too(tmp_path, encryption_key):
    """A firewall that drops packets looks like this: the connection opens and nothing comes back."""
    held = []

    async def silent(_reader, writer):
        held.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    env = atom_env("http://127.0.0.1:9/api/", f"postgresql+asyncpg://atom@127.0.0.1:{port}/atom", encryption_key)
    try:
        code, out, err = await run_atom_cli("migrate", env=env, cwd=tmp_path)
    finally:
        for writer in held:
            writer.close()
        server.close()
    assert code == 1 and "Traceback" not in out + err, out + err
    assert len(err.strip().splitlines()) == 1 and "TimeoutError (no answer). Check ATOM_DATABASE_URL" in err
