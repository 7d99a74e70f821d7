"""The PENDING replies read back from the database, ready to send: each as the
`OutboundMessage` its channel takes (where it goes and, for an email, its subject and the
thread it continues)."""

from __future__ import annotations

import logging

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.contracts import Action, Attachment, Button, ChannelKind, OutboundMessage
from core.db import SessionFactory
from core.models import Author, Conversation, Delivery, Direction, Identity, Message

__all__ = ["LOAD_CHUNK", "Chat", "read_pending"]

log = logging.getLogger(__name__)
THREAD_DEPTH = 10
LOAD_CHUNK = 500
"""Messages read per query (a long list of pending ones at start-up goes in parts)."""
_PENDING_TO_SEND = (
    select(Message, Conversation, Identity)
    .join(Conversation, Conversation.id == Message.conversation_id)
    .join(Identity, Identity.id == Message.identity_id)
    .where(
        Message.id.in_(bindparam("message_ids", expanding=True)),
        Message.delivery == Delivery.PENDING,
    )
)
"""Built once: every committed run's replies are read back with it (a statement built per
call with an IN list left its bound parameters as cyclic garbage)."""

Chat = tuple[ChannelKind, str]
"""Where a reply goes: the channel and the chat in it."""


async def read_pending(
    sessions: SessionFactory, message_ids: list[int], *, resent: bool = False
) -> dict[int, OutboundMessage]:
    """The PENDING ones among `message_ids`, ready to send; none when the database
    cannot be read (they stay PENDING and the sweeper takes them later). `resent`: tried
    before, maybe got through (the channel skips pieces its ledger knows)."""
    loaded: dict[int, OutboundMessage] = {}
    try:
        async with sessions() as session:
            for start in range(0, len(message_ids), LOAD_CHUNK):
                rows = await session.execute(
                    _PENDING_TO_SEND, {"message_ids": message_ids[start : start + LOAD_CHUNK]}
                )
                for row in rows:
                    loaded[row[0].id] = await _outbound(session, *row, resent=resent)
    except Exception:
        log.exception("reading %d messages to send failed; they stay pending", len(message_ids))
    return loaded


async def _outbound(
    session: AsyncSession,
    message: Message,
    conversation: Conversation,
    identity: Identity,
    *,
    resent: bool,
) -> OutboundMessage:
    buttons = tuple(Button.from_json(b) for b in message.buttons)
    subject = reply_to = answer_to = None
    if identity.channel is ChannelKind.EMAIL:
        answer_to = await session.scalar(  # the Reply-To of the letter this answers
            select(Message.reply_address)
            .where(
                Message.conversation_id == conversation.id,
                Message.identity_id == identity.id,
                Message.direction == Direction.IN,
                Message.id < message.id,
            )
            .order_by(Message.id.desc())
            .limit(1)
        )
        topic = conversation.subject or ""
        subject = f"Re: {topic} [#{conversation.id}]" if topic else f"[#{conversation.id}]"
        reply_to = tuple(
            await session.scalars(
                select(Message.channel_message_id)
                .where(
                    Message.conversation_id == conversation.id,
                    Message.channel == ChannelKind.EMAIL,
                    Message.channel_message_id.is_not(None),
                    Message.id < message.id,
                )
                .order_by(Message.id.desc())
                .limit(THREAD_DEPTH)
            )
        )[::-1]
    return OutboundMessage(
        channel=identity.channel,
        chat_id=answer_to or identity.chat_id or identity.external_id,
        text=message.text,
        outbound_id=message.id,
        buttons=buttons,
        attachments=tuple(Attachment.from_json(a) for a in message.attachments),
        subject=subject,
        reply_to=tuple(x for x in (reply_to or ()) if x),
        conversation_id=conversation.id,
        auto_reply=message.author is Author.BOT,
        request_contact=any(b.action is Action.CONTACT for b in buttons),
        resent=resent,
    )
