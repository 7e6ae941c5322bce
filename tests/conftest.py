"""Shared fixtures: databases (SQLite always, PostgreSQL when ATOM_TEST_POSTGRES_URL is set),
the fake Slack, and a real Atom server on a real port."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import uuid
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.llm.runtime import set_offline_switches

set_offline_switches()  # before anything can import litellm

POSTGRES_URL = os.environ.get("ATOM_TEST_POSTGRES_URL")


@pytest.fixture(scope="session", autouse=True)
def litellm_loaded():
    """Import litellm once, up front, as `atom run` does in the background at start: its ~5 s
    import would otherwise land inside the first test's wait for an answer."""
    from bot.llm.runtime import load_litellm

    load_litellm()
SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-bot-token"


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@pytest.fixture(scope="session")
def postgres_database():
    """A database of this test run's own on the PostgreSQL server, dropped at the end."""
    if not POSTGRES_URL:
        pytest.skip("ATOM_TEST_POSTGRES_URL is not set")
    import asyncpg

    name = f"atom_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(_asyncpg_dsn(POSTGRES_URL))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def run(sql: str) -> None:
        # Its own thread and loop: the fixture may be first requested from inside a running loop.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, admin(sql)).result()

    run(f'CREATE DATABASE "{name}"')
    base, _, _ = POSTGRES_URL.rpartition("/")
    yield f"{base}/{name}"
    run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'atom.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request, tmp_path: Path):
    """Runs a test once on SQLite and once on PostgreSQL (skipped without a server).

    The PostgreSQL database is this run's own; each test leaves it empty for the next.
    """
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'atom.db'}"
        return
    url = request.getfixturevalue("postgres_database")
    yield url
    from sqlalchemy import text

    from bot.storage.engine import create_engine

    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


@pytest.fixture
def encryption_key() -> str:
    return Fernet.generate_key().decode()


def atom_env(slack_url: str, database_url: str, encryption_key: str, **extra: str) -> dict[str, str]:
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_url,
        "ATOM_DATABASE_URL": database_url,
        "ATOM_ENCRYPTION_KEYS": encryption_key,
        "ATOM_PORT": "3000",
        # Workflow runs on the test's own loop; tests of the worker process ask for it.
        "ATOM_WORKFLOW_RUNNER": "inline",
    }
    env.update(extra)
    return env


@pytest.fixture
async def fake_slack():
    from tests.fakes.slack import FakeSlack

    async with FakeSlack() as slack:
        yield slack


class AtomHarness:
    """A real Atom (AtomServer on a real port) wired to the fake Slack, plus a signed client."""

    def __init__(self, slack, env: dict[str, str]):
        self.slack = slack
        self.env = env
        self.server = None
        self.client = None
        self.providers = None

    async def start(self, **overrides: str):
        from bot.config import load_settings
        from bot.server import AtomServer
        from tests.fakes.signing import SlackRequestClient

        settings = load_settings({**self.env, **overrides})
        self.server = AtomServer(settings, host="127.0.0.1", port=0)
        await self.server.start()
        self.client = SlackRequestClient(self.server.url, SIGNING_SECRET, response_url_base=self.slack.response_url_base)
        return self

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def runtime(self):
        return self.server.runtime

    async def stop(self):
        if self.client is not None:
            await self.client.close()
        if self.server is not None:
            await self.server.stop(grace=5)

    async def restart(self):
        await self.stop()
        return await self.start()


@pytest.fixture
async def fake_providers():
    from tests.fakes.providers import FakeProviders

    async with FakeProviders() as providers:
        yield providers


def provider_env(providers) -> dict[str, str]:
    return {
        "ATOM_OPENAI_API_BASE": providers.openai_base,
        "ATOM_ANTHROPIC_API_BASE": providers.anthropic_base,
        "ATOM_GEMINI_API_BASE": providers.gemini_base,
        "ATOM_DEEPSEEK_API_BASE": providers.deepseek_base,
    }


@pytest.fixture
async def atom(fake_slack, fake_providers, database_url, encryption_key):
    env = atom_env(fake_slack.url, database_url, encryption_key, **provider_env(fake_providers))
    harness = AtomHarness(fake_slack, env)
    harness.providers = fake_providers
    await harness.start()
    yield harness
    await harness.stop()


@pytest.fixture
async def atom_sqlite(fake_slack, fake_providers, sqlite_url, encryption_key):
    """Atom on SQLite only, for scenarios whose database does not matter."""
    env = atom_env(fake_slack.url, sqlite_url, encryption_key, **provider_env(fake_providers))
    harness = AtomHarness(fake_slack, env)
    harness.providers = fake_providers
    await harness.start()
    yield harness
    await harness.stop()


REPO_ROOT = str(Path(__file__).resolve().parent.parent)


def process_env(env: dict[str, str]) -> dict[str, str]:
    """The environment of a `python -m bot` child: only what the test gives, plus PYTHONPATH so the
    child imports this checkout's `bot` (not whichever one an editable install points at)."""
    return {"PATH": os.environ["PATH"], "PYTHONPATH": REPO_ROOT, **env}


async def run_atom_cli(*args: str, env: dict[str, str], cwd=None) -> tuple[int, str, str]:
    """Run `python -m bot …` as an operator would, without blocking the test's event loop."""
    import sys

    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, env=process_env(env), cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode, out.decode(), err.decode()
