"""Shared pieces of the connector tests: a real Atom wired to fake Slack, providers, Google and
Asana, and a way to connect a person without the browser dance (the dance has its own tests)."""

from __future__ import annotations

import pytest

from bot.connectors.accounts import Grant
from bot.identity import Person
from bot.storage.encryption import Secret
from tests.conftest import AtomHarness, atom_env, provider_env
from tests.fakes.payloads import TEAM_ID

ANN = Person("", TEAM_ID, "U1")
BOB = Person("", TEAM_ID, "U2")
GOOGLE_ID, GOOGLE_SECRET = "google-client-id", "google-client-secret"
ASANA_ID, ASANA_SECRET = "asana-client-id", "asana-client-secret"


def connector_env(google, asana) -> dict[str, str]:
    env = {}
    if google is not None:
        env |= {"ATOM_GOOGLE_API_URL": google.url, "ATOM_GOOGLE_OAUTH_URL": google.url,
                "GOOGLE_CLIENT_ID": GOOGLE_ID, "GOOGLE_CLIENT_SECRET": GOOGLE_SECRET}
    if asana is not None:
        env |= {"ATOM_ASANA_API_URL": asana.api_url, "ATOM_ASANA_OAUTH_URL": asana.url,
                "ASANA_CLIENT_ID": ASANA_ID, "ASANA_CLIENT_SECRET": ASANA_SECRET}
    return env


@pytest.fixture
async def fake_google():
    from tests.fakes.google import FakeGoogle

    async with FakeGoogle(GOOGLE_ID, GOOGLE_SECRET) as google:
        yield google


@pytest.fixture
async def fake_asana():
    from tests.fakes.asana import FakeAsana

    async with FakeAsana(ASANA_ID, ASANA_SECRET) as asana:
        yield asana


@pytest.fixture
async def atom_connected(fake_slack, fake_providers, fake_google, fake_asana, sqlite_url, encryption_key, monkeypatch):
    # oauthlib refuses a plain-http token URL otherwise; tests only, never the product.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    env = atom_env(fake_slack.url, sqlite_url, encryption_key, **provider_env(fake_providers),
                   **connector_env(fake_google, fake_asana))
    harness = AtomHarness(fake_slack, env)
    harness.providers = fake_providers
    harness.google, harness.asana = fake_google, fake_asana
    await harness.start()
    yield harness
    await harness.stop()


async def connect_google(atom, person: Person, scopes: set[str], lifetime: float | None = None) -> tuple[str, str]:
    access, refresh = atom.google.issue_token(scopes, lifetime)
    grant = Grant(Secret(access), Secret(refresh), _expiry(lifetime or atom.google.token_lifetime), frozenset(scopes),
                  atom.google.account)
    await atom.runtime.connectors.tokens.store(person, "google", grant)
    return access, refresh


async def connect_asana(atom, person: Person, lifetime: float | None = None) -> tuple[str, str]:
    from bot.connectors.asana import READ, WRITE

    scopes = set(READ) | set(WRITE)
    access, refresh = atom.asana.issue_token(scopes, lifetime)
    grant = Grant(Secret(access), Secret(refresh), _expiry(lifetime or 3600), frozenset(scopes), atom.asana.email)
    await atom.runtime.connectors.tokens.store(person, "asana", grant)
    return access, refresh


def _expiry(seconds: float):
    from datetime import UTC, datetime, timedelta

    return datetime.now(UTC) + timedelta(seconds=seconds)


def serve_channel_members(fake_slack, members: dict[str, list[str]]) -> None:
    """conversations.members, as Slack answers it (not in the shared fake's defaults)."""

    def handler(call):
        channel = call.params.get("channel", "")
        if channel not in members:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "members": members[channel], "response_metadata": {"next_cursor": ""}}

    fake_slack.set_handler("conversations.members", handler)
