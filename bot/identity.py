"""Who is asking: taken from the verified request only, never from text, metadata or button values."""

from __future__ import annotations

from dataclasses import dataclass


class UnverifiedRequest(ValueError):
    """A signed request that names no person (Slack sends none such; a crafted one is ignored)."""


@dataclass(frozen=True)
class Person:
    enterprise_id: str
    team_id: str
    user_id: str

    @classmethod
    def from_context(cls, context) -> Person:
        """Build from Bolt's context, which Bolt fills from the signed request body."""
        user_id = context.get("user_id") or ""
        team_id = context.get("team_id") or context.get("user_team_id") or ""
        if not user_id or not team_id:
            raise UnverifiedRequest("request carries no verified user")
        return cls(enterprise_id=context.get("enterprise_id") or "", team_id=team_id, user_id=user_id)

    @property
    def workspace(self) -> tuple[str, str]:
        return (self.enterprise_id, self.team_id)
