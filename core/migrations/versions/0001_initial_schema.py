"""initial schema

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        sa.Column(
            "tier",
            sa.Enum("standard", "vip", name="clienttier", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("merged_into_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merged_into_id"],
            ["clients.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_clients_email"), ["email"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_clients_merged_into_id"), ["merged_into_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_clients_phone"), ["phone"], unique=False)

    op.create_table(
        "kb_articles",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("answer_short", sa.Text(), nullable=True),
        sa.Column("answer_email", sa.Text(), nullable=True),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "kb_calibrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "operators",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("telegram_user_id", sa.BigInteger(), nullable=True),
        sa.Column("vk_user_id", sa.BigInteger(), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("telegram_user_id"),
        sa.UniqueConstraint("vk_user_id"),
    )
    op.create_table(
        "identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column(
            "channel",
            sa.Enum(
                "telegram", "vk", "email", "web", name="channelkind", native_enum=False, length=24
            ),
            nullable=False,
        ),
        sa.Column("external_id", sa.String(length=320), nullable=False),
        sa.Column("chat_id", sa.String(length=320), nullable=True),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "external_id"),
    )
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_identities_client_id"), ["client_id"], unique=False)

    op.create_table(
        "kb_variants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.String(length=128), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["kb_articles.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("kb_variants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kb_variants_article_id"), ["article_id"], unique=False)

    op.create_table(
        "merge_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survivor_id", sa.Integer(), nullable=False),
        sa.Column("merged_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("proof", sa.Text(), nullable=True),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("moved", sa.JSON(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["merged_id"],
            ["clients.id"],
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
        ),
        sa.ForeignKeyConstraint(
            ["survivor_id"],
            ["clients.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "operator_groups",
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("group", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
        ),
        sa.PrimaryKeyConstraint("operator_id", "group"),
    )
    op.create_table(
        "conversations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("identity_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "bot",
                "queued",
                "assigned",
                "closed",
                name="conversationstatus",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("group", sa.String(length=64), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("sla_deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assigned_operator_id", sa.Integer(), nullable=True),
        sa.Column(
            "last_channel",
            sa.Enum(
                "telegram", "vk", "email", "web", name="channelkind", native_enum=False, length=24
            ),
            nullable=False,
        ),
        sa.Column("last_identity_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("merged_into_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["assigned_operator_id"],
            ["operators.id"],
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
        ),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["identities.id"],
        ),
        sa.ForeignKeyConstraint(
            ["last_identity_id"],
            ["identities.id"],
        ),
        sa.ForeignKeyConstraint(
            ["merged_into_id"],
            ["conversations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_conversations_assigned_operator_id"),
            ["assigned_operator_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_conversations_client_status", ["client_id", "status"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_conversations_status"), ["status"], unique=False)

    op.create_table(
        "conversation_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "created",
                "bot_answered",
                "clarified",
                "handed_off",
                "queued",
                "taken",
                "first_response",
                "transferred",
                "requeued",
                "lease_expired",
                "sla_warning",
                "sla_breached",
                "closed",
                "rated",
                "reopened",
                "merged",
                "undelivered",
                "bounced",
                name="eventkind",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column(
            "channel",
            sa.Enum(
                "telegram", "vk", "email", "web", name="channelkind", native_enum=False, length=24
            ),
            nullable=True,
        ),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("group", sa.String(length=64), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("conversation_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_conversation_events_conversation_id"), ["conversation_id"], unique=False
        )
        batch_op.create_index("ix_events_kind_at", ["kind", "at"], unique=False)

    op.create_table(
        "kb_misses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("best_article_id", sa.String(length=128), nullable=True),
        sa.Column("best_score", sa.Double(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("kb_misses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kb_misses_at"), ["at"], unique=False)

    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("identity_id", sa.Integer(), nullable=True),
        sa.Column(
            "channel",
            sa.Enum(
                "telegram", "vk", "email", "web", name="channelkind", native_enum=False, length=24
            ),
            nullable=False,
        ),
        sa.Column(
            "direction",
            sa.Enum("in", "out", name="direction", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column(
            "author",
            sa.Enum(
                "client", "bot", "operator", "system", name="author", native_enum=False, length=24
            ),
            nullable=False,
        ),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("original_text", sa.Text(), nullable=True),
        sa.Column("attachments", sa.JSON(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=True),
        sa.Column("buttons", sa.JSON(), nullable=False),
        sa.Column("channel_message_id", sa.String(length=500), nullable=True),
        sa.Column("private", sa.Boolean(), nullable=False),
        sa.Column("automated", sa.Boolean(), nullable=False),
        sa.Column(
            "delivery",
            sa.Enum("pending", "sent", "failed", name="delivery", native_enum=False, length=24),
            nullable=True,
        ),
        sa.Column("delivery_error", sa.Text(), nullable=True),
        sa.Column("kb_article_id", sa.String(length=128), nullable=True),
        sa.Column("kb_score", sa.Double(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
        ),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["identities.id"],
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "channel", "direction", "channel_message_id", name="uq_messages_platform_id"
        ),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_messages_conversation_created", ["conversation_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_messages_delivery", ["delivery"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_delivery")
        batch_op.drop_index("ix_messages_conversation_created")

    op.drop_table("messages")
    with op.batch_alter_table("kb_misses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_misses_at"))

    op.drop_table("kb_misses")
    with op.batch_alter_table("conversation_events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_kind_at")
        batch_op.drop_index(batch_op.f("ix_conversation_events_conversation_id"))

    op.drop_table("conversation_events")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversations_status"))
        batch_op.drop_index("ix_conversations_client_status")
        batch_op.drop_index(batch_op.f("ix_conversations_assigned_operator_id"))

    op.drop_table("conversations")
    op.drop_table("operator_groups")
    op.drop_table("merge_records")
    with op.batch_alter_table("kb_variants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_variants_article_id"))

    op.drop_table("kb_variants")
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identities_client_id"))

    op.drop_table("identities")
    op.drop_table("operators")
    op.drop_table("kb_calibrations")
    op.drop_table("kb_articles")
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clients_phone"))
        batch_op.drop_index(batch_op.f("ix_clients_merged_into_id"))
        batch_op.drop_index(batch_op.f("ix_clients_email"))

    op.drop_table("clients")
