"""Bring your own keys: the form, validation, replace, remove, check, Home tab and `/atom keys`."""

from __future__ import annotations

import pytest

from tests.fakes.providers import Behaviour
from tests.keyhelpers import (
    ANTHROPIC_KEY,
    KEYS,
    OPENAI_KEY,
    audit_actions,
    credentials,
    settle,
    submit_key,
)


def _texts(view: dict) -> str:
    return str(view["blocks"])


@pytest.mark.parametrize("provider", list(KEYS))
async def test_adding_a_valid_key_checks_it_with_the_provider_then_saves_it_encrypted(atom, provider):
    resp = await submit_key(atom, provider, KEYS[provider])
    assert resp.status == 200
    assert resp.json["response_action"] == "update"  # "checking…" shown at once, within the ack
    assert "Checking" in _texts(resp.json["view"])
    [update] = await atom.slack.wait_for("views.update")
    await settle(atom)
    assert update.params["view_id"] == "VFORM"
    assert "✅" in _texts(update.params["view"])
    [row] = await credentials(atom)
    assert (row.provider, row.user_id, row.team_id, row.status) == (provider, "U1", "T1", "ok")
    assert KEYS[provider] not in row.secret and row.secret.startswith("a1.")  # bot/storage/encryption.py
    assert row.hint.endswith(KEYS[provider][-4:])
    [request] = atom.providers.requests_for(provider)
    assert KEYS[provider] in str(request.headers)  # the check really used the key
    home = atom.slack.calls_to("views.publish")[-1].params["view"]
    assert row.hint in _texts(home)
    assert [a for _, a, _ in await audit_actions(atom)] == ["key_added", "key_validated"]


async def test_a_key_the_provider_rejects_is_not_saved(atom):
    atom.providers.valid_keys["openai"] = {"sk-some-other-key-entirely-0000"}
    await submit_key(atom, "openai", OPENAI_KEY)
    [update] = await atom.slack.wait_for("views.update")
    await settle(atom)
    text = _texts(update.params["view"])
    assert "❌" in text and "OpenAI rejected this key" in text and "Nothing was saved" in text
    assert await credentials(atom) == []
    assert await audit_actions(atom) == [("U1", "key_failed", "openai")]


async def test_an_unreachable_provider_saves_nothing_and_says_so(atom_sqlite):
    atom_sqlite.providers.script("anthropic", Behaviour(status=503))
    await submit_key(atom_sqlite, "anthropic", ANTHROPIC_KEY)
    [update] = await atom_sqlite.slack.wait_for("views.update")
    await settle(atom_sqlite)
    assert "server error" in _texts(update.params["view"])
    assert await credentials(atom_sqlite) == []


async def test_rate_limited_key_is_accepted_as_working(atom_sqlite):
    atom_sqlite.providers.script("openai", Behaviour(status=429, retry_after=5))
    await submit_key(atom_sqlite, "openai", OPENAI_KEY)
    await atom_sqlite.slack.wait_for("views.update")
    await settle(atom_sqlite)
    [row] = await credentials(atom_sqlite)
    assert row.status == "ok" and "rate-limiting" in row.status_detail


BAD_KEYS = [
    ("", "Enter your OpenAI API key"),
    ("   ", "Enter your OpenAI API key"),
    ("sk-proj-abc def ghi jkl mno pqr stu", "space or line break inside"),
    (ANTHROPIC_KEY, "looks like an Anthropic key, not an OpenAI key"),
    ("AIzaSyQ1w2E3r4T5y6U7i8O9p0Aa1Ss2Dd3F", "looks like a Google Gemini key"),
    ("sk-" + "x" * 10_000, "far longer than any OpenAI key"),
    ("sk-proj-ключключключключключключ", "never appears in API keys"),
    ("not-a-key-at-all-0000000000", "does not look like an OpenAI key"),
]


@pytest.mark.parametrize(("bad", "message"), BAD_KEYS)
async def test_malformed_keys_get_a_field_error_and_change_nothing_saved(atom_sqlite, bad, message):
    await submit_key(atom_sqlite, "openai", OPENAI_KEY)
    await atom_sqlite.slack.wait_for("views.update")
    await settle(atom_sqlite)
    [before] = await credentials(atom_sqlite)
    resp = await submit_key(atom_sqlite, "openai", bad)
    assert resp.json["response_action"] == "errors"
    assert message in resp.json["errors"]["key"]
    [after] = await credentials(atom_sqlite)
    assert (after.secret, after.hint, after.updated_at) == (before.secret, before.hint, before.updated_at)
    assert len(atom_sqlite.providers.requests_for("openai")) == 1  # no call for a malformed key


async def test_padding_around_a_key_is_trimmed(atom_sqlite):
    await submit_key(atom_sqlite, "openai", f"  {OPENAI_KEY}\n")
    await atom_sqlite.slack.wait_for("views.update")
    await settle(atom_sqlite)
    [row] = await credentials(atom_sqlite)
    assert atom_sqlite.runtime.vault._crypto.decrypt(row.secret) == OPENAI_KEY


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ("http://my-resource.openai.azure.com", "must start with https://"),
        ("not a url", "not a URL"),
        ("", "Enter your Azure OpenAI endpoint"),
    ],
)
async def test_azure_endpoint_must_be_https_or_loopback(atom_sqlite, endpoint, message):
    resp = await submit_key(
        atom_sqlite, "azure", KEYS["azure"], endpoint=endpoint, deployments="chat = gpt-4o-mini", api_version=""
    )
    assert resp.json["response_action"] == "errors"
    assert message in resp.json["errors"]["endpoint"]
    assert await credentials(atom_sqlite) == []


