"""Start and stop as an operator meets them: Slack's auth.test made before any request, Socket
Mode that retries quietly with backoff, and SIGTERM honoured from the first moment."""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import socket
import sys

import aiohttp
import pytest

from bot.config import ConfigError
from tests.conftest import BOT_TOKEN, AtomHarness, atom_env, process_env
from tests.fakes import payloads
from tests.fakes.slack import Scripted

HELP = "Atom: what you can ask"
# Slack waits 3 s for an ack. A Slack call inside the ack is made to hang far longer than that, and
# the request is given 10 s: a generous margin for a loaded machine, and still a failure if the
# request waits on the hanging call.
HANGS = 15.0
REQUEST_LIMIT = 10.0
SLOWER_THAN_AN_ACK = 3.5


async def test_auth_test_runs_at_start_not_inside_the_first_ack(fake_slack, sqlite_url, encryption_key):
    fake_slack.script("auth.test", Scripted(delay=SLOWER_THAN_AN_ACK))  # slow Slack while starting
    harness = AtomHarness(fake_slack, atom_env(fake_slack.url, sqlite_url, encryption_key))
    await harness.start()
    try:
        assert len(fake_slack.calls_to("auth.test")) == 1  # made during start, before any request
        fake_slack.fail_always("auth.test", Scripted(delay=HANGS))  # a later call would hang the ack
        resp = await asyncio.wait_for(harness.client.command("help"), REQUEST_LIMIT)
        assert resp.status == 200 and HELP in resp.text
        await harness.client.event(payloads.message_im_event("hi"))
        [post] = await fake_slack.wait_for("chat.postMessage")
        assert post.token == BOT_TOKEN  # listeners still call Slack with the bot token
        assert len(fake_slack.calls_to("auth.test")) == 1
    finally:
        fake_slack.clear_scripts()
        await harness.stop()


async def test_oauth_workspaces_are_authorized_without_a_slack_call_in_the_ack(fake_slack, sqlite_url, encryption_key):
    from slack_sdk.oauth.installation_store.models.bot import Bot

    env = atom_env(fake_slack.url, sqlite_url, encryption_key, SLACK_CLIENT_ID="111.222", SLACK_CLIENT_SECRET="oauth-secret")
    del env["SLACK_BOT_TOKEN"]
    harness = AtomHarness(fake_slack, env)
    await harness.start()
    try:
        token = "xoxb-T1-installed-token-123"
        await harness.server.app.installation_store.async_save_bot(
            Bot(team_id=payloads.TEAM_ID, bot_token=token, bot_id=payloads.BOT_ID,
                bot_user_id=payloads.BOT_USER_ID, installed_at=1700000000.0)
        )
        fake_slack.fail_always("auth.test", Scripted(delay=HANGS))
        resp = await asyncio.wait_for(harness.client.command("help"), REQUEST_LIMIT)
        assert resp.status == 200 and HELP in resp.text
        await harness.client.event(payloads.message_im_event("hello"))
        [post] = await fake_slack.wait_for("chat.postMessage")
        assert post.token == token
        assert fake_slack.calls_to("auth.test") == []

        resp = await asyncio.wait_for(harness.client.command("help", team_id="T_NOT_INSTALLED"), REQUEST_LIMIT)
        assert resp.status == 200
        [told] = await fake_slack.wait_for("response_url")
        assert "reinstall" in str(told.params)  # Bolt's answer for a workspace with no installation
    finally:
        fake_slack.clear_scripts()
        await harness.stop()


async def test_a_bot_token_slack_refuses_stops_the_start(fake_slack, sqlite_url, encryption_key):
    fake_slack.bad_tokens[BOT_TOKEN] = "invalid_auth"
    harness = AtomHarness(fake_slack, atom_env(fake_slack.url, sqlite_url, encryption_key))
    with pytest.raises(ConfigError) as info:
        await harness.start()
    assert "Slack refused SLACK_BOT_TOKEN (invalid_auth)" in info.value.render()


async def test_a_slack_that_is_down_at_start_is_a_warning_and_the_first_request_asks(
    fake_slack, sqlite_url, encryption_key, caplog
):
    fake_slack.fail_always("auth.test", Scripted(status=200, body={"ok": False, "error": "fatal_error"}))
    harness = AtomHarness(fake_slack, atom_env(fake_slack.url, sqlite_url, encryption_key))
    with caplog.at_level(logging.WARNING, logger="bot.slack_auth"):
        await harness.start()
    try:
        assert any("the first request will try again" in r.getMessage() for r in caplog.records)
        fake_slack.clear_scripts()
        resp = await harness.client.command("help")
        assert resp.status == 200 and HELP in resp.text
        assert len(fake_slack.calls_to("auth.test")) == 2
    finally:
        await harness.stop()


