"""The OAuth dance over the wire: Slack click → Atom's start link → the fake consent → callback →
tokens stored encrypted → actions → expiry and one refresh for many callers → revocation →
Reconnect DM → reconnect. And every way a callback can be wrong stores nothing."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from bot.storage.models import ConnectorOAuthState, ServiceConnection
from tests.connector_helpers import (
    ANN,
    BOB,
    Browser,
    atom_connected,
    connect_google,
    fake_asana,
    fake_google,
    link_from,
    tool_providers,
)
from tests.fakes import google as g


async def connect_link(atom, service: str, user_id: str = "U1") -> str:
    response = await atom.client.command(f"connect {service}", user_id=user_id)
    assert response.status == 200, response.text
    return link_from(response.json["blocks"])


async def test_the_full_google_dance(atom_connected, fake_slack, fake_google, tmp_path):
    atom = atom_connected
    browser = Browser(atom)
    try:
        link = await connect_link(atom, "calendar")
        assert link.startswith(atom.runtime.settings.public_url + "/oauth/google/start?state=")
        status, page = await browser.consent(link)
        assert status == 200 and "Google Calendar connected" in page and fake_google.account in page
    finally:
        await browser.close()
    # What was asked for: Calendar's scopes and the account's email only, offline, with PKCE.
    auth = next(r for r in fake_google.requests if r[1].startswith("/o/oauth2/v2/auth"))[1]
    assert "access_type=offline" in auth and "code_challenge_method=S256" in auth
    assert "gmail" not in auth and "drive" not in auth
    exchange = fake_google.token_requests[0]
    assert exchange["grant_type"] == "authorization_code" and len(exchange["code_verifier"]) >= 43

    # Tokens are stored encrypted: nothing of them in the raw database file.
    access = next(iter(fake_google.tokens))
    refresh = next(iter(fake_google.refresh_tokens))
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("atom.db*"))
    assert access.encode() not in raw and refresh.encode() not in raw
    assert await atom.runtime.connectors.connected(ANN) >= {"google_calendar", "slack"}
    assert "gmail" not in await atom.runtime.connectors.connected(ANN)

    # The Home tab was refreshed after the callback and shows the connection.
    await fake_slack.wait_for("views.publish")
    home = json.dumps(fake_slack.home_views["U1"])
    assert "Google Calendar*: connected as *ann@example.com*" in home

    result = await atom.runtime.connectors.run_action(ANN, "calendar.list_events", {})
    assert result.ok, result.error

    # The access token expires: ten concurrent calls, one refresh.
    for token in fake_google.tokens.values():
        token.expires = 0
    async with atom.runtime.sessions.begin() as session:
        await session.execute(update(ServiceConnection).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    results = await asyncio.gather(
        *(atom.runtime.connectors.run_action(ANN, "calendar.list_events", {}) for _ in range(10))
    )
    assert all(r.ok for r in results), [r.error for r in results]
    refreshes = [r for r in fake_google.token_requests if r["grant_type"] == "refresh_token"]
    assert len(refreshes) == 1

    # The person revokes Atom in their Google account: the next call says reconnect, and a DM
    # with a Reconnect button arrives, once.
    for token in fake_google.tokens.values():
        token.revoked = True
    fake_google.refresh_tokens.clear()
    broken = await atom.runtime.connectors.run_action(ANN, "calendar.list_events", {})
    assert not broken.ok and "reconnect" in broken.error.lower()
    again = await atom.runtime.connectors.run_action(ANN, "calendar.list_events", {})
    assert not again.ok
    dms = [c for c in fake_slack.calls_to("chat.postMessage") if "Reconnect" in json.dumps(c.params.get("blocks"))]
    assert len(dms) == 1 and dms[0].params["channel"] == "DU1"
    assert "calendar" not in await atom.runtime.connectors.connected(ANN)

    # Reconnect from the DM's button: a fresh private link, the dance again, and it works.
    await atom.client.block_action("connector_connect", value="google_calendar", channel_id="DU1")
    opened = await fake_slack.wait_for("views.open")
    link = link_from(opened[-1].params["view"]["blocks"])
    browser = Browser(atom)
    try:
        status, page = await browser.consent(link)
    finally:
        await browser.close()
    assert status == 200 and "connected" in page
    assert (await atom.runtime.connectors.run_action(ANN, "calendar.list_events", {})).ok


async def test_disconnect_revokes_at_google_and_deletes_the_tokens(atom_connected, fake_google):
    atom = atom_connected
    _, refresh = await connect_google(atom, ANN, {g.CALENDAR_READ, g.GMAIL_READ})
    await atom.client.block_action("connector_disconnect", value="gmail")
    for _ in range(100):
        if not await atom.runtime.connectors.connections.get(ANN, "google"):
            break
        await asyncio.sleep(0.05)
    assert await atom.runtime.connectors.connections.get(ANN, "google") is None
    assert fake_google.revoked == [refresh]
    result = await atom.runtime.connectors.run_action(ANN, "gmail.list_unread", {})
    assert not result.ok and "not connected" in result.error


async def test_incremental_authorization_keeps_what_was_granted(atom_connected, fake_google):
    atom = atom_connected
    browser = Browser(atom)
    try:
        assert (await browser.consent(await connect_link(atom, "calendar")))[0] == 200
        assert (await browser.consent(await connect_link(atom, "gmail")))[0] == 200
    finally:
        await browser.close()
    second = [r for r in fake_google.requests if r[1].startswith("/o/oauth2/v2/auth")][1][1]
    assert "include_granted_scopes=true" in second and "calendar.events" in second and "gmail.readonly" in second
    assert "drive" not in second
    assert await atom.runtime.connectors.connected(ANN) >= {"google_calendar", "gmail"}


async def test_asana_dance_with_pkce(atom_connected, fake_asana):
    atom = atom_connected
    fake_asana.add_task("Write the launch post", due_on="2026-12-03", project="Launch")
    browser = Browser(atom)
    try:
        status, page = await browser.consent(await connect_link(atom, "asana"))
    finally:
        await browser.close()
    assert status == 200 and "Asana connected" in page and fake_asana.email in page
    result = await atom.runtime.connectors.run_action(ANN, "asana.list_tasks", {})
    assert result.ok and "Write the launch post" in result.text and "Launch" in result.text


async def _nothing_stored(atom):
    assert await atom.runtime.connectors.connections.for_person(ANN) == {}
    assert await atom.runtime.connectors.connections.for_person(BOB) == {}


async def test_bad_callbacks_get_a_page_and_store_nothing(atom_connected, fake_google):
    atom = atom_connected
    browser = Browser(atom)
    try:
        # Unknown state, no state, unknown service.
        status, _, page = await browser.get(f"{atom.url}/oauth/google/callback?state=forged&code=x")
        assert status == 400 and "does not know this connection attempt" in page
        status, _, page = await browser.get(f"{atom.url}/oauth/google/callback")
        assert status == 400 and "without a connection attempt" in page
        status, _, _ = await browser.get(f"{atom.url}/oauth/dropbox/callback?state=x")
        assert status == 404

        # The person clicks Deny.
        fake_google.deny = True
        status, page = await browser.consent(await connect_link(atom, "calendar"))
        assert status == 200 and "did not allow access" in page
        fake_google.deny = False

        # A missing code.
        link = await connect_link(atom, "calendar")
        _, location, _ = await browser.get(link)
        state = location.split("state=")[1].split("&")[0]
        status, _, page = await browser.get(f"{atom.url}/oauth/google/callback?state={state}")
        assert status == 400 and "no authorization code" in page

        # A state used twice: the second callback is refused.
        link = await connect_link(atom, "calendar")
        _, location, _ = await browser.get(link)
        _, callback, _ = await browser.get(location)
        await _nothing_stored(atom)
        status, _, page = await browser.get(callback)
        assert status == 200
        await atom.runtime.connectors.connections.delete(ANN, "google")
        status, _, page = await browser.get(callback)
        assert status == 400 and "already used" in page
        await _nothing_stored(atom)

        # An expired state.
        link = await connect_link(atom, "calendar")
        _, location, _ = await browser.get(link)
        async with atom.runtime.sessions.begin() as session:
            await session.execute(update(ConnectorOAuthState).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        _, callback, _ = await browser.get(location)
        status, _, page = await browser.get(callback)
        assert status == 400 and "expired" in page
        status, _, page = await browser.get(link)  # the start link is dead too
        assert status == 400 and "no longer valid" in page
        await _nothing_stored(atom)
    finally:
        await browser.close()


async def test_a_state_minted_for_ann_never_completes_anyone_elses_connection(atom_connected, fake_google):
    atom = atom_connected
    ann_link = await connect_link(atom, "calendar", user_id="U1")
    ann, mallory = Browser(atom), Browser(atom)
    try:
        # Ann opens her link; Mallory gets hold of the provider's redirect and finishes it in her own
        # browser: refused (different browser), nothing stored for anyone.
        _, location, _ = await ann.get(ann_link)
        _, callback, _ = await ann.get(location)
        status, _, page = await mallory.get(callback)
        assert status == 400 and "different browser" in page
        await _nothing_stored(atom)
        # Mallory opening Ann's start link after Ann did is refused as well.
        status, _, page = await mallory.get(ann_link)
        assert status == 400
        # A link Bob asked for, completed, connects Bob — never Ann.
        status, _ = await mallory.consent(await connect_link(atom, "calendar", user_id="U2"))
        assert status == 200
        assert await atom.runtime.connectors.connections.get(BOB, "google") is not None
        assert await atom.runtime.connectors.connections.get(ANN, "google") is None
    finally:
        await ann.close()
        await mallory.close()


async def test_person_b_cannot_disconnect_or_use_as_connections(atom_connected, fake_google):
    atom = atom_connected
    await connect_google(atom, ANN, {g.CALENDAR_READ})
    # Bob clicks a Disconnect button whose value names Ann's connector: it acts on Bob's own (none).
    response = await atom.client.block_action("connector_disconnect", value="google_calendar", user_id="U2")
    assert response.status == 200
    await asyncio.sleep(0.3)
    assert await atom.runtime.connectors.connections.get(ANN, "google") is not None
    assert fake_google.revoked == []
    result = await atom.runtime.connectors.run_action(BOB, "calendar.list_events", {})
    assert not result.ok and "not connected" in result.error
    assert "google_calendar" not in await atom.runtime.connectors.connected(BOB)


async def test_socket_mode_serves_the_oauth_routes_too(fake_slack, fake_google, sqlite_url, encryption_key, monkeypatch):
    from tests.conftest import AtomHarness, atom_env
    from tests.connector_helpers import connector_env
    from tests.fakes import payloads

    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    env = atom_env(fake_slack.url, sqlite_url, encryption_key, SLACK_APP_TOKEN="xapp-1-test",
                   **connector_env(fake_google, None))
    del env["SLACK_SIGNING_SECRET"]
    atom = AtomHarness(fake_slack, env)
    atom.google = fake_google
    await atom.start()
    try:
        await asyncio.wait_for(fake_slack.socket_connected.wait(), 5)
        envelope = await fake_slack.send_envelope("slash_commands", payloads.command_payload("connect drive", user_id="U1", team_id="T1"))
        ack = await fake_slack.wait_ack(envelope)
        browser = Browser(atom)
        try:
            status, page = await browser.consent(link_from(ack["payload"]["blocks"]))
        finally:
            await browser.close()
        assert status == 200 and "Google Drive connected" in page
        assert "google_drive" in await atom.runtime.connectors.connected(ANN)
        assert "asana" not in atom.runtime.connectors.registry.visible()  # no Asana client: hidden
    finally:
        await atom.stop()


async def test_asana_refreshes_before_expiry(atom_connected, fake_asana):
    from tests.connector_helpers import connect_asana

    atom = atom_connected
    await connect_asana(atom, ANN, lifetime=30)  # inside the refresh margin
    fake_asana.add_task("Call the bank")
    results = await asyncio.gather(*(atom.runtime.connectors.run_action(ANN, "asana.list_tasks", {}) for _ in range(5)))
    assert all(r.ok for r in results)
    assert atom.runtime.connectors.tokens.refreshes == 1


async def test_connect_command_without_or_with_an_unknown_service_lists_what_can_be_connected(atom_connected):
    atom = atom_connected
    for text in ("connect", "connect dropbox"):
        response = await atom.client.command(text)
        body = json.dumps(response.json)
        assert response.status == 200 and "`google_calendar`" in body and "`asana`" in body
    assert "I don't know the service `dropbox`" in json.dumps((await atom.client.command("connect dropbox")).json)
    slack = await atom.client.command("connect slack")
    assert "needs no connecting" in slack.text
    help_text = json.dumps((await atom.client.command("help")).json)
    assert "/atom connect <service>" in help_text and "`/atom connect`," not in help_text


async def test_a_broken_connection_shows_reconnect_on_the_home_tab(atom_connected, fake_slack, fake_google):
    atom = atom_connected
    await connect_google(atom, ANN, {g.CALENDAR_READ})
    row = await atom.runtime.connectors.connections.get(ANN, "google")
    await atom.runtime.connectors.connections.mark_broken(row.id, "Google refused Atom's access token")
    await atom.client.event(payloads_home())
    await fake_slack.wait_for("views.publish")
    home = json.dumps(fake_slack.home_views["U1"])
    assert "needs reconnecting" in home and "Reconnect" in home
    result = await atom.runtime.connectors.run_action(ANN, "calendar.list_events", {})
    assert not result.ok and "needs reconnecting" in result.error


def payloads_home():
    from tests.fakes import payloads

    return payloads.app_home_opened_event(user="U1")
