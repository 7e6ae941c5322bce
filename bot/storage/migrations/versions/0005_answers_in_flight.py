"""Answers in flight: what a crash cut short, what Slack would not take.

Revision ID: 0005
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0010"  # re-chained after main gained 0010 (agent)
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "answers_in_flight",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("enterprise_id", sa.String(32), nullable=False, server_default=""),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("thread_ts", sa.String(32), nullable=True),
        sa.Column("surface", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, server_default="answering"),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("answer", sa.Text, nullable=True),
        sa.Column("footer", sa.JSON, nullable=True),
        sa.Column("message_ts", sa.String(32), nullable=True),
        sa.Column("streaming", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_answers_in_flight_state", "answers_in_flight", ["state"])


def downgrade() -> None:
    op.drop_index("ix_answers_in_flight_state", table_name="answers_in_flight")
    op.drop_table("answers_in_flight")
