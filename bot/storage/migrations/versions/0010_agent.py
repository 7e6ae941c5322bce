"""Agent messaging: threads that continue an earlier conversation.

Revision ID: 0010
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversation_links",
        sa.Column("enterprise_id", sa.String(32), primary_key=True, server_default=""),
        sa.Column("team_id", sa.String(32), primary_key=True),
        sa.Column("thread_key", sa.String(80), primary_key=True),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("conversation_key", sa.String(80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_conversation_links_created", "conversation_links", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_conversation_links_created", "conversation_links")
    op.drop_table("conversation_links")
