"""Connectors: per-person OAuth connections (tokens encrypted), pending OAuth states, approvals.

Revision ID: 0007
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"  # after 0005 (answers in flight)
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_connections",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("enterprise_id", sa.String(32), nullable=False, server_default=""),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("account", sa.String(200), nullable=False, server_default=""),
        sa.Column("scopes", sa.Text, nullable=False, server_default=""),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(16), nullable=False, server_default="ok"),
        sa.Column("status_detail", sa.String(300), nullable=False, server_default=""),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("enterprise_id", "team_id", "user_id", "provider", name="uq_service_connections_owner"),
    )
    op.create_table(
        "connector_oauth_states",
        sa.Column("state_hash", sa.String(64), primary_key=True),
        sa.Column("enterprise_id", sa.String(32), nullable=False, server_default=""),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("service", sa.String(32), nullable=False),
        sa.Column("scopes", sa.Text, nullable=False, server_default=""),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("browser_hash", sa.String(64), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_connector_oauth_states_expires", "connector_oauth_states", ["expires_at"])
    op.create_table(
        "connector_approvals",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("enterprise_id", sa.String(32), nullable=False, server_default=""),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("action_id", sa.String(64), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_connector_approvals_expires", "connector_approvals", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_connector_approvals_expires", "connector_approvals")
    op.drop_table("connector_approvals")
    op.drop_index("ix_connector_oauth_states_expires", "connector_oauth_states")
    op.drop_table("connector_oauth_states")
    op.drop_table("service_connections")