RETRY_LINE = re.compile(r"Socket Mode: could not .* \(attempt (\d+): .*\); retrying in ([\d.]+)s")


async def test_socket_mode_retries_with_one_line_each_and_backoff(fake_slack, sqlite_url, encryption_key, caplog):
    env = atom_env(fake_slack.url, sqlite_url, encryption_key, SLACK_APP_TOKEN="xapp-1-test")
    del env["SLACK_SIGNING_SECRET"]
    harness = AtomHarness(fake_slack, env)
    caplog.set_level(logging.INFO)
    await harness.start()
    try:
        await asyncio.wait_for(fake_slack.socket_connected.wait(), 10)
        fake_slack.fail_always("apps.connections.open", Scripted(status=200, body={"ok": False, "error": "internal_error"}))
        await fake_slack.disconnect_sockets()  # Slack drops the connection and cannot give a new one
        for _ in range(400):
            if len(fake_slack.calls_to("apps.connections.open")) >= 4:
                break
            await asyncio.sleep(0.025)
        async with aiohttp.ClientSession() as http, http.get(f"{harness.url}/readyz") as r:
            body = await r.json()
        assert r.status == 503 and body["checks"]["slack_socket"] == "connecting"
        fake_slack.clear_scripts()
        await asyncio.wait_for(fake_slack.socket_connected.wait(), 30)
        envelope = await fake_slack.send_envelope("slash_commands", payloads.command_payload("help"))
        assert HELP in str((await fake_slack.wait_ack(envelope))["payload"])
    finally:
        await harness.stop()
    retries = [r for r in caplog.records if RETRY_LINE.search(r.getMessage())]
    assert len(retries) >= 3
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in retries)
    assert all("internal_error" in r.getMessage() for r in retries)
    delays = [float(RETRY_LINE.search(r.getMessage()).group(2)) for r in retries]
    assert delays == sorted(delays) and delays[2] > delays[0]  # backing off, not a fixed interval
    assert not [r for r in caplog.records if r.exc_info and "connect" in r.getMessage().lower()]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _atom_process(fake_slack, tmp_path, **extra: str):
    env = process_env(
        {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_API_URL": fake_slack.url, "ATOM_PORT": str(_free_port()), **extra}
    )
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )


async def _read_until(stream, pattern: re.Pattern, count: int, seen: list[str], limit: float = 60.0) -> None:
    async with asyncio.timeout(limit):
        while sum(1 for line in seen if pattern.search(line)) < count:
            line = await stream.readline()
            if not line:
                raise AssertionError("the process ended early:\n" + "".join(seen))
            seen.append(line.decode())


