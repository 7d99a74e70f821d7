"""Queueing a reply to a client, and the one place a message row is made for it.

The reply goes to the channel and identity of the client's latest message unless the
caller names another identity. It is stored PENDING; the outbox sends it after the commit.
Messages are append-only rows of the unit of work (`core.unit_of_work`): their ids exist
after the next flush.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.card_numbers import mask_card_numbers
from core.contracts import Attachment, Button
from core.models import Author, Base, Conversation, Delivery, Direction, Identity, Message
from core.unit_of_work import AppendedRow, append_row

__all__ = ["SEND_LEASE", "add_message", "add_note", "add_reply"]

SEND_LEASE = dt.timedelta(seconds=30)
"""How long a PENDING reply belongs to whoever is sending it: a new reply is taken by the
outbox's sweeper only if it is still PENDING this long after it was made, a retried one
this long after the sweeper took it. The process sending it renews the lease every third
of it (`bot.delivery_claims.DeliveryClaims.hold`), so the lease runs out only when that process
died or lost the database for that long."""

MESSAGES = Base.metadata.tables[Message.__tablename__]
_UNSET: dict[str, Any] = {
    "identity_id": None,
    "operator_id": None,
    "text": "",
    "original_text": None,
    "attachments": [],
    "action": None,
    "buttons": [],
    "channel_message_id": None,
    "reply_address": None,
    "private": False,
    "automated": False,
    "delivery": None,
    "delivery_error": None,
    "delivery_fault": None,
    "kb_article_id": None,
    "kb_score": None,
    "edited_at": None,
    "delivered_at": None,
    "attempts": 0,
    "next_attempt_at": None,
}
"""Every column a caller may leave out, so that all message rows of a batch have the same
columns and share one INSERT."""


def add_message(session: AsyncSession, **values: Any) -> AppendedRow:
    """A message row, written with the session's next flush; a card number in its text,
    anyone's, is kept masked (`core.card_numbers`)."""
    if values.get("text"):
        values["text"] = mask_card_numbers(values["text"])
    return append_row(session, MESSAGES, {**_UNSET, **values})


async def add_reply(
    session: AsyncSession,
    conversation: Conversation,
    *,
    text: str,
    author: Author,
    at: dt.datetime,
    buttons: Sequence[Button] = (),
    attachments: Sequence[Attachment] = (),
    operator_id: int | None = None,
    identity: Identity | None = None,
    kb_article_id: str | None = None,
    kb_score: float | None = None,
) -> AppendedRow:
    """The reply, added to the unit of work. Its id exists after the next flush: a caller
    that needs it now flushes; the engine flushes a whole batch of messages once."""
    target = identity or await session.get(Identity, conversation.last_identity_id)
    assert target is not None, "a conversation always has the identity of its last message"
    conversation.updated_at = at
    return add_message(
        session,
        conversation_id=conversation.id,
        identity_id=target.id,
        channel=target.channel,
        direction=Direction.OUT,
        author=author,
        operator_id=operator_id,
        text=text,
        attachments=[a.as_json() for a in attachments],
        buttons=[b.as_json() for b in buttons],
        delivery=Delivery.PENDING,
        next_attempt_at=at + SEND_LEASE,
        kb_article_id=kb_article_id,
        kb_score=kb_score,
        created_at=at,
    )


def add_note(
    session: AsyncSession,
    conversation: Conversation,
    *,
    text: str,
    at: dt.datetime,
    author: Author = Author.OPERATOR,
    operator_id: int | None = None,
) -> AppendedRow:
    """A private line in the thread, for operators only: stored, never sent to the client."""
    return add_message(
        session,
        conversation_id=conversation.id,
        channel=conversation.last_channel,
        direction=Direction.OUT,
        author=author,
        operator_id=operator_id,
        text=text,
        private=True,
        created_at=at,
    )
