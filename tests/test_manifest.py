"""manifest.yml: valid against Slack's own schema, and in step with the app's listeners both ways."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource

from bot.app import build_app
from bot.config import load_settings
from bot.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent
# Beside the repository, or beside the directory of worktrees it is checked out in.
SCHEMA_DIR = next(
    (d for d in (ROOT.parent / "shared" / "slack-manifest-schema", ROOT.parent.parent / "shared" / "slack-manifest-schema") if d.exists()),
    ROOT.parent / "shared" / "slack-manifest-schema",
)
SCHEMA_URL = "https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/schemas/{}"


def load_manifest() -> dict:
    return yaml.safe_load((ROOT / "manifest.yml").read_text())


def validator():
    if not SCHEMA_DIR.exists():
        pytest.skip(f"Slack's manifest schema is not at {SCHEMA_DIR}")
    resources = []
    for name in ("manifest.schema.1.0.0.json", "manifest.schema.2.0.0.json"):
        contents = json.loads((SCHEMA_DIR / name).read_text())
        resources.append((SCHEMA_URL.format(name), Resource.from_contents(contents)))
    registry = Registry().with_resources(resources)
    entry = json.loads((SCHEMA_DIR / "manifest.schema.json").read_text())
    return jsonschema.Draft7Validator(entry, registry=registry)


def test_manifest_is_valid_against_slacks_schema():
    errors = sorted(validator().iter_errors(load_manifest()), key=str)
    assert not errors, "\n".join(e.message for e in errors)


def test_the_schema_check_can_fail():
    broken = load_manifest()
    broken["features"]["slash_commands"][0]["unknown_field"] = True
    assert list(validator().iter_errors(broken))


@pytest.fixture
async def surface(sqlite_url, encryption_key):
    settings = load_settings(
        {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "ATOM_DATABASE_URL": sqlite_url,
         "ATOM_ENCRYPTION_KEYS": encryption_key}
    )
    runtime = await Runtime.open(settings)
    try:
        _app, surface = build_app(runtime)
        yield surface
    finally:
        await runtime.close()


async def test_manifest_and_listeners_match_both_ways(surface):
    manifest = load_manifest()
    declared_events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert declared_events == surface.events
    declared_commands = {c["command"] for c in manifest["features"].get("slash_commands", [])}
    assert declared_commands == surface.commands
    declared_shortcuts = {s["callback_id"] for s in manifest["features"].get("shortcuts", [])}
    assert declared_shortcuts == surface.shortcuts
    # A new app gets Slack's agent messaging; the Assistant panel's events are still handled for
    # apps created before it (their own manifests keep `assistant_view`), never declared here.
    assert ("agent_view" in manifest["features"]) == surface.agent_view
    assert "assistant_view" not in manifest["features"]
    assert surface.legacy_events == {"assistant_thread_started", "assistant_thread_context_changed"}
    assert not surface.legacy_events & declared_events
    if surface.actions or surface.views or surface.shortcuts:
        assert manifest["settings"]["interactivity"]["is_enabled"] is True


def test_an_existing_apps_manifest_with_assistant_view_still_validates():
    """README tells admins of older apps how to switch; until they do, their manifest (the
    Assistant panel and its two events) is valid too and Atom listens to those events."""
    legacy = load_manifest()
    features = legacy["features"]
    features.pop("agent_view")
    features["assistant_view"] = {"assistant_description": "Ask Atom anything."}
    events = legacy["settings"]["event_subscriptions"]["bot_events"]
    events[:] = sorted({*events, "assistant_thread_started", "assistant_thread_context_changed"} - {"app_context_changed"})
    assert not list(validator().iter_errors(legacy))


def test_agent_prompts_fit_slacks_limits():
    agent = load_manifest()["features"]["agent_view"]
    assert len(agent["agent_description"]) <= 300
    assert 0 < len(agent["suggested_prompts"]) <= 4


def test_every_bot_scope_is_explained_in_readme():
    readme = (ROOT / "README.md").read_text()
    for scope in load_manifest()["oauth_config"]["scopes"]["bot"]:
        assert re.search(rf"`{re.escape(scope)}`\s*\|", readme), f"README does not say why Atom needs {scope}"


def test_oauth_install_asks_for_exactly_the_manifests_scopes():
    from bot.app import BOT_SCOPES

    assert set(BOT_SCOPES) == set(load_manifest()["oauth_config"]["scopes"]["bot"])
