"""Workflows as a person manages them: drafts, Enable, Pause, Resume, Run now, Edit, Delete, history.

Every method takes the verified `Person` and acts only on workflows that person owns (the
repository matches owner ids in SQL), so a crafted button value naming someone else's workflow
finds nothing. Nothing is scheduled before Enable, and Enable confirms exactly the side effects
the preview listed (their fingerprints are stored; a run refuses any other).
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.identity import Person
from bot.storage.models import Workflow, utcnow
from bot.workflows import timing
from bot.workflows.delivery import DeliveryFailed
from bot.workflows.scheduler import new_run
from bot.workflows.spec import (
    Output,
    Trigger,
    WorkflowSpec,
    check,
    confirmation,
    side_effects,
    spec_errors,
    step_words,
)

log = logging.getLogger(__name__)


class WorkflowError(Exception):
    """What went wrong, for the person."""


NOT_FOUND = "I can't find that workflow among yours. `/atom workflows` lists them."


@dataclass
class Preview:
    spec: WorkflowSpec
    steps: list[tuple[str, bool]]  # each step in words, and whether it has a side effect
    next_runs: list[datetime]
    effects: list[str]
    digest: str  # what Enable confirms: changes whenever any side effect changes
    to_connect: list[tuple[str, str]]  # (connector name, label)


def digest_of(fingerprints: list[str]) -> str:
    return hashlib.sha256(",".join(sorted(fingerprints)).encode()).hexdigest()[:16]


@dataclass
class Overview:
    workflow: Workflow
    spec: WorkflowSpec
    next_run: datetime | None


class WorkflowService:
    def __init__(self, runtime, scheduler, runner):
        self.runtime = runtime
        self.workflows = runtime.workflows
        self.scheduler = scheduler
        self.runner = runner
        settings = runtime.settings
        self.limit_person = settings.workflow_limit_person
        self.limit_workspace = settings.workflow_limit_workspace

    def catalog(self):
        return self.runner.catalog()

    async def create_draft(self, person: Person, spec: WorkflowSpec) -> str:
        workflow_id = str(uuid.uuid4())
        await self.workflows.add(
            {
                "id": workflow_id,
                "enterprise_id": person.enterprise_id,
                "team_id": person.team_id,
                "user_id": person.user_id,
                "name": spec.name,
                "spec": spec.to_json(),
                "status": "draft",
                "confirmed": [],
            }
        )
        return workflow_id

    async def get(self, person: Person, workflow_id: str) -> Workflow:
        workflow = await self.workflows.owned(person, workflow_id) if workflow_id else None
        if workflow is None:
            raise WorkflowError(NOT_FOUND)
        return workflow

    @staticmethod
    def spec_of(workflow: Workflow) -> WorkflowSpec:
        return WorkflowSpec.from_json(workflow.spec)

    @staticmethod
    def utc(moment: datetime) -> datetime:
        return timing.utc(moment)

    def limit_note(self) -> str:
        return f"Up to {self.limit_person} active workflows per person."

    async def preview(self, person: Person, workflow_id: str) -> Preview:
        workflow = await self.get(person, workflow_id)
        spec = WorkflowSpec.from_json(workflow.spec)
        catalog = self.catalog()
        effects = side_effects(spec, catalog)
        flagged = {e.key for e in effects}
        steps = [(step_words(step, catalog), f"step:{step.id}" in flagged) for step in spec.steps]
        connectors = getattr(self.runtime, "connectors", None)
        connected = await connectors.connected(person) if connectors is not None else set()
        result = check(spec, catalog, connected)
        labels = {}
        if connectors is not None:
            labels = {c.name: c.label for c in connectors.registry.connectors()}
        to_connect = [(name, labels.get(name, name)) for name in result.to_connect]
        return Preview(
            spec, steps, timing.next_runs(spec.trigger, utcnow(), 3), [e.words for e in effects],
            digest_of(confirmation(effects)), to_connect,
        )

    async def enable(self, person: Person, workflow_id: str, digest: str | None = None) -> Workflow:
        """Confirm the draft's side effects as previewed and schedule it. `digest` is what the
        preview showed: when the side effects changed since, Enable refuses and shows them again."""
        workflow = await self.get(person, workflow_id)
        if workflow.status == "enabled":
            return workflow
        if workflow.status != "draft":
            raise WorkflowError("That workflow is paused, not a draft: use *Resume*.")
        spec = WorkflowSpec.from_json(workflow.spec)
        catalog = self.catalog()
        effects = side_effects(spec, catalog)
        confirmed = confirmation(effects)
        if digest is not None and digest != digest_of(confirmed):
            raise WorkflowError("That workflow changed after this preview; enable it from its latest preview.")
        connectors = getattr(self.runtime, "connectors", None)
        connected = await connectors.connected(person) if connectors is not None else set()
        result = check(spec, catalog, connected)
        if not result.ok:
            raise WorkflowError("It can't run yet:\n" + result.text())
        await self._check_channel(person, spec)
        await self._check_limits(person)
        next_run = timing.next_after(spec.trigger, utcnow())
        if next_run is None:
            raise WorkflowError("That schedule has no future runs. Edit it with a time that is still ahead.")
        changed = await self.workflows.update_owned(
            person, workflow_id, only_status=(workflow.status,), status="enabled", confirmed=confirmed,
            next_run_at=next_run, failures_in_row=0, paused_reason="",
        )
        if not changed:
            raise WorkflowError("That workflow changed meanwhile; open `/atom workflows` and try again.")
        self.scheduler.arm(workflow_id, next_run)
        return await self.get(person, workflow_id)

    async def _check_channel(self, person: Person, spec: WorkflowSpec) -> None:
        if spec.output.to != "channel":
            return
        try:
            await self.runner.delivery.check_channel(person, spec.output.channel)
        except DeliveryFailed as exc:
            raise WorkflowError(f"It can't post in <#{spec.output.channel}>: {exc}") from None

    async def _check_limits(self, person: Person) -> None:
        mine = await self.workflows.count_active(person.enterprise_id, person.team_id, person.user_id)
        if mine >= self.limit_person:
            raise WorkflowError(
                f"You already have {mine} active workflows, the most one person can have "
                f"({self.limit_person}). Pause or delete one first."
            )
        everyone = await self.workflows.count_active(person.enterprise_id, person.team_id)
        if everyone >= self.limit_workspace:
            raise WorkflowError(
                f"This workspace has {everyone} active workflows, its limit ({self.limit_workspace}). "
                "Ask a workspace admin, or pause one of yours first."
            )

    async def pause(self, person: Person, workflow_id: str, reason: str = "Paused by you.") -> Workflow:
        await self.get(person, workflow_id)
        await self.workflows.update_owned(
            person, workflow_id, only_status=("enabled",), status="paused", paused_reason=reason
        )
        self.scheduler.disarm(workflow_id)
        return await self.get(person, workflow_id)

    async def resume(self, person: Person, workflow_id: str) -> Workflow:
        workflow = await self.get(person, workflow_id)
        if workflow.status != "paused":
            if workflow.status == "draft":
                raise WorkflowError("That workflow is not enabled yet: use *Enable* on its preview.")
            return workflow
        await self._check_limits(person)
        spec = WorkflowSpec.from_json(workflow.spec)
        await self._check_channel(person, spec)
        next_run = timing.next_after(spec.trigger, utcnow())
        if next_run is None:
            raise WorkflowError("That schedule has no future runs left. Edit it to give it a new time.")
        # Occurrences while paused are not owed: the next run is the next one from now.
        await self.workflows.update_owned(
            person, workflow_id, only_status=("paused",), status="enabled", next_run_at=next_run,
            failures_in_row=0, paused_reason="",
        )
        self.scheduler.arm(workflow_id, next_run)
        return await self.get(person, workflow_id)

    async def delete(self, person: Person, workflow_id: str) -> None:
        if not await self.workflows.delete_owned(person, workflow_id):
            raise WorkflowError(NOT_FOUND)
        self.scheduler.disarm(workflow_id)

    async def run_now(self, person: Person, workflow_id: str, trigger: str = "manual") -> str:
        """Claim an occurrence at this instant and start it; the run id."""
        workflow = await self.get(person, workflow_id)
        if workflow.status == "draft":
            raise WorkflowError("Enable the workflow first: nothing runs before you confirm it.")
        now = utcnow()
        run = new_run(workflow, now, trigger, "running", self.runtime.crypto.encrypt("{}"))
        if not await self.workflows.claim(run):
            raise WorkflowError("That workflow is starting already.")
        self.scheduler.dispatch(workflow, run["id"], now, trigger)
        return run["id"]

    async def replace_spec(self, person: Person, workflow_id: str, spec: WorkflowSpec) -> Workflow:
        """An edit: the new spec becomes a draft again, unscheduled until the owner enables it."""
        await self.get(person, workflow_id)
        await self.workflows.update_owned(
            person, workflow_id, name=spec.name, spec=spec.to_json(), status="draft", confirmed=[],
            next_run_at=None,
        )
        self.scheduler.disarm(workflow_id)
        return await self.get(person, workflow_id)

    async def edit(
        self, person: Person, workflow_id: str, name: str, phrase: str, steps_json: str, zone: str,
        *, channel: str | None = None,
    ) -> dict[str, str]:
        """The edit modal: field errors (block id → message), or {} once saved as a new draft.
        `channel`: where results go now ("" for the DM); None keeps the current output."""
        from bot.workflows.planner import PlanFailed, WorkflowPlanner

        workflow = await self.get(person, workflow_id)
        current = WorkflowSpec.from_json(workflow.spec)
        errors: dict[str, str] = {}
        trigger: Trigger = current.trigger
        if phrase.strip() and phrase.strip() != current.trigger.description:
            try:
                trigger, _task = WorkflowPlanner.trigger(phrase, zone)
            except PlanFailed as exc:
                errors["schedule"] = str(exc)
        try:
            steps = json.loads(steps_json)
            if not isinstance(steps, list):
                raise ValueError
        except ValueError:
            errors["steps"] = "The steps must be a JSON list, as shown when the form opened."
            steps = []
        output = current.output
        if channel is not None:
            try:
                output = Output(to="channel", channel=channel) if channel else Output()
            except ValueError:
                errors["output"] = "Pick a channel, or leave it empty for your DM."
        if errors:
            return errors
        try:
            spec = WorkflowSpec.model_validate(
                {"name": name.strip() or current.name, "trigger": trigger.model_dump(), "steps": steps,
                 "output": output.model_dump()}
            )
        except ValueError as exc:
            problems = spec_errors(exc) if hasattr(exc, "errors") else []
            message = "; ".join(p.message for p in problems[:3]) or "Those steps are not valid."
            return {"name" if any(p.field == "name" for p in problems) else "steps": message}
        connectors = getattr(self.runtime, "connectors", None)
        connected = await connectors.connected(person) if connectors is not None else set()
        result = check(spec, self.catalog(), connected)
        unknown = [p.message for p in result.problems if not p.connect]
        if unknown:
            return {"steps": "; ".join(unknown)[:150]}
        await self.replace_spec(person, workflow_id, spec)
        return {}

    async def cancel_draft(self, person: Person, workflow_id: str) -> bool:
        workflow = await self.workflows.owned(person, workflow_id)
        if workflow is None or workflow.status != "draft":
            return False
        return await self.workflows.delete_owned(person, workflow_id)

    async def overview(self, person: Person) -> list[Overview]:
        return [
            Overview(w, WorkflowSpec.from_json(w.spec), timing.utc(w.next_run_at) if w.next_run_at else None)
            for w in await self.workflows.for_owner(person)
        ]

    async def history(self, person: Person, workflow_id: str, limit: int = 20):
        workflow = await self.get(person, workflow_id)
        return workflow, await self.workflows.history(workflow_id, limit)

    async def pause_departed(self, enterprise_id: str, team_id: str, user_id: str | None, reason: str) -> list[str]:
        """The owner left, or the app was uninstalled (user_id None): pause, and stop the jobs."""
        ids = await self.workflows.pause_where(enterprise_id, team_id, user_id, reason)
        for workflow_id in ids:
            self.scheduler.disarm(workflow_id)
        if ids:
            log.info("paused %d workflows in team %s: %s", len(ids), team_id, reason)
        return ids


def grace(runtime) -> timedelta:
    return timedelta(seconds=runtime.settings.workflow_grace_seconds)
