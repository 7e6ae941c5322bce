"""Slack Connect: whether people from other organisations may use a workspace's shared keys.

Revision ID: 0006
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0008"  # after 0008 (workflows): one head
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workspace_policies") as batch:
        batch.add_column(sa.Column("allow_external_keys", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("workspace_policies") as batch:
        batch.drop_column("allow_external_keys")
