"""The short paths for messages that change earlier rows: a client's edit, and a delivery
report about one of our letters. Each is its own unit of work."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.contracts import DeliveryFault, InboundMessage
from core.events import DeskFeed, record
from core.messages import add_message
from core.models import Author, Conversation, Delivery, Direction, EventKind, Message

__all__ = ["apply_edit", "record_bounce"]


async def apply_edit(
    session: AsyncSession, feed: DeskFeed, inbound: InboundMessage, now: dt.datetime
) -> bool:
    """The edited text replaces the stored one (the first text is kept) and the operators
    are told. False when the original never reached us: the edit is then a new message."""
    message = await session.scalar(
        select(Message).where(
            Message.channel == inbound.channel,
            Message.direction == Direction.IN,
            Message.channel_message_id == inbound.platform_message_id,
        )
    )
    if message is None:
        return False
    message.original_text = message.original_text or message.text
    message.text = inbound.text
    message.edited_at = now
    await session.commit()
    await feed.publish(
        "client_message",
        conversation_id=message.conversation_id,
        message_id=message.id,
        edited=True,
    )
    return True


async def record_bounce(
    session: AsyncSession, feed: DeskFeed, inbound: InboundMessage, now: dt.datetime
) -> bool:
    """A delivery report about one of our letters: recorded on that letter's conversation
    (the report's sender is a mail robot, not the client), the letter marked failed,
    the operator told. False when the returned letter is not ours."""
    returned = (
        await session.scalar(
            select(Message)
            .where(
                Message.channel == inbound.channel,
                Message.direction == Direction.OUT,
                Message.channel_message_id.in_(inbound.reply_to),
            )
            .order_by(Message.id.desc())
            .limit(1)
        )
        if inbound.reply_to
        else None
    )
    conversation = await session.get(Conversation, returned.conversation_id) if returned else None
    if returned is None or conversation is None:
        return False
    add_message(
        session,
        conversation_id=conversation.id,
        channel=inbound.channel,
        direction=Direction.IN,
        author=Author.SYSTEM,
        text=inbound.text,
        original_text=inbound.original_text,
        automated=True,
        channel_message_id=inbound.platform_message_id,
        created_at=now,
    )
    returned.delivery = Delivery.FAILED
    returned.delivery_error = f"bounced: {inbound.text[:500]}"
    returned.delivery_fault = DeliveryFault.RECIPIENT
    record(session, conversation, EventKind.BOUNCED, now, message_id=returned.id)
    try:
        await session.commit()
    except IntegrityError:  # this report was stored before: processed once
        await session.rollback()
        return True
    await feed.publish(
        "undelivered",
        conversation_id=conversation.id,
        message_id=returned.id,
        operator_id=conversation.assigned_operator_id,
        author=returned.author.value,
        error="bounced",
        fault=DeliveryFault.RECIPIENT.value,
    )
    return True
