"""What a web visitor sees when their page opens: their conversation so far.

The history belongs to the client, not to the browser: a visitor recognised as the same
person as a Telegram or email sender sees those messages too (each marked with its
channel). Operators' private notes and mail from robots are never shown. The files of
the messages it shows open for that visitor only (`web_files`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select

from core.contracts import Attachment, Button, ChannelKind
from core.db import SessionFactory
from core.history import HistoryItem, history_item_id
from core.models import Conversation, Direction, Identity, Message

__all__ = ["HISTORY_LIMIT", "web_files", "web_history"]

HISTORY_LIMIT = 200
_CLIENT_OF_VISITOR = select(Identity.client_id).where(
    Identity.channel == ChannelKind.WEB, Identity.external_id == bindparam("visitor")
)
"""Built once: every page that opens asks it, most of them for a visitor the desk has
never seen."""


async def web_history(
    sessions: SessionFactory, visitor_id: str, limit: int = HISTORY_LIMIT
) -> list[HistoryItem]:
    """The last `limit` messages of the client behind this web visitor, oldest first."""
    async with sessions() as session:
        client_id = await session.scalar(_CLIENT_OF_VISITOR, {"visitor": visitor_id})
        if client_id is None:
            return []
        newest_first = (
            await session.execute(
                select(Message, Conversation.rating)
                .join(Conversation, Message.conversation_id == Conversation.id)
                .where(
                    Conversation.client_id == client_id,
                    Message.private.is_(False),
                    Message.automated.is_(False),
                )
                .order_by(Message.id.desc())
                .limit(limit)
            )
        ).all()
        return [_item(message, rating) for message, rating in reversed(newest_first)]


async def web_files(
    sessions: SessionFactory, visitor_id: str, message_id: int
) -> list[dict[str, Any]] | None:
    """The attachments of a message the web visitor's page shows (their client's, not an
    operators' note), for the visitor to open; None for any other message."""
    async with sessions() as session:
        client_id = await session.scalar(_CLIENT_OF_VISITOR, {"visitor": visitor_id})
        if client_id is None:
            return None
        message = await session.scalar(
            select(Message)
            .join(Conversation, Message.conversation_id == Conversation.id)
            .where(
                Message.id == message_id,
                Conversation.client_id == client_id,
                Message.private.is_(False),
            )
        )
    return list(message.attachments or []) if message is not None else None


def _item(message: Message, rating: int | None) -> HistoryItem:
    """A stored message as the page shows it; the client's rating press carries the score
    they gave (the page says «Ваша оценка: 5», as it did when they pressed it)."""
    return HistoryItem(
        id=history_item_id(
            message_id=message.id,
            channel_message_id=message.channel_message_id,
            inbound_web=message.direction is Direction.IN and message.channel is ChannelKind.WEB,
        ),
        author=message.author.value,
        text=message.text,
        at=message.created_at,
        buttons=tuple(Button.from_json(b) for b in message.buttons or ()),
        attachments=tuple(Attachment.from_json(a) for a in message.attachments or ()),
        action=message.action,
        channel=message.channel.value,
        conversation_id=message.conversation_id,
        payload=f"{message.conversation_id}:{rating}"
        if message.action == "rate" and rating
        else None,
        stored_id=message.id,
    )
