"""Requests that are not from Slack, or are malformed, are refused before any listener runs."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from tests.fakes import payloads
from tests.fakes.signing import sign


async def _no_listener_ran(atom) -> None:
    await asyncio.sleep(0.2)
    assert atom.slack.calls_to("chat.postMessage") == []
    assert atom.slack.calls_to("views.publish") == []


def _dm_body(text="hi") -> str:
    return json.dumps(payloads.event_callback(payloads.message_im_event(text), event_time=int(time.time())))


@pytest.mark.parametrize(
    "tamper",
    ["forged_signature", "old_timestamp", "future_timestamp", "flipped_byte", "no_signature", "no_timestamp", "no_headers"],
)
async def test_unverified_requests_get_401_and_no_listener_runs(atom_sqlite, tamper):
    client = atom_sqlite.client
    body = _dm_body()
    now = int(time.time())
    kwargs = {}
    if tamper == "forged_signature":
        kwargs = {"signature": sign("wrong-secret", now, body), "timestamp": now}
    elif tamper in ("old_timestamp", "future_timestamp"):
        ts = now - 301 if tamper == "old_timestamp" else now + 301
        kwargs = {"timestamp": ts, "signature": sign(client.signing_secret, ts, body)}
    elif tamper == "flipped_byte":
        signature = sign(client.signing_secret, now, body)
        index = body.index("hi")
        body = body[:index] + "hj" + body[index + 2 :]
        kwargs = {"timestamp": now, "signature": signature}
    elif tamper == "no_signature":
        kwargs = {"sign": False, "timestamp": now}
    elif tamper == "no_timestamp":
        kwargs = {"sign": False, "signature": sign(client.signing_secret, now, body)}
    elif tamper == "no_headers":
        kwargs = {"sign": False}
    resp = await client.post(body, "application/json", **kwargs)
    assert resp.status == 401
    await _no_listener_ran(atom_sqlite)


async def test_unverified_bodies_are_not_logged(atom_sqlite, caplog):
    caplog.set_level("DEBUG")
    secret_text = "xoxb-9999-SENTINEL-never-log-me"
    await atom_sqlite.client.post(_dm_body(secret_text), "application/json", signature="v0=bad")
    assert "SENTINEL" not in caplog.text


async def test_url_verification_and_ssl_check_are_answered(atom_sqlite):
    resp = await atom_sqlite.client.url_verification("challenge-123")
    assert resp.status == 200 and "challenge-123" in resp.text
    assert (await atom_sqlite.client.ssl_check()).status == 200


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ("{not json", "application/json", 400),
        ("[1, 2]", "application/json", 400),
        ("payload=%7Bbroken", "application/x-www-form-urlencoded", 400),
        ("just=fields", "application/x-www-form-urlencoded", 400),
        ("<xml/>", "text/xml", 415),
    ],
)
async def test_malformed_signed_bodies_get_4xx_and_the_process_lives(atom_sqlite, body, content_type, status):
    resp = await atom_sqlite.client.post(body, content_type)
    assert resp.status == status
    assert (await atom_sqlite.client.command("help")).status == 200


async def test_huge_body_is_refused_with_413(atom_sqlite):
    huge = json.dumps({"type": "event_callback", "pad": "x" * (2 * 1024 * 1024)})
    resp = await atom_sqlite.client.post(huge, "application/json")
    assert resp.status == 413
    assert (await atom_sqlite.client.command("help")).status == 200


async def test_unknown_action_is_handled_without_error(atom_sqlite):
    resp = await atom_sqlite.client.block_action("no_such_action", value="x")
    assert resp.status in (200, 404)
    assert (await atom_sqlite.client.command("help")).status == 200
