"""reply schedule: a pending reply's attempts and the time of its next one

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_index("ix_messages_delivery")
        batch_op.create_index(
            "ix_messages_delivery_due", ["delivery", "next_attempt_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_delivery_due")
        batch_op.create_index("ix_messages_delivery", ["delivery"], unique=False)
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("attempts")
