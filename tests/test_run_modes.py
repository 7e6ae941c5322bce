"""`atom run` as an operator starts it: Socket Mode, HTTP mode in a real process, graceful stop."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys

import aiohttp

from tests.conftest import SIGNING_SECRET, AtomHarness, atom_env, process_env
from tests.fakes import payloads
from tests.fakes.signing import SlackRequestClient


async def socket_mode_atom(fake_slack, sqlite_url, encryption_key) -> AtomHarness:
    """Atom in Socket Mode (an app token, no signing secret), connected to the fake Slack."""
    env = atom_env(fake_slack.url, sqlite_url, encryption_key, SLACK_APP_TOKEN="xapp-1-test")
    del env["SLACK_SIGNING_SECRET"]
    harness = AtomHarness(fake_slack, env)
    await harness.start()
    await asyncio.wait_for(fake_slack.socket_connected.wait(), 5)
    return harness


async def test_socket_mode_acks_envelopes_and_still_serves_health(fake_slack, sqlite_url, encryption_key):
    harness = await socket_mode_atom(fake_slack, sqlite_url, encryption_key)
    try:
        envelope = await fake_slack.send_envelope(
            "slash_commands", payloads.command_payload("help", user_id="U1", team_id="T1")
        )
        ack = await fake_slack.wait_ack(envelope)
        assert "Atom: what you can ask" in str(ack["payload"]["blocks"])

        event = payloads.event_callback(payloads.message_im_event("hi"))
        await fake_slack.wait_ack(await fake_slack.send_envelope("events_api", event))
        await fake_slack.wait_for("chat.postMessage")
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{harness.url}/healthz") as r:
                assert r.status == 200
            async with http.post(f"{harness.url}/slack/events", data="{}") as r:
                assert r.status in (404, 405)  # no HTTP event endpoint in Socket Mode
    finally:
        await harness.stop()


async def test_socket_mode_drops_malformed_envelopes_after_acking_them(fake_slack, sqlite_url, encryption_key):
    """The HTTP endpoint's shape checks hold in Socket Mode too: acknowledged (no resend), dropped,
    no listener crash, no apology; a good envelope after them is answered."""
    harness = await socket_mode_atom(fake_slack, sqlite_url, encryption_key)
    try:
        odd_text = payloads.message_im_event("x")
        odd_text["text"] = {"not": "a string"}
        no_ts = payloads.message_im_event("y")
        del no_ts["ts"]
        deep: list = []
        for _ in range(100):
            deep = [deep]
        nested = payloads.message_im_event("z", blocks=deep)
        for event in (odd_text, no_ts, nested):
            await fake_slack.wait_ack(await fake_slack.send_envelope("events_api", payloads.event_callback(event)))
        await fake_slack.wait_ack(await fake_slack.send_envelope("events_api", payloads.event_callback(payloads.message_im_event("hi"))))
        await fake_slack.wait_for("chat.postMessage")
        await asyncio.sleep(0.3)
        [post] = fake_slack.calls_to("chat.postMessage")  # the good one only: no apology
        assert "went wrong" not in str(post.params)
        assert harness.runtime.metrics.registry.get_sample_value("atom_handler_errors_total") == 0
    finally:
        await harness.stop()


async def test_graceful_stop_lets_an_acked_reply_finish(fake_slack, sqlite_url, encryption_key):
    from tests.fakes.slack import Scripted

    harness = AtomHarness(fake_slack, atom_env(fake_slack.url, sqlite_url, encryption_key))
    await harness.start()
    fake_slack.script("chat.postMessage", Scripted(delay=0.5))
    await harness.client.event(payloads.message_im_event("slow reply please"))
    for _ in range(100):
        if harness.runtime.inflight.count:
            break
        await asyncio.sleep(0.01)
    await harness.stop()
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_atom_run_process_acks_slack_and_stops_on_sigterm(fake_slack, tmp_path, encryption_key):
    port = _free_port()
    env = process_env({
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.url,
        "ATOM_PORT": str(port),
        "ATOM_LOG_FORMAT": "json",
    })
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        client = SlackRequestClient(f"http://127.0.0.1:{port}", SIGNING_SECRET)
        for _ in range(300):
            try:
                resp = await client.command("help")
                break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)
        assert resp.status == 200 and "Atom: what you can ask" in resp.text
        await client.close()
        proc.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, stderr.decode()
    log = stderr.decode()
    assert "atom.db.key" in log  # the embedded key file was announced loudly
    assert (tmp_path / "atom.db.key").exists()
    assert "Traceback" not in log
