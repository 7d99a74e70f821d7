"""Queueing a reply to a client: the one place an outbound message row is made.

The reply goes to the channel and identity of the client's latest message unless the
caller names another identity. It is stored PENDING; `Outbox` sends it after the commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from bot.contracts import Attachment, Button
from bot.models import Author, Conversation, Delivery, Direction, Identity, Message

__all__ = ["add_reply"]


async def add_reply(session: AsyncSession, conversation: Conversation, *, text: str, author: Author,
                    at: dt.datetime, buttons: Sequence[Button] = (),
                    attachments: Sequence[Attachment] = (), operator_id: int | None = None,
                    identity: Identity | None = None, kb_article_id: str | None = None,
                    kb_score: float | None = None) -> Message:
    """The reply, added to the unit of work. Its id exists after the next flush: a caller
    that needs it now flushes; the engine flushes a whole batch of messages once."""
    target = identity or await session.get(Identity, conversation.last_identity_id)
    assert target is not None, "a conversation always has the identity of its last message"
    message = Message(
        conversation_id=conversation.id, identity_id=target.id, channel=target.channel,
        direction=Direction.OUT, author=author, operator_id=operator_id, text=text,
        attachments=[a.as_json() for a in attachments],
        buttons=[b.as_json() for b in buttons], automated=False,
        delivery=Delivery.PENDING, kb_article_id=kb_article_id, kb_score=kb_score, created_at=at,
    )
    session.add(message)
    conversation.updated_at = at
    return message

