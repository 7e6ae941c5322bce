"""Managing workflows over the wire: `/atom workflows`, Pause / Resume / Run now / Delete /
History / Retry, the Home tab, limits, the owner leaving and the app being uninstalled — and
person B unable to do any of it to A's workflow through crafted payloads."""

from __future__ import annotations

import json

from bot.identity import Person
from bot.workflows.service import digest_of
from tests.fakes import payloads
from tests.keyhelpers import give_keys, settle
from tests.workflowhelpers import OWNER, enabled, message_spec, runs, summary_spec, wait_for_runs, workflow

ACTIONS = ("workflow_pause", "workflow_resume", "workflow_run_now", "workflow_retry", "workflow_delete",
           "workflow_enable", "workflow_cancel", "workflow_history", "workflow_edit")


async def click(atom, action_id: str, value: str, user_id: str = "U1", home: bool = False):
    if home:
        view = payloads.view_dict(view_type="home", view_id="VHOME", callback_id="", values={})
        resp = await atom.client.block_action(action_id, value=value, user_id=user_id, view=view, block_id=f"workflow_{value}")
    else:
        resp = await atom.client.block_action(action_id, value=value, user_id=user_id, channel_id="D1",
                                              block_id=f"workflow_{value}")
    assert resp.status == 200
    await settle(atom)


def notes(atom) -> str:
    return json.dumps([c.params for c in atom.slack.calls_to("response_url")], ensure_ascii=False)


async def test_the_list_shows_each_workflow_and_its_buttons_work(atom_sqlite):
    atom = atom_sqlite
    workflow_id = await enabled(atom, message_spec("hello", name="Greeting"))
    atom.slack.reset()
    resp = await atom.client.command("workflows")
    assert resp.status == 200
    [listing] = await atom.slack.wait_for("response_url", timeout=15)
    text = json.dumps(listing.params["blocks"], ensure_ascii=False)
    assert "Greeting" in text and "running" in text and "never run" in text and "every day at 9am" in text
    for action_id in ("workflow_pause", "workflow_run_now", "workflow_history", "workflow_delete", "workflow_edit"):
        assert action_id in text

    await click(atom, "workflow_pause", workflow_id)
    assert (await workflow(atom.runtime, workflow_id)).status == "paused"
    assert atom.runtime.workflow_scheduler.armed_at(workflow_id) is None
    assert "Paused *Greeting*" in notes(atom)
    await click(atom, "workflow_resume", workflow_id)
    assert (await workflow(atom.runtime, workflow_id)).status == "enabled"
    assert atom.runtime.workflow_scheduler.armed_at(workflow_id) is not None

    await click(atom, "workflow_run_now", workflow_id)
    [run] = await wait_for_runs(atom.runtime, workflow_id, 1)
    assert run.status == "success" and run.trigger == "manual"
    await click(atom, "workflow_history", workflow_id)
    [history] = await atom.slack.wait_for("views.open")
    assert "success" in json.dumps(history.params["view"]) and "manual" in json.dumps(history.params["view"])

    await click(atom, "workflow_delete", workflow_id)
    assert await workflow(atom.runtime, workflow_id) is None
    assert atom.runtime.workflow_scheduler.armed_at(workflow_id) is None
    assert await runs(atom.runtime, workflow_id) == []


async def test_home_tab_lists_workflows_and_its_buttons_republish_it(atom_sqlite):
    atom = atom_sqlite
    workflow_id = await enabled(atom, message_spec("hello", name="Greeting"))
    await atom.client.event(payloads.app_home_opened_event("U1"))
    await atom.slack.wait_for("views.publish")
    await settle(atom)
    home = json.dumps(atom.slack.home_views["U1"], ensure_ascii=False)
    assert "Your workflows" in home and "Greeting" in home
    atom.slack.reset()
    await click(atom, "workflow_pause", workflow_id, home=True)
    [published] = atom.slack.calls_to("views.publish")
    assert "paused" in json.dumps(published.params["view"], ensure_ascii=False)


