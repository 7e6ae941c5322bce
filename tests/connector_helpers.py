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
async def tool_providers():
    from tests.fakes.tool_providers import ToolCallingProviders

    async with ToolCallingProviders() as providers:
        yield providers


@pytest.fixture
async def atom_connected(fake_slack, tool_providers, fake_google, fake_asana, database_url, encryption_key, monkeypatch):
    fake_providers = tool_providers
    # oauthlib refuses a plain-http token URL otherwise; tests only, never the product.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    env = atom_env(fake_slack.url, database_url, encryption_key, **provider_env(fake_providers),
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


class Browser:
    """A person's browser: keeps cookies, follows Atom's and the provider's redirects by hand, and
    reaches Atom's public URL (ATOM_PUBLIC_URL, as a reverse proxy would) at the test server."""

    def __init__(self, atom):
        import aiohttp

        self.atom = atom
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    def _local(self, url: str) -> str:
        public = self.atom.runtime.settings.public_url
        return self.atom.url + url[len(public):] if url.startswith(public) else url

    async def get(self, url: str):
        async with self.session.get(self._local(url), allow_redirects=False) as response:
            return response.status, response.headers.get("Location", ""), await response.text()

    async def consent(self, start_url: str) -> tuple[int, str]:
        """Open Atom's link, pass the (fake) consent screen, land on Atom's callback page."""
        status, location, body = await self.get(start_url)
        if status != 302:
            return status, body
        status, location, body = await self.get(location)  # the provider's consent → back to Atom
        assert status == 302, body
        status, _, body = await self.get(location)
        return status, body

    async def close(self):
        await self.session.close()


def link_from(blocks: list[dict]) -> str:
    for block in blocks:
        for element in block.get("elements") or []:
            if element.get("url"):
                return element["url"]
    raise AssertionError(f"no link button in {blocks}")


def tiny_pdf(text: str) -> bytes:
    """A one-page PDF whose text is `text` (Helvetica), for the Drive PDF path."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out
