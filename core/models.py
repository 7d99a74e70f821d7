"""The domain as stored: clients and their channel identities, conversations, messages,
operators, conversation events, the knowledge base's articles and the merge audit.

Identity is not the person: a `Client` has many `Identity` rows (channel + external id),
and a merge moves identities and conversations to the surviving client without ever
rewriting an identity's external id. The database is the source of truth; Redis only
holds the live queue, which can be rebuilt from here.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    mapped_column,
    orm_insert_sentinel,
    relationship,
    validates,
)

from core.contracts import ChannelKind, DeliveryFault
from core.folding import fold, folded_from

__all__ = [
    "Author",
    "Base",
    "Client",
    "ClientTier",
    "Conversation",
    "ConversationEvent",
    "ConversationStatus",
    "Delivery",
    "Direction",
    "EventKind",
    "Identity",
    "KbArticle",
    "KbCalibration",
    "KbMiss",
    "KbVariant",
    "MergeRecord",
    "Message",
    "Operator",
    "OperatorGroup",
    "OperatorRole",
    "OperatorSession",
    "OperatorToken",
    "AuditEntry",
    "utcnow",
]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware UTC times")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=24, values_callable=lambda e: [m.value for m in e])


class Base(AsyncAttrs, DeclarativeBase):
    type_annotation_map = {dt.datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class InsertedInBatches:
    """For tables the engine fills a polled batch at a time: a column that numbers the rows
    of one multi-row INSERT, so that SQLite (whose RETURNING order is not guaranteed) can
    match the generated ids to the rows and insert a batch in one statement instead of one
    statement per row. It means nothing outside that statement."""

    insert_sentinel: Mapped[int | None] = orm_insert_sentinel()


class OperatorRole(str, enum.Enum):
    """Admins also manage operators and undo merges."""

    OPERATOR = "operator"
    ADMIN = "admin"


class ConversationStatus(str, enum.Enum):
    BOT = "bot"
    QUEUED = "queued"
    ASSIGNED = "assigned"
    CLOSED = "closed"


class Direction(str, enum.Enum):
    IN = "in"
    OUT = "out"


class Author(str, enum.Enum):
    CLIENT = "client"
    BOT = "bot"
    OPERATOR = "operator"
    SYSTEM = "system"


class Delivery(str, enum.Enum):
    """Outbound only: stored as PENDING before the send, so a crash resends it."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class ClientTier(str, enum.Enum):
    STANDARD = "standard"
    VIP = "vip"


class EventKind(str, enum.Enum):
    CREATED = "created"
    BOT_ANSWERED = "bot_answered"
    CLARIFIED = "clarified"
    HANDED_OFF = "handed_off"
    QUEUED = "queued"
    TAKEN = "taken"
    FIRST_RESPONSE = "first_response"
    TRANSFERRED = "transferred"
    RECATEGORIZED = "recategorized"  # an operator set what it is about
    REQUEUED = "requeued"
    LEASE_EXPIRED = "lease_expired"
    SLA_WARNING = "sla_warning"
    SLA_BREACHED = "sla_breached"
    CLOSED = "closed"
    RATED = "rated"
    REOPENED = "reopened"
    MERGED = "merged"
    UNDELIVERED = "undelivered"
    BOUNCED = "bounced"
    QUARANTINED = "quarantined"
    QUEUE_ACKNOWLEDGED = "queue_acknowledged"  # a queued client's message answered once
    HOLDER_ACKNOWLEDGED = "holder_acknowledged"  # "Anna already has it", once while she does
    PLACE_TOLD = "place_told"  # a queued client asked how long: told their place, now and then


class Client(InsertedInBatches, Base):
    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    tier: Mapped[ClientTier] = mapped_column(_enum(ClientTier), default=ClientTier.STANDARD)
    language: Mapped[str | None] = mapped_column(String(8))
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    folded_name: Mapped[str | None] = mapped_column(
        String(200), default=folded_from("display_name", 200)
    )
    """`display_name` as the console's search compares it (core/folding.py)."""

    identities: Mapped[list[Identity]] = relationship(back_populates="client")

    @validates("display_name")
    def _fold_name(self, _key: str, value: str | None) -> str | None:
        self.folded_name = fold(value)[:200] if value else None
        return value