async def test_person_b_cannot_act_on_as_workflow_through_crafted_payloads(atom_sqlite):
    atom = atom_sqlite
    running = await enabled(atom, message_spec("A's", name="A's workflow"))
    draft = await atom.runtime.workflow_service.create_draft(OWNER, message_spec("A's draft", name="A's draft"))
    before = {w: (await workflow(atom.runtime, w)).status for w in (running, draft)}
    for action_id in ACTIONS:
        for target in (running, draft):
            value = f"{target}:" if action_id == "workflow_enable" else target
            await click(atom, action_id, value, user_id="U2")
            await click(atom, action_id, value, user_id="U2", home=True)
    after = {w: (await workflow(atom.runtime, w)).status for w in (running, draft)}
    assert after == before
    assert await runs(atom.runtime) == []
    assert atom.slack.calls_to("views.open") == []  # no history or edit form of A's for B
    assert "can't find that workflow" in notes(atom)
    # B's own view of the world: no workflows.
    atom.slack.reset()
    await atom.client.command("workflows", user_id="U2")
    [listing] = await atom.slack.wait_for("response_url", timeout=15)
    assert "No workflows yet" in json.dumps(listing.params["blocks"])
    # A crafted edit submission for A's workflow is refused too.
    from tests.fakes.payloads import text_input_values

    resp = await atom.client.view_submission(
        "workflow_edit", text_input_values({"name.value": "mine now", "schedule.value": "", "steps.value": "[]"}),
        private_metadata=running, user_id="U2",
    )
    assert resp.json["response_action"] == "errors"
    assert (await workflow(atom.runtime, running)).name == "A's workflow"


async def test_retry_from_the_failure_dm_runs_again(atom_sqlite):
    atom = atom_sqlite
    workflow_id = await enabled(atom, summary_spec())
    await atom.runtime.workflow_service.run_now(OWNER, workflow_id)  # no key: fails
    await wait_for_runs(atom.runtime, workflow_id, 1)
    await settle(atom)
    [dm] = [c for c in atom.slack.calls_to("chat.postMessage") if c.params["channel"] == "U1"]
    retry = next(e for b in dm.params["blocks"] if b["type"] == "actions" for e in b["elements"]
                 if e["action_id"] == "workflow_retry")
    await give_keys(atom, "openai")
    await click(atom, "workflow_retry", retry["value"])
    found = await wait_for_runs(atom.runtime, workflow_id, 2)
    assert [(r.trigger, r.status) for r in found] == [("manual", "failed"), ("retry", "success")]
    assert (await workflow(atom.runtime, workflow_id)).failures_in_row == 0


async def test_limits_per_person_and_per_workspace_are_explained(atom_sqlite):
    atom = atom_sqlite
    await atom.stop()
    await atom.start(ATOM_WORKFLOW_LIMIT_PER_PERSON="1", ATOM_WORKFLOW_LIMIT_PER_WORKSPACE="2")
    service = atom.runtime.workflow_service
    await enabled(atom, message_spec("one"))
    second = await service.create_draft(OWNER, message_spec("two"))
    nothing = digest_of([])  # what a preview without side effects carries
    await click(atom, "workflow_enable", f"{second}:{nothing}")
    assert "1 active workflows, the most one person can have (1)" in notes(atom)
    await enabled(atom, message_spec("B's"), person=Person("", "T1", "U2"))
    third = await service.create_draft(Person("", "T1", "U3"), message_spec("C's"))
    await click(atom, "workflow_enable", f"{third}:{nothing}", user_id="U3")
    assert "This workspace has 2 active workflows, its limit (2)" in notes(atom)


async def test_owner_leaving_or_uninstall_pauses_workflows(atom_sqlite):
    atom = atom_sqlite
    ann = await enabled(atom, message_spec("Ann's"))
    bob = await enabled(atom, message_spec("Bob's"), person=Person("", "T1", "U2"))
    await atom.client.event({"type": "user_change", "user": {"id": "U1", "team_id": "T1", "deleted": True},
                             "event_ts": payloads.next_ts()})
    await settle(atom)
    row = await workflow(atom.runtime, ann)
    assert row.status == "paused" and "left the workspace" in row.paused_reason
    assert (await workflow(atom.runtime, bob)).status == "enabled"
    assert atom.runtime.workflow_scheduler.armed_at(ann) is None
    await atom.client.event(payloads.app_uninstalled_event())
    await settle(atom)
    assert (await workflow(atom.runtime, bob)).status == "paused"
    assert atom.runtime.workflow_scheduler.armed_at(bob) is None
