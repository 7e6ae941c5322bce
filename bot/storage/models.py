"""ORM models. Every per-person row is keyed by enterprise, team and user ids."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, Index, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


# Slack ids are short; enterprise is "" (not NULL) outside Enterprise Grid so it can be part of keys.
SlackId = String(32)


class EventClaim(Base):
    """One row per Slack event_id handled: the persistent at-least-once guard."""

    __tablename__ = "slack_event_claims"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_id: Mapped[str] = mapped_column(SlackId, default="")
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (Index("ix_slack_event_claims_claimed_at", "claimed_at"),)
