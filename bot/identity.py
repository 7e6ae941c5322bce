"""Who is asking: taken from the verified request only, never from text, metadata or button values.

The asker's own team (and enterprise) decides whose keys, budget and memory apply. In a Slack
Connect channel the person may belong to another organisation than the workspace Atom is
installed in (the host): `asker_workspace` reads their own team from the signed body, and a
`Person` remembers the host too, so the vault can keep the host's shared keys for the host's own
people unless its admins allow otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class UnverifiedRequest(ValueError):
    """A signed request that names no person (Slack sends none such; a crafted one is ignored)."""


def slack_id(value: Any) -> str:
    """The id of a Slack object that may come as an object or as its bare id; "" otherwise."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) else ""


def asker_workspace(body: Any) -> tuple[str, str] | None:
    """(enterprise_id, team_id) of the person who acted, as far as the body tells; "" for an
    enterprise it does not name. None when the body names no team of the person's own."""
    if not isinstance(body, dict):
        return None
    event = body.get("event")
    if body.get("type") == "event_callback" and isinstance(event, dict):
        team = slack_id(event.get("user_team")) or slack_id(event.get("team"))
        if not team:
            return None
        if team.startswith("E"):  # a person from an Enterprise Grid org: their team is not given
            return team, team
        return (body.get("enterprise_id") or "" if team == body.get("team_id") else ""), team
    user = body.get("user")
    if isinstance(user, dict) and isinstance(user.get("team_id"), str) and user["team_id"]:
        return slack_id(body.get("enterprise")), user["team_id"]
    return None


@dataclass(frozen=True)
class Person:
    enterprise_id: str
    team_id: str
    user_id: str
    # The workspace Atom is installed in, when it is not the person's own (Slack Connect).
    host_enterprise_id: str | None = None
    host_team_id: str | None = None

    @classmethod
    def from_context(cls, context) -> Person:
        """Build from Bolt's context, which Bolt fills from the signed request body (and
        `remember_asker` adds the asker's own team)."""
        user_id = context.get("user_id") or ""
        installed = context.get("authorize_result")
        host_team = getattr(installed, "team_id", None) or context.get("team_id") or ""
        host_enterprise = getattr(installed, "enterprise_id", None) or context.get("enterprise_id") or ""
        asker = context.get("asker_workspace")
        enterprise, team = asker if asker else (context.get("enterprise_id") or "", context.get("team_id") or "")
        if team == host_team or (enterprise and enterprise == host_enterprise):
            enterprise, team = context.get("enterprise_id") or "", context.get("team_id") or team
        if not user_id or not team:
            raise UnverifiedRequest("request carries no verified user")
        if (enterprise, team) == (host_enterprise, host_team) or not host_team:
            return cls(enterprise_id=enterprise, team_id=team, user_id=user_id)
        return cls(enterprise, team, user_id, host_enterprise_id=host_enterprise, host_team_id=host_team)

    @property
    def workspace(self) -> tuple[str, str]:
        return (self.enterprise_id, self.team_id)

    @property
    def external(self) -> bool:
        """From another organisation than the workspace Atom is installed in."""
        return self.host_team_id is not None

    @property
    def host(self) -> tuple[str, str]:
        return (self.host_enterprise_id or "", self.host_team_id or "")


async def remember_asker(body, context, next):
    """Bolt middleware: put the asker's own workspace (from the signed body) in the context."""
    context["asker_workspace"] = asker_workspace(body)
    await next()
