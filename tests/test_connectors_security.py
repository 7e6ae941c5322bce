"""Connector secrets and isolation: sentinel OAuth tokens never leak; rotation covers them; one
person never sees another's connections; slow connectors never hold up Slack's acks."""

from __future__ import annotations

import asyncio
import json
import logging
import statistics
import time

from cryptography.fernet import Fernet

from tests.conftest import AtomHarness, atom_env, provider_env, run_atom_cli
from tests.connector_helpers import (
    ANN,
    BOB,
    Browser,
    atom_connected,
    connect_google,
    connector_env,
    fake_asana,
    fake_google,
    link_from,
    tool_providers,
)
from tests.fakes import google as g
from tests.fakes import payloads
from tests.keyhelpers import give_keys, settle

SENTINEL = "SENTINELTOKEN"


async def test_sentinel_oauth_tokens_never_leak(fake_slack, tool_providers, fake_google, fake_asana, tmp_path, caplog, monkeypatch):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    caplog.set_level(logging.DEBUG)
    fake_google.token_prefix = fake_asana.token_prefix = SENTINEL
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'atom.db'}"
    env = atom_env(fake_slack.url, db_url, old_key, ATOM_LOG_LEVEL="DEBUG", **provider_env(tool_providers),
                   **connector_env(fake_google, fake_asana))
    atom = AtomHarness(fake_slack, env)
    atom.providers, atom.google, atom.asana = tool_providers, fake_google, fake_asana
    await atom.start()
    texts: list[str] = []
    try:
        browser = Browser(atom)
        for service in ("calendar", "asana"):
            response = await atom.client.command(f"connect {service}")
            status, page = await browser.consent(link_from(response.json["blocks"]))
            assert status == 200
            texts.append(page)
        await browser.close()
        fake_google.add_message("Hi", "x@example.com", "hello")
        texts.append(repr(await atom.runtime.connectors.connections.for_person(ANN)))
        row, token = await atom.runtime.connectors.tokens.access(ANN, "google")
        texts += [repr(row), repr(token), str(token)]
        # A refresh, failures of every kind, a chat answer that used a tool, metrics.
        await atom.runtime.connectors.tokens.access(ANN, "google", force_refresh=True)
        for status in (403, 404, 429, 500):
            fake_google.fail("/calendar/v3", g.Failure(status), g.Failure(status))
            texts.append((await atom.runtime.connectors.run_action(ANN, "calendar.list_events", {})).error or "")
        await give_keys(atom, "openai")
        tool_providers.steps.extend([[("calendar__list_events", {})], "Nothing today."])
        await atom.client.event(payloads.message_im_event("what's on today?", thread_ts="1700000100.000100"))
        await atom.slack.wait_for("chat.stopStream", timeout=20)
        await settle(atom)
        texts.append(atom.runtime.metrics.render().decode())
        # Revoked at the provider: 401 → broken → the Reconnect DM.
        for t in fake_google.tokens.values():
            t.revoked = True
        texts.append((await atom.runtime.connectors.run_action(ANN, "calendar.list_events", {})).error or "")
    finally:
        await atom.stop()

    code, out, err = await run_atom_cli(
        "keys", "rotate",
        env={"ATOM_DATABASE_URL": db_url, "ATOM_LOG_LEVEL": "DEBUG", "ATOM_ENCRYPTION_KEYS": f"{new_key},{old_key}"},
    )
    assert code == 0, err
    assert "connected-service tokens: 2" in out

    atom = AtomHarness(fake_slack, {**env, "ATOM_ENCRYPTION_KEYS": new_key})
    atom.providers, atom.google, atom.asana = tool_providers, fake_google, fake_asana
    await atom.start()
    try:
        # Decrypts with the new key alone; disconnect revokes and deletes.
        _, asana_token = await atom.runtime.connectors.tokens.access(ANN, "asana")
        assert SENTINEL in asana_token.reveal()
        await atom.client.block_action("connector_disconnect", value="asana")
        await settle(atom)
        assert await atom.runtime.connectors.connections.get(ANN, "asana") is None
        assert fake_asana.revoked and SENTINEL in fake_asana.revoked[0]
        await atom.runtime.engine.dispose()
    finally:
        await atom.stop()

    assert SENTINEL not in caplog.text
    assert SENTINEL not in out + err
    assert all(SENTINEL not in t for t in texts), [t for t in texts if SENTINEL in t]
    for call in fake_slack.calls:
        assert SENTINEL not in json.dumps(call.params) and SENTINEL not in str(call.headers)
    for request in tool_providers.requests:
        assert SENTINEL not in request.body
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("atom.db*"))
    assert SENTINEL.encode() not in raw


