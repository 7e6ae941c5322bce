"""Conversation memory (encrypted), usage records, person settings, workspace budgets.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversation_turns",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("enterprise_id", sa.String(32), nullable=False, server_default=""),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("thread_key", sa.String(80), nullable=False),
        sa.Column("role", sa.String(12), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_conversation_turns_thread", "conversation_turns", ["team_id", "thread_key", "created_at"]
    )
    op.create_index("ix_conversation_turns_user", "conversation_turns", ["team_id", "user_id"])
    op.create_index("ix_conversation_turns_created", "conversation_turns", ["created_at"])
    op.create_table(
        "usage_records",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("enterprise_id", sa.String(32), nullable=False, server_default=""),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("surface", sa.String(16), nullable=False),
        sa.Column("task", sa.String(20), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False, server_default=""),
        sa.Column("model", sa.String(80), nullable=False, server_default=""),
        sa.Column("key_scope", sa.String(16), nullable=False, server_default="personal"),
        sa.Column("prompt_tokens", sa.Integer, nullable=False, server_default="0"),
        sa.Column("completion_tokens", sa.Integer, nullable=False, server_default="0"),
        sa.Column("cost_usd", sa.Float, nullable=False, server_default="0"),
        sa.Column("baseline_cost_usd", sa.Float, nullable=False, server_default="0"),
        sa.Column("latency_ms", sa.Integer, nullable=False, server_default="0"),
        sa.Column("first_token_ms", sa.Integer, nullable=True),
        sa.Column("failovers", sa.Integer, nullable=False, server_default="0"),
        sa.Column("outcome", sa.String(16), nullable=False, server_default="ok"),
        sa.Column("feedback", sa.String(8), nullable=True),
        sa.Column("explanation", sa.Text, nullable=False, server_default=""),
        sa.Column("answer_turn_id", sa.String(36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_usage_records_user_time", "usage_records", ["team_id", "user_id", "created_at"])
    op.create_index("ix_usage_records_team_time", "usage_records", ["team_id", "created_at"])
    op.create_table(
        "person_settings",
        sa.Column("enterprise_id", sa.String(32), primary_key=True, server_default=""),
        sa.Column("team_id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("mode", sa.String(80), nullable=False, server_default="balanced"),
        sa.Column("overrides", sa.JSON, nullable=False),
        sa.Column("monthly_budget_usd", sa.Float, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("workspace_policies") as batch:
        batch.add_column(sa.Column("monthly_budget_usd", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workspace_policies") as batch:
        batch.drop_column("monthly_budget_usd")
    op.drop_table("person_settings")
    op.drop_index("ix_usage_records_team_time", "usage_records")
    op.drop_index("ix_usage_records_user_time", "usage_records")
    op.drop_table("usage_records")
    op.drop_index("ix_conversation_turns_created", "conversation_turns")
    op.drop_index("ix_conversation_turns_user", "conversation_turns")
    op.drop_index("ix_conversation_turns_thread", "conversation_turns")
    op.drop_table("conversation_turns")
