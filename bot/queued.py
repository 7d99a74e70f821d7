"""A client who writes while operators have the question hears back once, not once per message.

In the queue, the first message after the hand-off gets "your question is in the queue, the
operator will see this too"; later ones in the same wait are stored and shown to the
operators in silence. With an operator on it, asking for a person again (the button or
«оператор!») gets "Anna already has your question" once while Anna holds it, instead of
silence. Each acknowledgement is an event of the conversation, so the operator's thread and
the reports see it, and a new wait or holder (requeued, taken, transferred) earns a new one.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.events import record
from core.models import Conversation, ConversationEvent, EventKind

__all__ = ["acknowledge_held", "acknowledge_queued"]

_NEW_HOLDER = (EventKind.TAKEN, EventKind.TRANSFERRED, EventKind.REOPENED)
"""Events after which the conversation's operator may be another one."""


async def acknowledge_queued(
    session: AsyncSession, conversation: Conversation, now: dt.datetime
) -> bool:
    """True (and the acknowledgement recorded) when this wait has none yet."""
    waiting_since = conversation.queued_at or conversation.created_at
    return await _once(
        session,
        conversation,
        EventKind.QUEUE_ACKNOWLEDGED,
        ConversationEvent.at >= waiting_since,
        now,
    )


async def acknowledge_held(
    session: AsyncSession, conversation: Conversation, now: dt.datetime
) -> bool:
    """True (and recorded) when the client has not yet been told who holds the conversation
    since its operator last got it (events in order of their ids: a clock may not tick)."""
    holder_change = aliased(ConversationEvent)  # not the outer query's rows
    held_since = (
        select(func.max(holder_change.id))
        .where(
            holder_change.conversation_id == conversation.id,
            holder_change.kind.in_(_NEW_HOLDER),
        )
        .scalar_subquery()
    )
    return await _once(
        session,
        conversation,
        EventKind.HOLDER_ACKNOWLEDGED,
        ConversationEvent.id > func.coalesce(held_since, 0),
        now,
    )


async def _once(
    session: AsyncSession,
    conversation: Conversation,
    kind: EventKind,
    since: ColumnElement[bool],
    now: dt.datetime,
) -> bool:
    await session.flush()  # an acknowledgement (or a take) earlier in this batch counts
    done = await session.scalar(
        select(ConversationEvent.id)
        .where(
            ConversationEvent.conversation_id == conversation.id,
            ConversationEvent.kind == kind,
            since,
        )
        .limit(1)
    )
    if done is not None:
        return False
    record(session, conversation, kind, now)
    return True
