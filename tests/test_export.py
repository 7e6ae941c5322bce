"""`/atom export` over the wire: a signed slash command in, an ack, then one JSON file uploaded to
the asker's DM through the real files_upload_v2 flow (getUploadURLExternal → upload URL →
completeUploadExternal) against the fake Slack. Only the asker's data; never a key or a token."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from bot.connectors.accounts import Grant
from bot.identity import Person
from bot.storage.encryption import Secret
from bot.usage import Preferences
from tests.conftest import AtomHarness, atom_env, provider_env
from tests.fakes.payloads import TEAM_ID
from tests.fakes.slack import Fault
from tests.keyhelpers import settle

ANN = Person("", TEAM_ID, "U1")
BOB = Person("", TEAM_ID, "U2")
ANN_KEY = "sk-proj-SENTINELannKEY0123456789abcdefghijklmnopqrstuvwxyzABCD"
BOB_KEY = "sk-proj-SENTINELbobKEY0123456789abcdefghijklmnopqrstuvwxyzWXYZ"
ACCESS, REFRESH = "ya29.SENTINEL-ACCESS-TOKEN-ann", "1//SENTINEL-REFRESH-TOKEN-ann"
BOB_ACCESS = "ya29.SENTINEL-ACCESS-TOKEN-bob"


@pytest.fixture
async def atom(fake_slack, fake_providers, database_url, encryption_key):
    # A configured Google client makes the Google connectors visible; export never calls Google.
    env = atom_env(fake_slack.url, database_url, encryption_key, **provider_env(fake_providers),
                   GOOGLE_CLIENT_ID="google-client-id", GOOGLE_CLIENT_SECRET="google-client-secret",
                   ATOM_GOOGLE_API_URL="http://127.0.0.1:9", ATOM_GOOGLE_OAUTH_URL="http://127.0.0.1:9")
    harness = AtomHarness(fake_slack, env)
    harness.providers = fake_providers
    await harness.start()
    yield harness
    await harness.stop()


async def seed(atom, person: Person, tag: str, key: str, access: str) -> None:
    rt = atom.runtime
    rt.memory.remember(person, f"D{person.user_id}:1.0", f"{tag} question about mutexes", f"{tag} answer: a lock")
    rt.usage.record(person, rt.usage.new_id(), surface="dm", task="code", provider="openai",
                    model=f"gpt-{tag}", cost_usd=0.0123, baseline_cost_usd=0.05)
    await rt.usage.save_preferences(person, Preferences(mode="best", monthly_budget=7.5))
    await rt.vault.save(person, "openai", Secret(key), {}, scope="personal", check=None)
    grant = Grant(Secret(access), Secret(REFRESH if person == ANN else "1//SENTINEL-REFRESH-bob"),
                  datetime.now(UTC) + timedelta(hours=1), frozenset({"https://www.googleapis.com/auth/calendar.events.readonly"}),
                  f"{tag}@example.com")
    await rt.connectors.tokens.store(person, "google", grant)
    workflow_id = str(uuid.uuid4())
    await rt.workflows.add({
        "id": workflow_id, "enterprise_id": person.enterprise_id, "team_id": person.team_id,
        "user_id": person.user_id, "name": f"{tag} morning digest", "status": "enabled",
        "spec": {"name": f"{tag} morning digest", "steps": [{"id": "s1", "kind": "model", "text": "hello"}]},
    })
    await rt.workflows.claim({
        "id": str(uuid.uuid4()), "workflow_id": workflow_id, "enterprise_id": person.enterprise_id,
        "team_id": person.team_id, "user_id": person.user_id, "due_at": datetime.now(UTC),
        "trigger": "manual", "status": "success", "steps": [{"id": "s1", "status": "success"}],
        "outputs": rt.crypto.encrypt(json.dumps({"s1": f"{tag} digest output"})),
    })


async def export_for(atom, user_id: str = "U1") -> dict:
    response = await atom.client.command("export", user_id=user_id)
    assert response.status == 200
    assert "Preparing your export" in response.text  # the ack, before any work
    await atom.slack.wait_for("files.completeUploadExternal")
    await settle(atom)
    files = atom.slack.files
    assert len(files) == 1
    return json.loads(files[0]["data"])


async def test_export_holds_the_askers_data_in_their_dm(atom):
    await seed(atom, ANN, "ann", ANN_KEY, ACCESS)
    await seed(atom, BOB, "bob", BOB_KEY, BOB_ACCESS)
    atom.slack.reset()

    doc = await export_for(atom)

    upload = atom.slack.files[0]
    assert upload["channel_id"] == "DU1"  # the asker's own DM with Atom
    assert upload["filename"].endswith(".json")
    assert doc["person"]["user_id"] == "U1"
    messages = doc["conversations"][0]["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[0]["text"] == "ann question about mutexes"
    assert messages[1]["text"] == "ann answer: a lock"
    assert [u["model"] for u in doc["usage"]] == ["gpt-ann"]
    assert doc["preferences"] == {"mode": "best", "overrides": {}, "monthly_budget_usd": 7.5}
    [key] = doc["keys"]
    assert key["provider"] == "openai" and key["hint"].endswith("ABCD") and "…" in key["hint"]
    connections = {c["service"]: c for c in doc["connections"]}
    calendar = connections["Google Calendar"]
    assert calendar["account"] == "ann@example.com"
    assert calendar["scopes"] == ["https://www.googleapis.com/auth/calendar.events.readonly"]
    [workflow] = doc["workflows"]
    assert workflow["name"] == "ann morning digest" and workflow["status"] == "enabled"
    assert workflow["recent_runs"][0]["status"] == "success"
    assert workflow["recent_runs"][0]["outputs"] == {"s1": "ann digest output"}
    # The person is told privately where the file is.
    said = [c.params.get("text", "") for c in atom.slack.calls_to("response_url")]
    assert any("Your export is in our DM" in text for text in said)


async def test_export_leaves_out_everyone_else_and_every_secret(atom):
    await seed(atom, ANN, "ann", ANN_KEY, ACCESS)
    await seed(atom, BOB, "bob", BOB_KEY, BOB_ACCESS)

    doc = await export_for(atom)

    raw = atom.slack.files[0]["data"].decode()
    assert "bob" not in raw and "U2" not in raw  # nothing of another person
    assert doc["person"]["user_id"] == "U1"
    everything = atom.slack.all_text()  # every request to Slack, the upload's bytes included
    assert "ann question about mutexes" in everything  # proves the upload body is in the transcript
    for secret in (ANN_KEY, BOB_KEY, ACCESS, REFRESH, BOB_ACCESS, "SENTINEL"):
        assert secret not in raw
        assert secret not in everything


async def test_someone_with_nothing_stored_gets_an_empty_export(atom):
    await seed(atom, BOB, "bob", BOB_KEY, BOB_ACCESS)

    doc = await export_for(atom)

    assert doc["conversations"] == [] and doc["usage"] == [] and doc["keys"] == []
    assert doc["connections"] == [] and doc["workflows"] == []
    assert doc["preferences"] == {"mode": "balanced", "overrides": {}, "monthly_budget_usd": None}


@pytest.mark.parametrize("where", ["file_upload", "files.completeUploadExternal", "files.getUploadURLExternal"])
async def test_a_failed_upload_is_one_clear_sentence(atom, where):
    await seed(atom, ANN, "ann", ANN_KEY, ACCESS)
    if where == "file_upload":
        atom.slack.inject(where, Fault("500"), times=10)
    else:
        atom.slack.inject(where, Fault("ok_false", error="internal_error"), times=10)

    response = await atom.client.command("export", user_id="U1")
    assert response.status == 200
    said = await atom.slack.wait_for("response_url")
    await settle(atom)

    texts = [c.params.get("text", "") for c in atom.slack.calls_to("response_url")]
    assert texts == [
        "Sorry, Slack did not accept the export file in our DM; nothing was changed, "
        "please try `/atom export` again in a moment."
    ], said
    assert atom.slack.files == []
    for secret in (ANN_KEY, ACCESS, REFRESH):
        assert secret not in atom.slack.all_text()


async def test_help_lists_export_and_no_longer_says_coming_soon(atom):
    response = await atom.client.command("help")
    assert "/atom export" in response.text
    assert "Coming soon" not in response.text


async def test_an_export_that_cannot_be_built_is_one_clear_sentence(atom):
    from sqlalchemy import text

    await seed(atom, ANN, "ann", ANN_KEY, ACCESS)
    async with atom.runtime.engine.begin() as conn:  # the database loses a table Atom reads
        await conn.execute(text("DROP TABLE workflow_runs"))

    response = await atom.client.command("export", user_id="U1")
    assert "Preparing your export" in response.text
    await atom.slack.wait_for("response_url")
    await settle(atom)

    texts = [c.params.get("text", "") for c in atom.slack.calls_to("response_url")]
    assert texts == [
        "Sorry, I could not put your export together just now; nothing was changed, "
        "please try `/atom export` again in a moment."
    ]
    assert atom.slack.calls_to("files.getUploadURLExternal") == []
