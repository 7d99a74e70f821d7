"""The conversation lifecycle: the one place a conversation's status changes.

Reports, the queue rebuild and the desk all read a conversation's history from its
events, so a status change without its event (or an event without its change) silently
corrupts them. Every writer therefore goes through `move` (one object) or `guarded_update`
(a bulk UPDATE), which check the change against `TRANSITIONS` and, for `move`, record the
event in the same unit of work. The table is documented in docs/architecture.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Update, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.events import record
from core.models import Conversation, ConversationStatus, EventKind

__all__ = ["IllegalTransition", "TRANSITIONS", "guarded_update", "move", "untouched"]

_S, _E = ConversationStatus, EventKind

# (from, to) -> the events such a change may record; the first is the usual one.
TRANSITIONS: Mapping[tuple[ConversationStatus, ConversationStatus], tuple[EventKind, ...]] = {
    (_S.BOT, _S.QUEUED): (_E.HANDED_OFF,),
    (_S.BOT, _S.CLOSED): (_E.CLOSED, _E.MERGED),
    (_S.QUEUED, _S.ASSIGNED): (_E.TAKEN,),
    (_S.QUEUED, _S.CLOSED): (_E.CLOSED, _E.MERGED),
    (_S.ASSIGNED, _S.ASSIGNED): (_E.TAKEN, _E.TRANSFERRED),
    (_S.ASSIGNED, _S.QUEUED): (_E.TRANSFERRED, _E.LEASE_EXPIRED),
    (_S.ASSIGNED, _S.CLOSED): (_E.CLOSED, _E.MERGED),
    (_S.CLOSED, _S.BOT): (_E.REOPENED,),
    (_S.CLOSED, _S.QUEUED): (_E.REOPENED,),
    (_S.CLOSED, _S.ASSIGNED): (_E.REOPENED,),
}


class IllegalTransition(Exception):
    """A status change the lifecycle does not allow: a bug in the caller, never data."""

    def __init__(
        self,
        source: ConversationStatus | None,
        target: ConversationStatus,
        event: EventKind | None,
        conversation_id: int | None = None,
    ) -> None:
        self.source, self.target, self.event = source, target, event
        allowed = (
            ", ".join(e.value for e in TRANSITIONS.get((source, target), ())) if source else "none"
        )
        super().__init__(
            f"conversation {conversation_id}: {source.value if source else 'any'} -> {target.value}"
            f"{f' with {event.value}' if event else ''} is not allowed"
            f" (events allowed: {allowed or 'none'})"
        )


def _event_for(
    source: ConversationStatus,
    target: ConversationStatus,
    event: EventKind | None,
    conversation_id: int,
) -> EventKind:
    allowed = TRANSITIONS.get((source, target), ())
    if not allowed or (event is not None and event not in allowed):
        raise IllegalTransition(source, target, event, conversation_id)
    return event or allowed[0]


def move(
    session: AsyncSession,
    conversation: Conversation,
    to: ConversationStatus,
    at: dt.datetime,
    *,
    event: EventKind | None = None,
    operator_id: int | None = None,
    **data: Any,
) -> None:
    """Change the status and record its event in the session's unit of work; a closed
    conversation is resolved at `at`, a reopened one no longer is. Set the fields the
    event copies (group, category, channel) first."""
    kind = _event_for(conversation.status, to, event, conversation.id)
    conversation.status = to
    conversation.resolved_at = at if to is ConversationStatus.CLOSED else None
    record(session, conversation, kind, at, operator_id=operator_id, **data)


def guarded_update(to: ConversationStatus, event: EventKind, **values: Any) -> Update:
    """`UPDATE conversations SET status = to` limited to the statuses `to` may be reached
    from with `event`, for changes made in bulk; the caller adds its WHERE and records
    the events of the rows it changed."""
    sources = [
        source
        for (source, target), events in TRANSITIONS.items()
        if target is to and event in events
    ]
    if not sources:
        raise IllegalTransition(None, to, event)
    return update(Conversation).where(Conversation.status.in_(sources)).values(status=to, **values)


async def untouched(
    session: AsyncSession, status: ConversationStatus, since: dt.datetime
) -> list[Conversation]:
    """The conversations in `status` that nothing was written to since `since`: what the
    idle closers look at."""
    return list(
        await session.scalars(
            select(Conversation).where(
                Conversation.status == status, Conversation.updated_at < since
            )
        )
    )
