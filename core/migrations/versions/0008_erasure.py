"""erasure: when a conversation's words were erased (a forgotten client, the retention
period), and the index the retention job reads

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "conversations", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        "ix_conversations_erasure",
        "conversations",
        ["erased_at", "status", "updated_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_conversations_erasure", table_name="conversations")
    op.drop_column("conversations", "erased_at")
