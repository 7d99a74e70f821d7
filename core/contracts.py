"""The contract between channels and the engine: one inbound and one outbound shape.

Channels build `InboundMessage` from platform events and hand them to an `InboundSink`,
a polled batch at once (one unit of work for the lot); they confirm the events to the
platform only after the sink returns, because the sink returns once every message is
stored. The engine answers with `OutboundMessage`, which a
channel turns back into a platform call and acknowledges with a `DeliveryReceipt`.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "Action",
    "Attachment",
    "AttachmentKind",
    "Button",
    "ChannelAdapter",
    "ChannelKind",
    "DeliveryError",
    "DeliveryFault",
    "DeliveryReceipt",
    "InboundMessage",
    "InboundSink",
    "OutboundMessage",
    "ShowsTyping",
]


class ChannelKind(str, enum.Enum):
    TELEGRAM = "telegram"
    VK = "vk"
    EMAIL = "email"
    WEB = "web"


class AttachmentKind(str, enum.Enum):
    PHOTO = "photo"
    DOCUMENT = "document"
    VOICE = "voice"
    AUDIO = "audio"
    VIDEO = "video"
    STICKER = "sticker"
    LOCATION = "location"
    OTHER = "other"


class Action(str, enum.Enum):
    """What a button press or a platform-level event means, independent of the platform."""

    START = "start"  # /start, "Начать"; `payload` carries a deep-link argument
    HANDOFF = "handoff"  # "talk to a person"
    CHOOSE = "choose"  # a clarification choice; `payload` is the article id
    RATE = "rate"  # CSAT; `payload` is "1".."5"
    CONTACT = "contact"  # the sender shared their own phone; `payload` is the number
    RESOLVED = "resolved"  # "my question is solved": withdraw it from the queue; `payload` is
    # the conversation's id


@dataclass(frozen=True, slots=True)
class Attachment:
    kind: AttachmentKind
    file_id: str | None = None
    name: str | None = None
    size: int | None = None
    mime: str | None = None
    url: str | None = None
    stored_path: str | None = None
    content: bytes | None = field(default=None, repr=False, compare=False)
    """Bytes still to be written at `stored_path`: a channel reads them, and the engine
    writes them (`core.files.keep_files`) only once the message is known to be new, so a
    duplicate writes nothing. Never part of the stored JSON."""

    def as_json(self) -> dict[str, Any]:
        return {
            k: (v.value if isinstance(v, enum.Enum) else v)
            for k, v in (
                ("kind", self.kind),
                ("file_id", self.file_id),
                ("name", self.name),
                ("size", self.size),
                ("mime", self.mime),
                ("url", self.url),
                ("stored_path", self.stored_path),
            )
            if v is not None
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Attachment:
        return cls(
            kind=AttachmentKind(data.get("kind", "other")),
            file_id=data.get("file_id"),
            name=data.get("name"),
            size=data.get("size"),
            mime=data.get("mime"),
            url=data.get("url"),
            stored_path=data.get("stored_path"),
        )


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One thing a client said or did, in any channel.

    `platform_message_id` is unique within the channel and makes redelivery harmless.
    `reply_to` lists platform ids this message answers (email In-Reply-To/References,
    a Telegram reply); `thread_hint` is a conversation number found in the text or
    subject (`[#123]`). `automated` marks mail from robots (auto-replies, lists,
    bounces): stored, never answered. `edited` replaces the text of the message with
    the same platform id.
    """

    channel: ChannelKind
    external_user_id: str
    platform_message_id: str
    text: str = ""
    display_name: str | None = None
    chat_id: str | None = None
    attachments: tuple[Attachment, ...] = ()
    sent_at: dt.datetime | None = None
    locale: str | None = None
    action: Action | None = None
    payload: str | None = None
    edited: bool = False
    reply_to: tuple[str, ...] = ()
    thread_hint: int | None = None
    automated: bool = False
    bounce: bool = False
    subject: str | None = None
    original_text: str | None = None
    masked: bool = False
    """Card numbers in the text were masked on arrival (`bot.card_numbers`)."""
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    action: Action
    payload: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"label": self.label, "action": self.action.value, "payload": self.payload}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Button:
        return cls(label=data["label"], action=Action(data["action"]), payload=data.get("payload"))


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A reply to send. `outbound_id` is our stored message id: channels derive
    idempotency keys from it (VK `random_id`, email `Message-ID`)."""

    channel: ChannelKind
    chat_id: str
    text: str
    outbound_id: int
    buttons: tuple[Button, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    subject: str | None = None
    reply_to: tuple[str, ...] = ()
    conversation_id: int | None = None
    auto_reply: bool = False
    request_contact: bool = False
    resent: bool = False
    """Left pending by an earlier run that may have got it through: a channel without an
    idempotency key checks its send ledger first."""


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    platform_message_id: str | None


class DeliveryFault(str, enum.Enum):
    """Why a message was not delivered, in the terms a desk acts on: each has a Russian
    and English text for the operators; the error's own words stay for the log."""

    RECIPIENT = "recipient"
    """The client cannot receive it: the bot is blocked, the chat or address is gone."""
    CONTENT = "content"
    """The platform refused the message itself (too long, a format it will not take)."""
    FILE = "file"
    """A file it carries is not kept here, cannot be read, or is too big to send."""
    CONFIGURATION = "configuration"
    """The channel is not configured, or its token or access is refused."""
    UNREACHABLE = "unreachable"
    """The platform did not take it (network, outage, rate limit) before giving up."""


class DeliveryError(Exception):
    """The channel gave up on a message after its retries; `permanent` when retrying later
    cannot help (blocked bot, unknown chat, rejected address); `retry_after` when the
    platform said how many seconds to wait before the next try; `fault` says why in the
    desk's terms."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        fault: DeliveryFault = DeliveryFault.UNREACHABLE,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after
        self.fault = fault


InboundSink = Callable[[Sequence[InboundMessage]], Awaitable[None]]
"""Stores the messages, in order, and acts on them; returns once all are stored."""


class ShowsTyping(Protocol):
    """A channel that can show the client that someone is writing to them (for a few
    seconds, or until the next message)."""

    async def typing(self, chat_id: str) -> None: ...


class ChannelAdapter(Protocol):
    """What the gateway needs from a channel: receive until cancelled, send, close."""

    kind: ChannelKind

    async def run(self, sink: InboundSink) -> None: ...

    async def send(self, message: OutboundMessage) -> DeliveryReceipt: ...

    async def aclose(self) -> None: ...
