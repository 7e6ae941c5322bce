# ruff: noqa: F811  (pytest fixtures imported from tests.connector_helpers)
"""A workflow end to end against the fake connectors and a fake model, and the spec checked
against the real connector registry and the owner's connections."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from bot.storage.models import utcnow
from bot.workflows.spec import ActionStep, ModelStep, Output, check, side_effects, unconfirmed
from tests.connector_helpers import (  # noqa: F401  (fixtures)
    ANN,
    atom_connected,
    connect_google,
    fake_asana,
    fake_google,
    tool_providers,
)
from tests.fakes import google as g
from tests.keyhelpers import give_keys, settle
from tests.workflowhelpers import enabled, summary_spec, wait_for_runs

MORNING = [
    ActionStep(id="calendar", action="calendar.list_events", params={"day": "today"}),
    ActionStep(id="mail", action="gmail.list_unread", params={"max_results": 5}),
    ModelStep(
        id="summary", task="summarize", instruction="Summarize my day: meetings first, then email.",
        inputs=["calendar", "mail"],
    ),
]


async def test_calendar_and_unread_mail_summarized_into_the_owners_dm_with_the_cost(atom_connected):
    atom = atom_connected
    await give_keys(atom, "openai")
    await connect_google(atom, ANN, {g.CALENDAR_READ, g.GMAIL_READ})
    london = utcnow().astimezone(ZoneInfo("Europe/London")).replace(hour=11, minute=0, second=0, microsecond=0)
    atom.google.events.append({"id": "e1", "status": "confirmed", "summary": "Design review",
                               "start": {"dateTime": london.isoformat()},
                               "end": {"dateTime": (london + timedelta(hours=1)).isoformat()}})
    atom.google.add_message("Budget sign-off", "cfo@example.com", "Please approve the Q1 budget.")
    atom.providers.reply["openai"] = "You have the design review at 11; the CFO wants the Q1 budget approved."
    workflow_id = await enabled(atom, summary_spec(steps=MORNING), due_in=0.3)
    [run] = await wait_for_runs(atom.runtime, workflow_id, 1, timeout=30)
    await settle(atom)
    assert run.status == "success", run.error
    assert [(s["id"], s["status"]) for s in run.steps] == [
        ("calendar", "success"), ("mail", "success"), ("summary", "success")
    ]
    assert run.cost_usd > 0 and run.steps[2]["cost_usd"] == run.cost_usd
    # The model read both connectors' outputs.
    [request] = atom.providers.requests_for("openai")
    assert "Design review" in request.body and "Budget sign-off" in request.body
    [dm] = [c for c in atom.slack.calls_to("chat.postMessage") if c.params.get("channel") == "U1"]
    assert "CFO wants the Q1 budget approved" in str(dm.params["blocks"])


async def test_a_broken_connection_at_run_time_fails_the_run_with_what_to_do(atom_connected):
    atom = atom_connected
    await give_keys(atom, "openai")
    await connect_google(atom, ANN, {g.CALENDAR_READ, g.GMAIL_READ})
    workflow_id = await enabled(atom, summary_spec(steps=MORNING))
    assert await atom.runtime.connectors.tokens.disconnect(ANN, "google")  # after Enable, before the run
    await atom.runtime.workflow_service.run_now(ANN, workflow_id)
    [run] = await wait_for_runs(atom.runtime, workflow_id, 1, timeout=30)
    assert run.status == "failed" and "/atom connect google_calendar" in run.error
    assert atom.providers.requests == []


async def test_check_names_unknown_actions_bad_parameters_and_what_to_connect(atom_connected):
    atom = atom_connected
    registry = atom.runtime.connectors.registry
    spec = summary_spec(steps=[
        ActionStep(id="calendar", action="calendar.list_events", params={"days": 99}),
        ActionStep(id="files", action="drive.teleport", params={}),
        ActionStep(id="mail", action="gmail.list_unread", params={}),
    ])
    result = check(spec, registry, await atom.runtime.connectors.connected(ANN))
    words = result.text()
    assert "drive.teleport" in words and "no such action" in words
    assert "days" in words  # the parameter the registry refuses
    assert result.to_connect == ["gmail", "google_calendar"]
    await connect_google(atom, ANN, {g.CALENDAR_READ, g.GMAIL_READ})
    connected = await atom.runtime.connectors.connected(ANN)
    assert check(summary_spec(steps=MORNING), registry, connected).ok


async def test_side_effects_are_flagged_and_a_changed_one_is_unconfirmed(atom_connected):
    registry = atom_connected.runtime.connectors.registry
    send = ActionStep(id="send", action="gmail.send", params={"to": ["boss@example.com"], "subject": "Hi", "body": "x"})
    spec = summary_spec(steps=[*MORNING, send])
    effects = side_effects(spec, registry)
    assert [e.key for e in effects] == ["step:send"] and "boss@example.com" in effects[0].words
    confirmed = [e.fingerprint for e in effects]
    assert unconfirmed(spec, registry, confirmed) == []
    evil = send.model_copy(update={"params": {**send.params, "to": ["x@evil.example"]}})
    changed = summary_spec(steps=[*MORNING, evil])
    assert [e.key for e in unconfirmed(changed, registry, confirmed)] == ["step:send"]
    channel = summary_spec(steps=MORNING, output=Output(to="channel", channel="C0123ABC"))
    assert [e.key for e in side_effects(channel, registry)] == ["output"]
