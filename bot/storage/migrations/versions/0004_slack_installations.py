"""Multi-workspace install: encrypted bot tokens, OAuth state nonces.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slack_installations",
        sa.Column("enterprise_id", sa.String(32), primary_key=True, server_default=""),
        sa.Column("team_id", sa.String(32), primary_key=True, server_default=""),
        sa.Column("is_enterprise_install", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("app_id", sa.String(32), nullable=False, server_default=""),
        sa.Column("bot_id", sa.String(32), nullable=False, server_default=""),
        sa.Column("bot_user_id", sa.String(32), nullable=False, server_default=""),
        sa.Column("bot_scopes", sa.Text, nullable=False, server_default=""),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("bot_token_expires_at", sa.Integer, nullable=True),
        sa.Column("installed_at", sa.DateTime(timezone=True), nullable=False),
    )
    # The table slack_sdk's AsyncSQLAlchemyOAuthStateStore reads and writes (state nonces only).
    op.create_table(
        "slack_oauth_states",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("state", sa.String(200), nullable=False),
        sa.Column("expire_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("slack_oauth_states")
    op.drop_table("slack_installations")
