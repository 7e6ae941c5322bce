"""`/atom export`: one person's own data from Atom, as one JSON document.

`gather` reads (through the services that own each kind of data, pending writes flushed first)
only what belongs to the verified asker: their conversations with Atom (decrypted for them),
usage records, preferences, key hints, connections and workflows with recent runs. `assemble`
turns that into the document, a pure function. What never goes in: a provider key or an OAuth
token (only hints and metadata are read here), and anything of another person or the workspace.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.identity import Person
from bot.storage.encryption import UndecryptableSecret

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
RUNS_PER_WORKFLOW = 20


@dataclass
class ExportData:
    """What `gather` read for one person; plain values, no secrets."""

    person: Person
    conversations: list[dict] = field(default_factory=list)
    usage: list = field(default_factory=list)
    preferences: Any = None
    keys: list = field(default_factory=list)  # bot.vault.KeyInfo of the person's own keys
    connections: list = field(default_factory=list)  # bot.connectors.service.ConnectorState
    workflows: list[tuple[Any, list, dict[str, dict]]] = field(default_factory=list)  # (workflow, runs, outputs)


async def gather(runtime, person: Person) -> ExportData:
    data = ExportData(person)
    data.conversations = await runtime.memory.everything_for(person)
    data.usage = await runtime.usage.records(person)
    data.preferences = await runtime.usage.preferences(person)
    data.keys = [state.personal for state in await runtime.vault.states(person) if state.personal is not None]
    data.connections = [
        s for s in await runtime.connectors.states(person)
        if s.connector.provider is not None and s.status != "not_connected"
    ]
    for workflow in await runtime.workflows.for_owner(person, include_drafts=True):
        runs = await runtime.workflows.history(workflow.id, RUNS_PER_WORKFLOW)
        outputs = {run.id: _outputs(runtime.crypto, run.outputs) for run in runs}
        data.workflows.append((workflow, runs, outputs))
    return data


def _outputs(crypto, token: str) -> dict:
    """A run's step outputs (people's mail and calendar text, encrypted at rest), for their owner."""
    if not token:
        return {}
    try:
        value = json.loads(crypto.decrypt(token))
    except (UndecryptableSecret, ValueError):
        return {"unreadable": "this run's outputs cannot be decrypted with the current keys"}
    return value if isinstance(value, dict) else {}


def _when(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # SQLite hands back naive datetimes; everything stored is UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


def assemble(data: ExportData, now: datetime) -> dict:
    """The export document. Pure: the same data always gives the same document."""
    person = data.person
    prefs = data.preferences
    return {
        "format": "atom-export",
        "version": FORMAT_VERSION,
        "exported_at": _when(now),
        "person": {"enterprise_id": person.enterprise_id, "team_id": person.team_id, "user_id": person.user_id},
        "preferences": None if prefs is None else {
            "mode": prefs.mode,
            "overrides": dict(prefs.overrides),
            "monthly_budget_usd": prefs.monthly_budget,
        },
        "conversations": _conversations(data.conversations),
        "usage": [
            {
                "at": _when(r.created_at), "surface": r.surface, "task": r.task, "provider": r.provider,
                "model": r.model, "key_scope": r.key_scope, "prompt_tokens": r.prompt_tokens,
                "completion_tokens": r.completion_tokens, "cost_usd": r.cost_usd,
                "baseline_cost_usd": r.baseline_cost_usd, "latency_ms": r.latency_ms,
                "failovers": r.failovers, "outcome": r.outcome, "feedback": r.feedback,
                "explanation": r.explanation,
            }
            for r in data.usage
        ],
        # Hints only: Atom never hands a stored key back, not even to its owner.
        "keys": [
            {
                "provider": k.provider, "hint": k.hint, "status": k.status, "status_detail": k.status_detail,
                "added_at": _when(k.created_at), "checked_at": _when(k.checked_at),
            }
            for k in data.keys
        ],
        # Which account and what was allowed; the tokens stay encrypted in Atom.
        "connections": [
            {
                "service": s.connector.label, "status": s.status, "account": s.account,
                "scopes": sorted(s.scopes), "connected_at": _when(s.since), "detail": s.detail,
            }
            for s in data.connections
        ],
        "workflows": [_workflow(w, runs, outputs) for w, runs, outputs in data.workflows],
    }


def _conversations(turns: list[dict]) -> list[dict]:
    """Turns grouped by conversation, in the order each conversation started."""
    grouped: dict[str, list[dict]] = {}
    for turn in turns:
        grouped.setdefault(turn["conversation"], []).append(
            {"role": turn["role"], "at": _when(turn["at"]),
             "text": turn["text"] if turn["text"] is not None else "(cannot be decrypted with the current keys)"}
        )
    return [{"conversation": key, "messages": messages} for key, messages in grouped.items()]


def _workflow(workflow, runs: list, outputs: dict[str, dict]) -> dict:
    return {
        "name": workflow.name,
        "status": workflow.status,
        "spec": workflow.spec,
        "paused_reason": workflow.paused_reason,
        "next_run_at": _when(workflow.next_run_at),
        "created_at": _when(workflow.created_at),
        "recent_runs": [
            {
                "due_at": _when(run.due_at), "trigger": run.trigger, "status": run.status,
                "started_at": _when(run.started_at), "finished_at": _when(run.finished_at),
                "steps": run.steps, "error": run.error, "cost_usd": run.cost_usd,
                "outputs": outputs.get(run.id, {}),
            }
            for run in runs
        ],
    }


def to_json(document: dict) -> bytes:
    return json.dumps(document, ensure_ascii=False, indent=2, default=str).encode()


def filename(person: Person, now: datetime) -> str:
    return f"atom-export-{person.user_id}-{now:%Y%m%d-%H%M%S}.json"