class Identity(InsertedInBatches, Base):
    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    channel: Mapped[ChannelKind] = mapped_column(_enum(ChannelKind))
    external_id: Mapped[str] = mapped_column(String(320))
    chat_id: Mapped[str | None] = mapped_column(String(320))
    display_name: Mapped[str | None] = mapped_column(String(200))
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    phone: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    folded_name: Mapped[str | None] = mapped_column(
        String(200), default=folded_from("display_name", 200)
    )
    """`display_name` as the console's search compares it (core/folding.py)."""

    client: Mapped[Client] = relationship(back_populates="identities")

    @validates("display_name")
    def _fold_name(self, _key: str, value: str | None) -> str | None:
        self.folded_name = fold(value)[:200] if value else None
        return value

    @property
    def shown_id(self) -> str:
        """What the desk may show and log: a web visitor's id is their cookie, a bearer
        secret (whoever has it is that visitor), so it becomes "visitor #<identity id>"."""
        return f"visitor #{self.id}" if self.channel is ChannelKind.WEB else self.external_id


class Operator(Base):
    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    vk_user_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(8), default="ru")
    capacity: Mapped[int] = mapped_column(Integer, default=3)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    login: Mapped[str | None] = mapped_column(String(100), unique=True)
    """What the operator signs in with (lower case); None until an account is made."""
    role: Mapped[OperatorRole] = mapped_column(_enum(OperatorRole), default=OperatorRole.OPERATOR)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    local_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    """The admin `make run` creates on loopback; a non-loopback start refuses while it is active."""

    groups: Mapped[list[OperatorGroup]] = relationship(
        back_populates="operator", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def group_names(self) -> list[str]:
        return sorted(g.group for g in self.groups)


class OperatorGroup(Base):
    __tablename__ = "operator_groups"

    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"), primary_key=True)
    group: Mapped[str] = mapped_column(String(64), primary_key=True)

    operator: Mapped[Operator] = relationship(back_populates="groups")


class OperatorSession(Base):
    """A signed-in console: only the sha256 of the cookie's token is stored."""

    __tablename__ = "operator_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column()
    address: Mapped[str | None] = mapped_column(String(64))


class OperatorToken(Base):
    """A one-time link (an invite to set a password, or a sign-in link): hashed, expiring,
    spent by its first use."""

    __tablename__ = "operator_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column()
    used_at: Mapped[dt.datetime | None] = mapped_column()


class AuditEntry(Base):
    """Who signed in (or failed to), and what admins did to accounts and merges."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    action: Mapped[str] = mapped_column(String(64))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    address: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Conversation(InsertedInBatches, Base):
    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_client_status", "client_id", "status"),
        Index("ix_conversations_erasure", "erased_at", "status", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id"))
    status: Mapped[ConversationStatus] = mapped_column(
        _enum(ConversationStatus), default=ConversationStatus.BOT, index=True
    )
    category: Mapped[str | None] = mapped_column(String(64))
    group: Mapped[str | None] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(Integer, default=2)
    sla_deadline: Mapped[dt.datetime | None] = mapped_column()
    assigned_operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"), index=True)
    last_channel: Mapped[ChannelKind] = mapped_column(_enum(ChannelKind))
    last_identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id"))
    subject: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    queued_at: Mapped[dt.datetime | None] = mapped_column()
    first_response_at: Mapped[dt.datetime | None] = mapped_column()
    resolved_at: Mapped[dt.datetime | None] = mapped_column()
    rating: Mapped[int | None] = mapped_column(Integer)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"))
    erased_at: Mapped[dt.datetime | None] = mapped_column()
    """When what was said in it was erased (its client forgotten, or kept past
    `RETENTION_DAYS`): the conversation stays for the reports, its words do not."""


class Message(InsertedInBatches, Base):
    __tablename__ = "messages"
    __table_args__ = (
        # a platform id is unique per sender (a reused Message-ID is another sender's own
        # letter); rows without one, delivery reports, are unique by the id alone
        UniqueConstraint(
            "channel",
            "direction",
            "channel_message_id",
            "identity_id",
            name="uq_messages_platform_id",
        ),
        Index(
            "uq_messages_platform_id_unowned",
            "channel",
            "direction",
            "channel_message_id",
            unique=True,
            sqlite_where=sql_text("identity_id IS NULL"),
            postgresql_where=sql_text("identity_id IS NULL"),
        ),
        Index("ix_messages_conversation_created", "conversation_id", "created_at"),
        Index("ix_messages_identity_created", "identity_id", "created_at"),
        Index("ix_messages_delivery_due", "delivery", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    identity_id: Mapped[int | None] = mapped_column(ForeignKey("identities.id"))
    channel: Mapped[ChannelKind] = mapped_column(_enum(ChannelKind))
    direction: Mapped[Direction] = mapped_column(_enum(Direction))
    author: Mapped[Author] = mapped_column(_enum(Author))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    text: Mapped[str] = mapped_column(Text, default="")
    original_text: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    action: Mapped[str | None] = mapped_column(String(32))
    buttons: Mapped[list[Any]] = mapped_column(default=list)
    channel_message_id: Mapped[str | None] = mapped_column(String(500))
    reply_address: Mapped[str | None] = mapped_column(String(320))
    """A letter's `Reply-To` when it differs from `From`: answers to that letter go there;
    the client's stored address never changes."""
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    automated: Mapped[bool] = mapped_column(Boolean, default=False)
    delivery: Mapped[Delivery | None] = mapped_column(_enum(Delivery))
    delivery_error: Mapped[str | None] = mapped_column(Text)
    delivery_fault: Mapped[DeliveryFault | None] = mapped_column(_enum(DeliveryFault))
    """Why a FAILED message was not delivered, in the desk's terms (its text is ru/en)."""
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Sends tried and failed (PENDING replies): the outbox's retry schedule counts these."""
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column()
    """When the outbox sweeper next takes this PENDING reply: a while after it was made (in
    case the immediate send never finished), or the time its retry is due."""
    kb_article_id: Mapped[str | None] = mapped_column(String(128))
    kb_score: Mapped[float | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    edited_at: Mapped[dt.datetime | None] = mapped_column()
    delivered_at: Mapped[dt.datetime | None] = mapped_column()
    resent_at: Mapped[dt.datetime | None] = mapped_column()
    """When an operator last sent this undelivered reply again: its retries' deadline
    counts from then, not from when it was written."""
    folded_text: Mapped[str | None] = mapped_column(Text, default=folded_from("text"))
    """`text` as the console's search compares it (core/folding.py); set on every insert
    and whenever `text` changes through the ORM (an edited message)."""

    @validates("text")
    def _fold_text(self, _key: str, value: str) -> str:
        self.folded_text = fold(value) if value else None
        return value


class ConversationEvent(InsertedInBatches, Base):
    """Every state change of a conversation, with its time: reports are computed from these."""

    __tablename__ = "conversation_events"
    __table_args__ = (Index("ix_events_kind_at", "kind", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    kind: Mapped[EventKind] = mapped_column(_enum(EventKind))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    channel: Mapped[ChannelKind | None] = mapped_column(_enum(ChannelKind))
    category: Mapped[str | None] = mapped_column(String(64))
    group: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class KbArticle(Base):
    __tablename__ = "kb_articles"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    title: Mapped[str] = mapped_column(String(500), default="")
    answer: Mapped[str] = mapped_column(Text)
    answer_short: Mapped[str | None] = mapped_column(Text)
    answer_email: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(64))
    tags: Mapped[list[Any]] = mapped_column(default=list)
    language: Mapped[str] = mapped_column(String(8), default="ru")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    variants: Mapped[list[KbVariant]] = relationship(
        back_populates="article",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="KbVariant.id",
    )


class KbVariant(Base):
    __tablename__ = "kb_variants"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[str] = mapped_column(
        ForeignKey("kb_articles.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(Text)

    article: Mapped[KbArticle] = relationship(back_populates="variants")


class Macro(Base):
    """A saved reply: the desk's (`operator_id` None, for everyone) or one operator's own."""

    __tablename__ = "macros"

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"), index=True)
    title: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class KbMiss(Base):
    """A question the bot handed off: `kb gaps` clusters these into articles worth writing."""

    __tablename__ = "kb_misses"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"))
    question: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(8))
    best_article_id: Mapped[str | None] = mapped_column(String(128))
    best_score: Mapped[float | None] = mapped_column()
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class KbCalibration(Base):
    """The knowledge index's decision thresholds (`kb.Calibration` as JSON); the newest row
    is in force in every gateway process."""

    __tablename__ = "kb_calibrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class MergeRecord(Base):
    """Audit of a client merge: who, why, on what proof, and exactly what moved, so it can
    be undone."""

    __tablename__ = "merge_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    survivor_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    merged_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    reason: Mapped[str] = mapped_column(String(32))
    proof: Mapped[str | None] = mapped_column(Text)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    moved: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    undone_at: Mapped[dt.datetime | None] = mapped_column()
