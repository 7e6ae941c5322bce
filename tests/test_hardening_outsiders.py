"""Issue 8, finding 4: in a Slack Connect channel, a person from another organisation is who they
are: their own team decides whose keys, budget and memory apply, and the host workspace's shared
keys are theirs to use only when the host's admins allow it (off by default)."""

from __future__ import annotations

from sqlalchemy import select

from bot.identity import Person, asker_workspace
from bot.storage.models import ConversationTurn, UsageRecord
from bot.views.messages import NO_KEY_TEXT
from tests.fakes import payloads
from tests.keyhelpers import OPENAI_KEY, eventually, settle, submit_key

ADMIN = {"id": "UADMIN", "team_id": "T1", "is_admin": True, "is_owner": False, "real_name": "Ada Admin"}
OUTSIDER = {"id": "UEXT", "team_id": "TEXT", "is_admin": True, "real_name": "Olga Outsider"}


def _connect_mention(text: str, user: str = "UEXT", team: str = "TEXT") -> dict:
    """An app_mention in a channel shared with another organisation, as Slack delivers it to the
    host's installation: the envelope names the host, the event the person's own team."""
    event = payloads.app_mention_event(text, user=user, channel="CSHARED", team=team)
    event["user_team"] = team
    event["source_team"] = team
    body = payloads.event_callback(event)
    body["is_ext_shared_channel"] = True
    return body


async def _host_with_a_workspace_key(atom) -> None:
    atom.slack.users["UADMIN"] = ADMIN
    atom.slack.users["UEXT"] = OUTSIDER
    await submit_key(atom, "openai", OPENAI_KEY, user_id="UADMIN", scope="workspace")
    await settle(atom)
    atom.slack.reset()
    atom.providers.clear()


async def _toggle(atom, value: str, user_id: str = "UADMIN", team_id: str = "T1", shows: str = "views.publish"):
    before = len(atom.slack.calls_to(shows))
    await atom.client.block_action(
        "ws_external_toggle", value=value, user_id=user_id, team_id=team_id, view={"type": "home", "id": "VH"}
    )
    await atom.slack.wait_for(shows, count=before + 1, timeout=30)
    await settle(atom)


async def test_an_outsider_never_spends_the_hosts_shared_key_by_default(atom_sqlite):
    await _host_with_a_workspace_key(atom_sqlite)
    await atom_sqlite.client.post_json(_connect_mention("what is the capital of France?"))
    await eventually(lambda: NO_KEY_TEXT[:40] in atom_sqlite.slack.all_text())
    await settle(atom_sqlite)
    assert atom_sqlite.providers.requests == []  # the host's key was not used
    assert NO_KEY_TEXT[:40] in atom_sqlite.slack.all_text()

    # The host's own people still use it.
    await atom_sqlite.client.post_json(_connect_mention("and of Spain?", user="U1", team="T1"))
    await atom_sqlite.slack.wait_for("chat.stopStream", timeout=30)
    await settle(atom_sqlite)
    [request] = atom_sqlite.providers.requests
    assert OPENAI_KEY in str(request.headers)


async def test_the_hosts_admin_can_allow_outsiders_and_their_own_team_owns_the_records(atom_sqlite):
    await _host_with_a_workspace_key(atom_sqlite)
    await atom_sqlite.client.event(payloads.app_home_opened_event(user="UADMIN"))
    await atom_sqlite.slack.wait_for("views.publish", timeout=30)
    await settle(atom_sqlite)
    admin_home = str(atom_sqlite.slack.calls_to("views.publish")[-1].params["view"])
    assert "People from other organisations" in admin_home and "Not allowed" in admin_home

    # Someone from the other organisation cannot flip the host's setting.
    await _toggle(atom_sqlite, "on", user_id="UEXT", team_id="TEXT", shows="views.open")
    assert not await atom_sqlite.runtime.vault.policies.allows_external("", "T1")

    await _toggle(atom_sqlite, "on")
    assert await atom_sqlite.runtime.vault.policies.allows_external("", "T1")
    assert "Allowed" in str(atom_sqlite.slack.calls_to("views.publish")[-1].params["view"])

    await atom_sqlite.client.post_json(_connect_mention("what is the capital of France?"))
    await atom_sqlite.slack.wait_for("chat.stopStream", timeout=30)
    await settle(atom_sqlite)
    [request] = atom_sqlite.providers.requests
    assert OPENAI_KEY in str(request.headers)
    await atom_sqlite.runtime.usage.pending.flush()
    async with atom_sqlite.runtime.sessions() as session:
        [usage] = (await session.execute(select(UsageRecord))).scalars()
        turns = list((await session.execute(select(ConversationTurn))).scalars())
    assert (usage.team_id, usage.user_id, usage.key_scope) == ("TEXT", "UEXT", "host")
    assert turns and {t.team_id for t in turns} == {"TEXT"}  # their memory is their team's

    await _toggle(atom_sqlite, "off")
    atom_sqlite.providers.clear()
    await atom_sqlite.client.post_json(_connect_mention("and of Spain?"))
    await eventually(lambda: NO_KEY_TEXT[:40] in atom_sqlite.slack.all_text())
    await settle(atom_sqlite)
    assert atom_sqlite.providers.requests == []


def test_the_askers_own_team_is_read_from_the_signed_body():
    mention = _connect_mention("hi")
    assert asker_workspace(mention) == ("", "TEXT")
    grid = _connect_mention("hi", team="E0GRID")
    assert asker_workspace(grid) == ("E0GRID", "E0GRID")
    action = payloads.block_actions_payload("key_add", user_id="UEXT", team_id="TEXT")
    assert asker_workspace(action) == ("", "TEXT")
    inside = payloads.event_callback(payloads.message_im_event("hi"))
    assert asker_workspace(inside) == ("", "T1")
    assert not Person("", "T1", "U1").external
