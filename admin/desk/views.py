"""What the desk shows operators: plain, frozen records the transports render."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from core.models import Client, Message
from identity.hints import Hint

__all__ = [
    "ClientCard",
    "Colleague",
    "ConversationView",
    "IdentityView",
    "MessageView",
    "QueueRow",
    "QueueView",
    "SavedReply",
    "TransferTargets",
    "client_name",
    "is_anonymous",
    "message_view",
]

QueueView = Literal["waiting", "mine", "breaching"]


@dataclass(frozen=True, slots=True)
class QueueRow:
    conversation_id: int
    position: int
    group: str
    priority: int
    client_id: int
    client_name: str
    channel: str
    category: str | None
    waited: dt.timedelta
    deadline: dt.datetime
    status: str
    preview: str
    anonymous: bool = False  # no name, email or phone: the console labels it
    preview_action: str | None = None  # the client's last step was a button (handoff…)


@dataclass(frozen=True, slots=True)
class MessageView:
    id: int
    author: str
    direction: str
    channel: str
    text: str
    attachments: list[dict[str, object]]
    at: dt.datetime
    private: bool
    delivery: str | None
    conversation_id: int
    delivery_fault: str | None = None  # why a failed one was not delivered (DeliveryFault)
    action: str | None = None  # a client's button press (handoff, choose, rate)
    original_text: str | None = None  # an email's whole letter, when `text` is its fresh part


@dataclass(frozen=True, slots=True)
class ConversationView:
    id: int
    status: str
    client_id: int
    client_name: str
    channel: str
    category: str | None
    group: str | None
    priority: int
    deadline: dt.datetime | None
    operator_id: int | None
    subject: str | None
    messages: tuple[MessageView, ...]
    rating: int | None = None
    resolved_at: dt.datetime | None = None
    closed_by: str | None = None
    """Who closed it, as its last close says: "operator", "client" (took the question off
    the queue), "timeout" (the bot's, idle), "no_reply" (the client never answered)."""
    anonymous: bool = False
    erased_at: dt.datetime | None = None
    """When its words and files were erased (a forgotten client, the retention period)."""
    reachable: tuple[str, ...] = ()
    """The channels the client can be answered in, latest first (seen last, or, seen at
    the same moment, the newer account)."""


@dataclass(frozen=True, slots=True)
class IdentityView:
    id: int
    channel: str
    external_id: str
    """`Identity.shown_id`: never a web visitor's cookie."""
    display_name: str | None
    verified: bool
    last_seen_at: dt.datetime


@dataclass(frozen=True, slots=True)
class ClientCard:
    """Who the client is: what an operator needs before answering."""

    id: int
    name: str
    tier: str
    language: str | None
    phone: str | None
    email: str | None
    identities: tuple[IdentityView, ...]
    conversations: int
    open_conversations: tuple[int, ...]
    ratings: tuple[int, ...]
    since: dt.datetime
    hints: tuple[Hint, ...]  # possibly the same person: shown, never acted on without proof


@dataclass(frozen=True, slots=True)
class SavedReply:
    """An operator's reply kept in the knowledge base: a new article or a new variant."""

    article_id: str
    question: str
    created: bool


@dataclass(frozen=True, slots=True)
class Colleague:
    """Another operator as a transfer target: whether they are there and how busy."""

    id: int
    name: str
    presence: str  # online | away | offline
    holds: int
    capacity: int
    groups: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TransferTargets:
    """Where a held conversation can be handed: a group some active operator serves, or a
    colleague (an offline one is listed, and refused if chosen)."""

    groups: tuple[str, ...]
    colleagues: tuple[Colleague, ...]


def client_name(client: Client | None) -> str:
    """The messenger name, else what the client told (email, phone), else their number
    (the console shows an anonymous client as "Visitor #N")."""
    if client is None:
        return "?"
    return client.display_name or client.email or client.phone or f"#{client.id}"


def is_anonymous(client: Client | None) -> bool:
    return client is not None and not (client.display_name or client.email or client.phone)


def message_view(message: Message) -> MessageView:
    return MessageView(
        id=message.id,
        author=message.author.value,
        direction=message.direction.value,
        channel=message.channel.value,
        text=message.text,
        attachments=list(message.attachments or []),
        at=message.created_at,
        private=message.private,
        delivery=message.delivery.value if message.delivery else None,
        conversation_id=message.conversation_id,
        delivery_fault=message.delivery_fault.value if message.delivery_fault else None,
        action=message.action,
        original_text=message.original_text if message.original_text != message.text else None,
    )
