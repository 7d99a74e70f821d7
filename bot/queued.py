"""A client who writes while operators have the question hears back once, not once per message.

In the queue, the first message after the hand-off gets "your question is in the queue, the
operator will see this too"; later ones in the same wait are stored and shown to the
operators in silence. With an operator on it, asking for a person again (the button or
«оператор!») gets "Anna already has your question" once while Anna holds it, instead of
silence. Each acknowledgement is an event of the conversation, so the operator's thread and
the reports see it, and a new wait or holder (requeued, taken, transferred) earns a new one.

A queued client asking how long the wait is («сколько ждать?», «оператор!» again) is told
their place and the deadline (`tell_place`), at most once in `PLACE_REPEAT`: asking again
at once adds nothing the operators do not see.

`answered_while_queued` tells whether the bot answered from the knowledge base during this
wait: then a client's thanks, or «помогло», is about that answer (bot/pipeline/recognise.py).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.events import record
from core.models import Conversation, ConversationEvent, EventKind

__all__ = [
    "PLACE_REPEAT",
    "acknowledge_held",
    "acknowledge_queued",
    "answered_while_queued",
    "tell_place",
]

PLACE_REPEAT = dt.timedelta(minutes=3)

_NEW_HOLDER = (EventKind.TAKEN, EventKind.TRANSFERRED, EventKind.REOPENED)
"""Events after which the conversation's operator may be another one."""
_NEW_WAIT = (EventKind.HANDED_OFF, EventKind.QUEUED, EventKind.REQUEUED, EventKind.TRANSFERRED)
"""Events after which the conversation waits in a queue anew."""


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


async def tell_place(session: AsyncSession, conversation: Conversation, now: dt.datetime) -> bool:
    """True (and recorded, as this wait's acknowledgement too) when the client was not told
    their place in the last `PLACE_REPEAT`."""
    if not await _once(
        session, conversation, EventKind.PLACE_TOLD, ConversationEvent.at > now - PLACE_REPEAT, now
    ):
        return False
    await acknowledge_queued(session, conversation, now)
    return True


async def acknowledge_held(
    session: AsyncSession, conversation: Conversation, now: dt.datetime
) -> bool:
    """True (and recorded) when the client has not yet been told who holds the conversation
    since its operator last got it (events in order of their ids: a clock may not tick)."""
    return await _once(
        session,
        conversation,
        EventKind.HOLDER_ACKNOWLEDGED,
        _after_latest(conversation, _NEW_HOLDER),
        now,
    )


async def answered_while_queued(session: AsyncSession, conversation: Conversation) -> bool:
    """The bot answered from the knowledge base since the conversation last entered the
    queue (events in order of their ids, as above)."""
    return await _has(
        session, conversation, EventKind.BOT_ANSWERED, _after_latest(conversation, _NEW_WAIT)
    )


def _after_latest(conversation: Conversation, kinds: tuple[EventKind, ...]) -> ColumnElement[bool]:
    """Events of the conversation after its latest one of `kinds` (all when it has none)."""
    latest = aliased(ConversationEvent)  # not the outer query's rows
    since = (
        select(func.max(latest.id))
        .where(latest.conversation_id == conversation.id, latest.kind.in_(kinds))
        .scalar_subquery()
    )
    return ConversationEvent.id > func.coalesce(since, 0)


async def _once(
    session: AsyncSession,
    conversation: Conversation,
    kind: EventKind,
    since: ColumnElement[bool],
    now: dt.datetime,
) -> bool:
    if await _has(session, conversation, kind, since):
        return False
    record(session, conversation, kind, now)
    return True


async def _has(
    session: AsyncSession, conversation: Conversation, kind: EventKind, since: ColumnElement[bool]
) -> bool:
    await session.flush()  # an event earlier in this batch (an answer, a take) counts
    found = await session.scalar(
        select(ConversationEvent.id)
        .where(
            ConversationEvent.conversation_id == conversation.id,
            ConversationEvent.kind == kind,
            since,
        )
        .limit(1)
    )
    return found is not None
