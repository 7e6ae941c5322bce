"""Side effects proposed in chat wait here for their owner's click: shown exactly, run once.

A model never runs a side effect itself: its tool call becomes a proposal (parameters stored
encrypted, 24 hours). Only the person it was proposed to can approve it; the first Approve claims
it atomically, so a double click, a second Cancel, a click after 24 hours or anyone else's click
runs nothing and says why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

import pydantic

from bot.connectors.base import Action
from bot.connectors.service import params_error
from bot.identity import Person
from bot.storage.models import utcnow
from bot.storage.repositories.connections import Approvals

APPROVAL_LIFETIME = timedelta(hours=24)


@dataclass(frozen=True)
class Proposal:
    id: str
    action: Action
    preview: str


@dataclass(frozen=True)
class Decision:
    text: str
    preview: str = ""
    final: bool = False  # True: the approval message is replaced; False: only the clicker is told


class ApprovalDesk:
    def __init__(self, service, sessions, crypto):
        self.service = service
        self.approvals = Approvals(sessions)
        self.crypto = crypto

    async def propose(self, person: Person, action_id: str, params: dict) -> Proposal | str:
        """A stored proposal, or why not (one sentence)."""
        action = self.service.registry.action(action_id)
        if action is None or not action.side_effect:
            return f"Atom has no action called “{str(action_id)[:60]}” that needs approval."
        try:
            parsed = action.Params.model_validate(params or {})
        except pydantic.ValidationError as exc:
            return params_error(exc)
        try:
            preview = action.describe(parsed)
        except Exception:  # a preview that cannot be built is not one a person can approve
            return "That request could not be shown for approval, so it was not proposed."
        sealed = self.crypto.encrypt(json.dumps(parsed.model_dump(mode="json")))
        approval_id = await self.approvals.create(person, action.id, sealed, utcnow() + APPROVAL_LIFETIME)
        return Proposal(approval_id, action, preview)

    async def decide(self, person: Person, approval_id: str, approve: bool) -> Decision:
        row = await self.approvals.get(str(approval_id)[:36])
        if row is None:
            return Decision("That request no longer exists. Nothing was done.")
        if row.person != person:
            return Decision(f"Only <@{row.person.user_id}> can approve or cancel this. Nothing was done.")
        action = self.service.registry.action(row.action_id)
        preview = self._preview(action, row.params)
        if row.status != "pending":
            already = "cancelled" if row.status == "cancelled" else "approved"
            return Decision(f"This was already {already}. Nothing more was done.")
        if row.expires_at <= utcnow():
            return Decision("This request expired (approvals last 24 hours). Nothing was done; ask again if you still want it.",
                            preview, final=True)
        if not await self.approvals.decide(row.id, person, "running" if approve else "cancelled"):
            return Decision("This was already decided. Nothing more was done.")
        if not approve:
            return Decision("Cancelled. Nothing was done.", preview, final=True)
        params = json.loads(self.crypto.decrypt(row.params))
        result = await self.service.run_action(person, row.action_id, params)
        await self.approvals.finish(row.id, "done" if result.ok else "failed")
        text = f"✅ Done. {result.text}" if result.ok else f"⚠️ Not done: {result.error}"
        return Decision(text, preview, final=True)

    def _preview(self, action: Action | None, sealed: str) -> str:
        if action is None:
            return ""
        try:
            return action.describe(action.Params.model_validate(json.loads(self.crypto.decrypt(sealed))))
        except Exception:  # the preview is a courtesy on the decided message
            return ""
