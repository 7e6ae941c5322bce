"""Provider keys (encrypted), workspace policy, audit log, encryption canary.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "provider_credentials",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("enterprise_id", sa.String(32), nullable=False, server_default=""),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False, server_default=""),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("hint", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="unchecked"),
        sa.Column("status_detail", sa.String(300), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint(
            "enterprise_id", "team_id", "user_id", "provider", name="uq_provider_credentials_owner"
        ),
    )
    op.create_table(
        "workspace_policies",
        sa.Column("enterprise_id", sa.String(32), primary_key=True, server_default=""),
        sa.Column("team_id", sa.String(32), primary_key=True),
        sa.Column("blocked_providers", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("enterprise_id", sa.String(32), nullable=False, server_default=""),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("actor_user_id", sa.String(32), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False, server_default=""),
        sa.Column("scope", sa.String(16), nullable=False, server_default="personal"),
        sa.Column("detail", sa.String(300), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_audit_events_workspace_time", "audit_events", ["enterprise_id", "team_id", "created_at"]
    )
    op.create_table(
        "atom_meta",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("atom_meta")
    op.drop_index("ix_audit_events_workspace_time", "audit_events")
    op.drop_table("audit_events")
    op.drop_table("workspace_policies")
    op.drop_table("provider_credentials")