async def test_azure_deployments_and_api_version_are_validated(atom_sqlite):
    resp = await submit_key(
        atom_sqlite, "azure", KEYS["azure"], endpoint="https://x.openai.azure.com", deployments="chat = llama-9", api_version="v2"
    )
    errors = resp.json["errors"]
    assert "not a model Atom knows" in errors["deployments"]
    assert "API versions look like" in errors["api_version"]


async def test_azure_key_is_checked_against_its_first_deployment(atom_sqlite):
    await submit_key(atom_sqlite, "azure", KEYS["azure"])
    await atom_sqlite.slack.wait_for("views.update")
    await settle(atom_sqlite)
    [request] = atom_sqlite.providers.requests_for("azure")
    assert "/openai/deployments/chat-mini/chat/completions" in request.path
    assert request.query["api-version"] == "2024-10-21"
    [row] = await credentials(atom_sqlite)
    assert row.settings["deployments"] == {"chat-mini": "gpt-4o-mini"}


async def test_replace_then_remove_deletes_the_row(atom):
    await submit_key(atom, "openai", OPENAI_KEY)
    await atom.slack.wait_for("views.update")
    await settle(atom)
    other = "sk-proj-" + "Q" * 40
    await submit_key(atom, "openai", other)
    await atom.slack.wait_for("views.update", count=2)
    await settle(atom)
    [row] = await credentials(atom)
    assert row.hint == "sk-…QQQQ"
    resp = await atom.client.block_action("key_remove", value="openai", view={"type": "home", "id": "VHOME"})
    assert resp.status == 200
    await settle(atom)
    assert await credentials(atom) == []
    actions = [a for _, a, _ in await audit_actions(atom)]
    assert actions == ["key_added", "key_validated", "key_replaced", "key_validated", "key_removed"]
    assert "not set" in _texts(atom.slack.calls_to("views.publish")[-1].params["view"])


async def test_check_button_rechecks_and_marks_a_revoked_key_failing(atom_sqlite):
    await submit_key(atom_sqlite, "openai", OPENAI_KEY)
    await atom_sqlite.slack.wait_for("views.update")
    await settle(atom_sqlite)
    atom_sqlite.providers.valid_keys["openai"] = {"sk-somebody-else-entirely-000"}
    await atom_sqlite.client.block_action("key_check", value="openai", view={"type": "home", "id": "VHOME"})
    await settle(atom_sqlite)
    [row] = await credentials(atom_sqlite)
    assert row.status == "failing"
    home = _texts(atom_sqlite.slack.calls_to("views.publish")[-1].params["view"])
    assert "failing" in home and "rejected" in home


async def test_validation_off_saves_at_once_unchecked(fake_slack, fake_providers, sqlite_url, encryption_key):
    from tests.conftest import AtomHarness, atom_env, provider_env

    harness = AtomHarness(
        fake_slack, atom_env(fake_slack.url, sqlite_url, encryption_key, ATOM_VALIDATE_KEYS="false", **provider_env(fake_providers))
    )
    harness.providers = fake_providers
    await harness.start()
    try:
        resp = await submit_key(harness, "openai", OPENAI_KEY)
        assert resp.json["response_action"] == "update" and "not checked" in _texts(resp.json["view"])
        await settle(harness)
        [row] = await credentials(harness)
        assert row.status == "unchecked"
        assert fake_providers.requests == []
    finally:
        await harness.stop()


async def test_keys_command_and_dm_button_open_the_keys_modal(atom_sqlite):
    resp = await atom_sqlite.client.command("keys")
    assert resp.status == 200
    [opened] = await atom_sqlite.slack.wait_for("views.open")
    view = opened.params["view"]
    assert view["callback_id"] == "keys_manage"
    for label in ("OpenAI", "Anthropic", "Google Gemini", "DeepSeek", "Azure OpenAI"):
        assert label in _texts(view)
    await atom_sqlite.client.block_action("keys_open", value="", channel_id="D1")
    await atom_sqlite.slack.wait_for("views.open", count=2)


async def test_add_button_in_the_modal_pushes_the_form(atom_sqlite):
    modal = {"type": "modal", "id": "VKEYS", "callback_id": "keys_manage", "root_view_id": "VKEYS"}
    await atom_sqlite.client.block_action("key_add", value="gemini", view=modal)
    [pushed] = await atom_sqlite.slack.wait_for("views.push")
    assert pushed.params["view"]["callback_id"] == "key_form:gemini:personal"
    assert pushed.params["view"].get("private_metadata") in ("", None)


async def test_form_pushed_from_the_modal_refreshes_that_modal(atom_sqlite):
    from tests.fakes.payloads import view_submission_payload
    from tests.keyhelpers import form_values

    payload = view_submission_payload("key_form:openai:personal", form_values(OPENAI_KEY), view_id="VFORM")
    payload["view"]["root_view_id"] = "VKEYS"
    await atom_sqlite.client.post_payload(payload)
    updates = await atom_sqlite.slack.wait_for("views.update", count=2)
    await settle(atom_sqlite)
    assert {u.params["view_id"] for u in updates} == {"VFORM", "VKEYS"}


@pytest.mark.parametrize("action", ["key_add", "key_remove", "key_check", "ws_key_add", "provider_block"])
async def test_unknown_provider_in_a_crafted_action_is_explained(atom_sqlite, action):
    await atom_sqlite.client.block_action(action, value="mistral", view={"type": "home", "id": "VHOME"})
    [opened] = await atom_sqlite.slack.wait_for("views.open")
    assert "not one Atom knows" in _texts(opened.params["view"])


async def test_unknown_provider_in_a_crafted_form_is_explained(atom_sqlite):
    resp = await atom_sqlite.client.view_submission("key_form:mistral:personal", {})
    assert "not one Atom knows" in _texts(resp.json["view"])
    assert await credentials(atom_sqlite) == []
