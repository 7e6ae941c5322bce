"""Every connector action over the wire-level fakes: happy paths and each error class.

Google through google-api-python-client, Asana through aiohttp, Slack through slack_sdk — all
against local servers speaking the real paths and JSON shapes. Nothing is mocked.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from tests.connector_helpers import (  # noqa: F401  (fixtures)
    ANN,
    atom_connected,
    connect_asana,
    connect_google,
    fake_asana,
    fake_google,
    serve_channel_members,
    tool_providers,
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


ALL_GOOGLE = {g.CALENDAR_READ, g.CALENDAR_WRITE, g.GMAIL_READ, g.GMAIL_COMPOSE, g.DRIVE_READ, g.EMAIL}


async def test_calendar_finds_free_time_and_creates_an_event(atom_connected):
    from zoneinfo import ZoneInfo

    google = atom_connected.google
    await connect_google(atom_connected, ANN, ALL_GOOGLE)
    tomorrow = (datetime.now(ZoneInfo("Europe/London")) + timedelta(days=1)).replace(second=0, microsecond=0)
    at = tomorrow.replace(hour=10, minute=0)
    google.events.append({"id": "e1", "summary": "Standup", "start": {"dateTime": at.isoformat()},
                          "end": {"dateTime": (at + timedelta(hours=2)).isoformat()}})
    free = await run(atom_connected, "calendar.find_free_time", {"day": "tomorrow", "min_minutes": 45})
    assert free.ok, free.error
    assert "09:00–10:00" in free.text and "12:00–18:00" in free.text
    made = await run(atom_connected, "calendar.create_event",
                     {"title": "1:1 with Bob", "start": f"{at.date()}T15:00", "attendees": ["bob@example.com"]})
    assert made.ok, made.error
    event = google.inserted_events[-1]
    assert event["summary"] == "1:1 with Bob" and event["attendees"] == [{"email": "bob@example.com"}]
    assert event["start"]["timeZone"] == "Europe/London" and "T15:00:00" in event["start"]["dateTime"]
    bad = await run(atom_connected, "calendar.create_event", {"title": "x", "start": "next tuesday-ish"})
    assert not bad.ok and "not a date and time" in bad.error


async def test_gmail_lists_reads_drafts_and_sends(atom_connected):
    import base64
    from email import message_from_bytes

    google = atom_connected.google
    await connect_google(atom_connected, ANN, ALL_GOOGLE)
    first = google.add_message("Invoice 42", "Carol <carol@example.com>", "Please pay by Friday.")
    google.add_message("Old news", "dan@example.com", "read already", unread=False)
    html_id = google.add_message("Newsletter", "news@example.com", "<p>Hello &amp; <b>welcome</b></p>", html=True)
    unread = await run(atom_connected, "gmail.list_unread")
    assert unread.ok and "Invoice 42" in unread.text and "Carol" in unread.text and "Old news" not in unread.text
    assert {m["id"] for m in unread.data} == {first, html_id}
    found = await run(atom_connected, "gmail.search", {"query": "Invoice"})
    assert found.ok and [m["id"] for m in found.data] == [first]
    read = await run(atom_connected, "gmail.read_message", {"message_id": first})
    assert read.ok and "Please pay by Friday." in read.text and "Subject: Invoice 42" in read.text
    as_text = await run(atom_connected, "gmail.read_message", {"message_id": html_id})
    assert "Hello & welcome" in " ".join(as_text.text.split()) and "<b>" not in as_text.text
    draft = await run(atom_connected, "gmail.create_draft", {"to": ["bob@example.com"], "subject": "Hi", "body": "Draft body"})
    assert draft.ok and google.drafts
    sent = await run(atom_connected, "gmail.send", {"to": ["bob@example.com"], "subject": "Lunch?", "body": "At noon"})
    assert sent.ok
    mail = message_from_bytes(base64.urlsafe_b64decode(google.sent[-1]["raw"]))
    assert mail["To"] == "bob@example.com" and mail["Subject"] == "Lunch?" and "At noon" in mail.get_payload()
    bad = await run(atom_connected, "gmail.send", {"to": ["not an address"], "subject": "x", "body": "y"})
    assert not bad.ok and "not an email address" in bad.error and len(google.sent) == 1


async def test_drive_searches_and_reads_docs_sheets_text_and_pdfs(atom_connected):
    from tests.connector_helpers import tiny_pdf

    google = atom_connected.google
    await connect_google(atom_connected, ANN, ALL_GOOGLE)
    doc = google.add_file("Roadmap 2027", "application/vnd.google-apps.document", "Ship connectors in Q1.")
    sheet = google.add_file("Budget", "application/vnd.google-apps.spreadsheet", "item,cost\nlaptops,1200\n")
    text = google.add_file("notes.txt", "text/plain", "plain notes")
    pdf = google.add_file("Plan.pdf", "application/pdf", tiny_pdf("Quarterly plan"))
    image = google.add_file("photo.png", "image/png", b"\x89PNG")
    found = await run(atom_connected, "drive.search", {"query": "roadmap"})
    assert found.ok and [f["id"] for f in found.data] == [doc]
    read = await run(atom_connected, "drive.read_file", {"file_id": doc})
    assert read.ok and read.data["text"] == "Ship connectors in Q1."  # the byte-order mark is gone
    assert "laptops,1200" in (await run(atom_connected, "drive.read_file", {"file_id": sheet})).text
    assert "plain notes" in (await run(atom_connected, "drive.read_file", {"file_id": text})).text
    assert "Quarterly plan" in (await run(atom_connected, "drive.read_file", {"file_id": pdf})).text
    refused = await run(atom_connected, "drive.read_file", {"file_id": image})
    assert not refused.ok and "image/png" in refused.error


async def test_oversize_content_is_cut_with_a_note_and_huge_files_are_not_downloaded(atom_connected):
    google = atom_connected.google
    await connect_google(atom_connected, ANN, ALL_GOOGLE)
    long = google.add_file("Long doc", "application/vnd.google-apps.document", "word " * 10_000)
    result = await run(atom_connected, "drive.read_file", {"file_id": long})
    assert result.ok and result.truncated and len(result.text) <= 20_000
    assert "truncated: showing the first 20,000 of" in result.text
    huge = google.add_file("dump.txt", "text/plain", "x")
    google.files[huge]["size"] = str(50 * 1024 * 1024)
    before = len(google.api_calls(f"/drive/v3/files/{huge}?alt=media"))
    refused = await run(atom_connected, "drive.read_file", {"file_id": huge})
    assert not refused.ok and "too large" in refused.error
    assert len(google.api_calls(f"/drive/v3/files/{huge}?alt=media")) == before


async def test_asana_lists_creates_and_completes(atom_connected):
    asana = atom_connected.asana
    await connect_asana(atom_connected, ANN)
    gid = asana.add_task("Review PR", due_on="2026-12-02", project="Atom")
    asana.add_task("Done long ago", completed=True)
    listed = await run(atom_connected, "asana.list_tasks")
    assert listed.ok and "Review PR — due 2026-12-02 (Atom)" in listed.text and "Done long ago" not in listed.text
    made = await run(atom_connected, "asana.create_task", {"name": "Book flights", "due_on": "2026-12-10"})
    assert made.ok and any(t["name"] == "Book flights" and t["due_on"] == "2026-12-10" for t in asana.tasks.values())
    done = await run(atom_connected, "asana.complete_task", {"task_id": gid})
    assert done.ok and asana.tasks[gid]["completed"] is True
    missing = await run(atom_connected, "asana.complete_task", {"task_id": "999"})
    assert not missing.ok and "could not find" in missing.error


# ---------------------------------------------------------------------- error classes, both services

CASES = {
    # kind: (scripted failures, what the person reads)
    "401 after a refresh": ([Failure(401), Failure(401)], "reconnect"),
    "403": ([Failure(403)], "refused"),
    "404": ([Failure(404)], "could not find"),
    "429 twice": ([Failure(429, {"Retry-After": "1"}), Failure(429, {"Retry-After": "7"})], "Try again in 7 seconds"),
    "500": ([Failure(500)], "server error (500)"),
    "503": ([Failure(503)], "server error (503)"),
}


async def _error_case(atom, service, failures):
    if service == "google":
        await connect_google(atom, ANN, ALL_GOOGLE)
        atom.google.fail("/gmail/v1", *failures)
        return await run(atom, "gmail.list_unread")
    await connect_asana(atom, ANN)
    atom.asana.fail("/api/1.0/tasks", *failures)
    return await run(atom, "asana.list_tasks")


async def test_each_error_class_is_one_clear_sentence(atom_connected):
    for service in ("google", "asana"):
        for kind, (failures, expected) in CASES.items():
            result = await _error_case(atom_connected, service, failures)
            assert not result.ok, (service, kind)
            assert expected in result.error, (service, kind, result.error)
            assert result.error.count(". ") <= 1 and "scripted" not in result.error  # never the service's text
            # 401 broke the connection: the next case starts from a fresh one.
            await atom_connected.runtime.connectors.connections.delete(ANN, service)


async def test_one_401_is_cured_by_a_refresh_and_a_retry(atom_connected):
    google = atom_connected.google
    await connect_google(atom_connected, ANN, ALL_GOOGLE)
    google.fail("/gmail/v1", Failure(401))
    result = await run(atom_connected, "gmail.list_unread")
    assert result.ok, result.error
    assert atom_connected.runtime.connectors.tokens.refreshes == 1


async def test_429_honours_retry_after_once_then_succeeds(atom_connected):
    google = atom_connected.google
    await connect_google(atom_connected, ANN, ALL_GOOGLE)
    google.add_message("Hello", "x@example.com", "body")
    google.fail("/gmail/v1", Failure(429, {"Retry-After": "1"}))
    waits: list[float] = []

    async def recorded_sleep(seconds: float) -> None:
        waits.append(seconds)

    atom_connected.runtime.connectors.sleep = recorded_sleep
    result = await run(atom_connected, "gmail.list_unread")
    assert result.ok and "Hello" in result.text
    assert waits == [1.0]  # it waited as told, once


async def test_a_timeout_is_reported_and_never_blocks(atom_connected):
    service = atom_connected.runtime.connectors
    service.timeout = 1.0
    await connect_google(atom_connected, ANN, ALL_GOOGLE)
    await connect_asana(atom_connected, ANN)
    atom_connected.google.fail("/calendar/v3", Failure(200, delay=3))
    atom_connected.asana.fail("/api/1.0/users/me", Failure(200, delay=3))
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.05)
            ticks += 1

    task = asyncio.create_task(ticker())
    google, asana = await asyncio.gather(run(atom_connected, "calendar.list_events"), run(atom_connected, "asana.list_tasks"))
    task.cancel()
    assert not google.ok and "did not answer within 1 seconds" in google.error
    assert not asana.ok and "did not answer within 1 seconds" in asana.error
    assert ticks >= 10  # the loop kept running while both waited


async def test_missing_scope_and_not_connected_are_explained(atom_connected):
    await connect_google(atom_connected, ANN, {g.CALENDAR_READ})
    result = await run(atom_connected, "calendar.create_event", {"title": "x", "start": "2026-12-02T10:00"})
    assert not result.ok and "not allowed Atom to use Google Calendar" in result.error
    assert not atom_connected.google.inserted_events
    gone = await run(atom_connected, "asana.list_tasks")
    assert not gone.ok and "not connected Asana" in gone.error
    invalid = await run(atom_connected, "gmail.list_unread", {"max_results": 1000})
    assert not invalid.ok and "max_results" in invalid.error
    metrics = atom_connected.runtime.metrics.render().decode()
    assert 'atom_connector_calls_total{action="calendar.create_event",outcome="missing_scope"} 1.0' in metrics


async def test_gmail_gets_the_messages_together_and_keeps_gmails_order(atom_connected):
    google = atom_connected.google
    await connect_google(atom_connected, ANN, ALL_GOOGLE)
    ids = [google.add_message(f"Subject {i}", f"s{i}@example.com", f"body {i}") for i in range(4)]
    google.hold(f"/gmail/v1/users/me/messages/{ids[0]}", 0.4)  # the first answers last
    for mid in ids[1:]:
        google.hold(f"/gmail/v1/users/me/messages/{mid}", 0.2)
    unread = await run(atom_connected, "gmail.list_unread")
    assert unread.ok, unread.error
    assert google.max_in_flight == 4  # all four gets were waiting at Gmail at once
    assert [m["id"] for m in unread.data] == ids  # in the list's order, not the answers'
    assert unread.text.index("Subject 0") < unread.text.index("Subject 3")
    gets = [path for _, path, _ in google.api_calls("/gmail/v1/users/me/messages/")]
    assert all("format=metadata" in path and "metadataHeaders=Subject" in path for path in gets)


async def test_a_message_gone_between_list_and_get_is_skipped_with_a_note(atom_connected):
    google = atom_connected.google
    await connect_google(atom_connected, ANN, ALL_GOOGLE)
    kept = google.add_message("Kept", "a@example.com", "still here")
    gone = google.add_message("Gone", "b@example.com", "deleted meanwhile")
    google.fail(f"/gmail/v1/users/me/messages/{gone}", Failure(404))
    unread = await run(atom_connected, "gmail.list_unread")
    assert unread.ok, unread.error
    assert [m["id"] for m in unread.data] == [kept]
    assert "1 more message matched but was deleted or moved" in unread.text and "Gone" not in unread.text
    google.fail(f"/gmail/v1/users/me/messages/{kept}", Failure(404))
    google.fail(f"/gmail/v1/users/me/messages/{gone}", Failure(404))
    none = await run(atom_connected, "gmail.list_unread")
    assert none.ok and none.text.startswith("No unread email in the inbox.") and "2 more messages" in none.text


async def test_one_failing_get_fails_the_whole_list_with_a_clear_sentence(atom_connected):
    google = atom_connected.google
    await connect_google(atom_connected, ANN, ALL_GOOGLE)
    ids = [google.add_message(f"Subject {i}", "a@example.com", "x") for i in range(3)]
    google.fail(f"/gmail/v1/users/me/messages/{ids[1]}", Failure(503))
    unread = await run(atom_connected, "gmail.list_unread")
    assert not unread.ok and "Gmail had a server error (503)" in unread.error and "scripted" not in unread.error
    google.fail(f"/gmail/v1/users/me/messages/{ids[2]}", Failure(429, {"Retry-After": "2"}))
    waits: list[float] = []

    async def recorded_sleep(seconds: float) -> None:
        waits.append(seconds)

    atom_connected.runtime.connectors.sleep = recorded_sleep
    retried = await run(atom_connected, "gmail.list_unread")  # a limited get waits once, like any 429
    assert retried.ok and [m["id"] for m in retried.data] == ids and waits == [2.0]