async def _stop(proc, seen: list[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    try:
        _, rest = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return "".join(seen) + rest.decode()


async def test_sigterm_before_socket_mode_ever_connected_is_a_clean_stop(fake_slack, tmp_path):
    fake_slack.fail_always("apps.connections.open", Scripted(status=200, body={"ok": False, "error": "internal_error"}))
    proc = await _atom_process(fake_slack, tmp_path, SLACK_APP_TOKEN="xapp-1-test")
    seen: list[str] = []
    try:
        await _read_until(proc.stderr, RETRY_LINE, 3, seen)
    except BaseException:
        proc.kill()
        await proc.wait()
        raise
    log = await _stop(proc, seen)
    assert proc.returncode == 0, log
    assert "Traceback" not in log
    assert "shutting down" in log
    assert fake_slack.socket_connections == 0
    attempts = [int(m.group(1)) for m in RETRY_LINE.finditer(log)]
    assert attempts[:3] == [1, 2, 3]


async def test_sigterm_while_start_up_waits_for_slack_is_a_clean_stop(fake_slack, tmp_path):
    fake_slack.fail_always("auth.test", Scripted(delay=HANGS))
    proc = await _atom_process(fake_slack, tmp_path, SLACK_SIGNING_SECRET="s")
    try:
        await fake_slack.wait_for("auth.test", timeout=60)  # start-up is now waiting on Slack
    except BaseException:
        proc.kill()
        await proc.wait()
        raise
    log = await _stop(proc, [])
    assert proc.returncode == 0, log
    assert "Traceback" not in log
    assert "shutting down before start-up finished" in log


async def test_sigterm_while_the_database_does_not_answer_is_a_clean_stop(fake_slack, tmp_path, encryption_key):
    """A PostgreSQL server that accepts the connection and then says nothing: start-up waits in
    the database driver, and SIGTERM still stops the process at once and cleanly."""
    connected = asyncio.Event()
    held: list[asyncio.StreamWriter] = []

    async def silent(_reader, writer):
        held.append(writer)
        connected.set()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    proc = await _atom_process(
        fake_slack, tmp_path, SLACK_SIGNING_SECRET="s", ATOM_ENCRYPTION_KEYS=encryption_key,
        ATOM_DATABASE_URL=f"postgresql+asyncpg://atom@127.0.0.1:{port}/atom",
    )
    try:
        await asyncio.wait_for(connected.wait(), 60)
        log = await _stop(proc, [])
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        for writer in held:
            writer.close()
        server.close()
    assert proc.returncode == 0, log
    assert "Traceback" not in log
    assert "shutting down before start-up finished" in log


def test_a_refused_app_token_is_named_in_the_retry_line():
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.slack_response import SlackResponse

    from bot.socket_mode import describe, retry_delay

    response = SlackResponse(client=None, http_verb="POST", api_url="u", req_args={}, data={"ok": False, "error": "invalid_auth"},
                             headers={}, status_code=200)
    assert "check SLACK_APP_TOKEN" in describe(SlackApiError("refused", response))
    assert describe(ConnectionRefusedError(111, "Connect call failed")) == "ConnectionRefusedError: [Errno 111] Connect call failed"
    assert [round(retry_delay(n, random_zero())) for n in (1, 2, 3, 7, 20)] == [1, 2, 4, 60, 60]


def random_zero():
    import random

    class Middle(random.Random):
        def random(self) -> float:
            return 0.5  # no jitter

    return Middle()


async def test_socket_mode_follows_slacks_refresh_request_quietly(fake_slack, sqlite_url, encryption_key, caplog):
    """Slack asks every few hours for a reconnect (`disconnect`/`refresh_requested`): Atom takes a
    new URL, keeps answering, and logs no warning."""
    env = atom_env(fake_slack.url, sqlite_url, encryption_key, SLACK_APP_TOKEN="xapp-1-test")
    del env["SLACK_SIGNING_SECRET"]
    harness = AtomHarness(fake_slack, env)
    await harness.start()
    try:
        await asyncio.wait_for(fake_slack.socket_connected.wait(), 10)
        with caplog.at_level(logging.WARNING):
            await fake_slack.send_disconnect("refresh_requested")
            for _ in range(400):
                if fake_slack.socket_connections >= 2:
                    break
                await asyncio.sleep(0.025)
            assert fake_slack.socket_connections == 2
            assert len(fake_slack.calls_to("apps.connections.open")) == 2
            envelope = await fake_slack.send_envelope("slash_commands", payloads.command_payload("help"))
            assert HELP in str((await fake_slack.wait_ack(envelope))["payload"])
        # Warnings only: an earlier test (test_logging) may leave INFO records enabled.
        assert not [
            r for r in caplog.records if r.name.startswith(("bot", "slack")) and r.levelno >= logging.WARNING
        ]
    finally:
        await harness.stop()


async def test_a_socket_url_that_fails_is_not_retried(fake_slack, sqlite_url, encryption_key, caplog):
    """slack_sdk retries the same WebSocket URL for ever; Atom asks Slack for a new one each time."""
    dead = _free_port()  # nothing listens there
    fake_slack.set_handler("apps.connections.open", lambda call: {"ok": True, "url": f"ws://127.0.0.1:{dead}/socket"})
    env = atom_env(fake_slack.url, sqlite_url, encryption_key, SLACK_APP_TOKEN="xapp-1-test")
    del env["SLACK_SIGNING_SECRET"]
    harness = AtomHarness(fake_slack, env)
    caplog.set_level(logging.INFO)
    await harness.start()
    try:
        for _ in range(600):
            if len([r for r in caplog.records if RETRY_LINE.search(r.getMessage())]) >= 3:
                break
            await asyncio.sleep(0.025)
    finally:
        await harness.stop()
    retries = [r for r in caplog.records if RETRY_LINE.search(r.getMessage())]
    assert len(retries) >= 3
    assert all("could not open the Socket Mode connection" in r.getMessage() and r.exc_info is None for r in retries)
    assert len(fake_slack.calls_to("apps.connections.open")) >= len(retries)  # a fresh URL every attempt
    assert not [r for r in caplog.records if r.exc_info]