async def test_the_home_tab_shows_only_the_persons_own_connections(atom_connected, fake_slack):
    atom = atom_connected
    await connect_google(atom, ANN, {g.CALENDAR_READ, g.EMAIL})
    for user in ("U1", "U2"):
        await atom.client.event(payloads.app_home_opened_event(user=user))
    await fake_slack.wait_for("views.publish", count=2)
    await settle(atom)
    ann, bob = json.dumps(fake_slack.home_views["U1"]), json.dumps(fake_slack.home_views["U2"])
    assert "connected as *ann@example.com*" in ann and "connector_disconnect" in ann
    assert "ann@example.com" not in bob and "connector_disconnect" not in bob
    assert "Google Calendar*: not connected" in bob
    assert await atom.runtime.connectors.connected(BOB) == {"slack"}


async def test_slow_google_never_delays_slacks_acks(atom_connected):
    """20 connector calls held 2 s each by a slow Google, while Slack requests keep being acked."""
    atom = atom_connected
    await connect_google(atom, ANN, {g.CALENDAR_READ})

    async def acks(n: int) -> list[float]:
        out = []
        for _ in range(n):
            started = time.perf_counter()
            response = await atom.client.command("help")
            assert response.status == 200
            out.append(time.perf_counter() - started)
        return out

    quiet = await acks(20)
    atom.google.delay = 2.0
    calls = [asyncio.create_task(atom.runtime.connectors.run_action(ANN, "calendar.list_events", {})) for _ in range(20)]
    while atom.google.in_flight < 20:  # noqa: ASYNC110 (the fake counts; nothing to wait on)
        await asyncio.sleep(0.05)
    busy = await acks(20)
    results = await asyncio.gather(*calls)
    assert all(r.ok for r in results)
    assert atom.google.max_in_flight == 20  # all twenty really were in flight together
    assert max(busy) < 3.0  # Slack's limit, not a speed target: bench/connectors.py measures that
    print(f"ack median quiet {statistics.median(quiet) * 1000:.1f} ms, with 20 slow calls {statistics.median(busy) * 1000:.1f} ms")


def _certificate(tmp_path, name: str, host: str, ca=None):
    """A PEM key and certificate for `host`, signed by `ca` (key, cert) or self-signed as a CA."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    issuer_key, issuer = (key, subject) if ca is None else (ca[0], ca[1].subject)
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
               .not_valid_after(now + dt.timedelta(days=1)))
    if ca is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
    else:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
    cert = builder.sign(issuer_key, hashes.SHA256())
    key_file, cert_file = tmp_path / f"{name}.key", tmp_path / f"{name}.pem"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert, key_file, cert_file


async def test_google_over_tls_verifies_the_certificate_and_host_before_sending_a_token(
    tmp_path, fake_slack, tool_providers, encryption_key, monkeypatch
):
    """Atom's Google connections share one TLS context (bot/connectors/google_api.py): it must
    still verify the chain and the host name, and refuse before the token leaves."""
    import ssl

    from bot.connectors import google_api
    from tests.fakes.google import FakeGoogle

    ca_key, ca_cert, _, ca_file = _certificate(tmp_path, "ca", "Atom Test CA")
    _, _, good_key, good_cert = _certificate(tmp_path, "good", "localhost", (ca_key, ca_cert))
    _, _, other_key, other_cert = _certificate(tmp_path, "other", "elsewhere.example", (ca_key, ca_cert))
    stranger = _certificate(tmp_path, "stranger-ca", "Stranger CA")
    _, _, rogue_key, rogue_cert = _certificate(tmp_path, "rogue", "localhost", stranger[:2])
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(good_cert, good_key)
    monkeypatch.setenv("HTTPLIB2_CA_CERTS", str(ca_file))  # httplib2's own knob; the shared context reads it
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    google_api.tls_context.cache_clear()
    try:
        async with FakeGoogle(tls=server, host="localhost") as google:
            env = atom_env(fake_slack.url, f"sqlite+aiosqlite:///{tmp_path / 'atom.db'}", encryption_key,
                           **provider_env(tool_providers), **connector_env(google, None))
            atom = AtomHarness(fake_slack, env)
            atom.google = google
            await atom.start()
            try:
                await connect_google(atom, ANN, {g.CALENDAR_READ})
                ok = await atom.runtime.connectors.run_action(ANN, "calendar.list_events", {})
                assert ok.ok, ok.error
                assert len(google.api_calls("/calendar/v3")) == 1
                for cert, key in ((other_cert, other_key), (rogue_cert, rogue_key)):  # wrong name; unknown CA
                    server.load_cert_chain(cert, key)  # new handshakes present this one
                    refused = await atom.runtime.connectors.run_action(ANN, "calendar.list_events", {})
                    assert not refused.ok and "could not reach Google Calendar" in refused.error, refused.error
                    assert len(google.api_calls("/calendar/v3")) == 1  # no request, so no token, reached it
            finally:
                await atom.stop()
    finally:
        google_api.tls_context.cache_clear()
