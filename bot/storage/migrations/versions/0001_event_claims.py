"""Persistent claims of Slack event ids (at-least-once delivery guard).

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slack_event_claims",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("team_id", sa.String(32), nullable=False, server_default=""),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_slack_event_claims_claimed_at", "slack_event_claims", ["claimed_at"])


def downgrade() -> None:
    op.drop_index("ix_slack_event_claims_claimed_at", "slack_event_claims")
    op.drop_table("slack_event_claims")
