"""A client who writes while waiting for an operator hears back once, not once per message.

The first message after the hand-off gets "your question is in the queue, the operator will
see this too"; later ones in the same wait are stored and shown to the operators in
silence. The acknowledgement is an event of the conversation, so the operator's thread and
the reports see it, and a new wait (requeued, transferred) earns a new one.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.events import record
from core.models import Conversation, ConversationEvent, EventKind

__all__ = ["acknowledge_queued"]


async def acknowledge_queued(
    session: AsyncSession, conversation: Conversation, now: dt.datetime
) -> bool:
    """True (and the acknowledgement recorded) when this wait has none yet."""
    waiting_since = conversation.queued_at or conversation.created_at
    await session.flush()  # an acknowledgement recorded earlier in this batch counts
    done = await session.scalar(
        select(ConversationEvent.id)
        .where(
            ConversationEvent.conversation_id == conversation.id,
            ConversationEvent.kind == EventKind.QUEUE_ACKNOWLEDGED,
            ConversationEvent.at >= waiting_since,
        )
        .limit(1)
    )
    if done is not None:
        return False
    record(session, conversation, EventKind.QUEUE_ACKNOWLEDGED, now)
    return True
