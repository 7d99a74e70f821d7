"""platform ids unique per sender; a letter's Reply-To; the answer cap's index

A client's platform id (an email Message-ID above all) is unique per sender, not across
senders: a letter that reuses another sender's Message-ID is a letter of its own, never a
"duplicate" of the victim's. Rows without a sender (delivery reports) stay unique by id.

Revision ID: 0005
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UNOWNED = sa.text("identity_id IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reply_address", sa.String(length=320), nullable=True))
        batch_op.drop_constraint("uq_messages_platform_id", type_="unique")
        batch_op.create_unique_constraint(
            "uq_messages_platform_id", ["channel", "direction", "channel_message_id", "identity_id"]
        )
    op.create_index(
        "uq_messages_platform_id_unowned",
        "messages",
        ["channel", "direction", "channel_message_id"],
        unique=True,
        sqlite_where=UNOWNED,
        postgresql_where=UNOWNED,
    )
    op.create_index("ix_messages_identity_created", "messages", ["identity_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_messages_identity_created", table_name="messages")
    op.drop_index("uq_messages_platform_id_unowned", table_name="messages")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_constraint("uq_messages_platform_id", type_="unique")
        batch_op.create_unique_constraint(
            "uq_messages_platform_id", ["channel", "direction", "channel_message_id"]
        )
        batch_op.drop_column("reply_address")
