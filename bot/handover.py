"""Handing a waiting conversation to an operator, and recording that they hold it.

An operator takes a conversation (pull: `next`, `take N`, a card's Take button), or, when
the desk turns auto-assignment on, the dispatcher pushes it to the available operator of
its group with the most free capacity (when it is queued, when an operator comes online
or frees a slot). Either way the outcome is recorded the same way: ASSIGNED with the
operator, a TAKEN event, a desk notice, and in a chat the client is told which operator
answers them now (a letter is not sent for that alone: the operator's reply says it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from bot.outbox import Outbox
from core.contracts import ChannelKind
from core.db import SessionFactory
from core.events import DeskFeed, record
from core.lifecycle import move
from core.messages import add_reply
from core.models import Author, Client, Conversation, ConversationStatus, EventKind, Operator
from core.texts import say
from core.unit_of_work import AppendedRow
from routing.assignment import Assignment, Dispatcher
from routing.queue import QueueEntry
from routing.service_levels import ServiceLevel

__all__ = ["Handover", "mark_queued", "mark_taken", "tell_who_answers"]


def mark_queued(
    session: AsyncSession,
    conversation: Conversation,
    level: ServiceLevel,
    reason: str,
    at: dt.datetime,
) -> None:
    """The database side of a hand-off: QUEUED with its service level, and the events; the
    queue entry is made after the commit."""
    conversation.group = level.group
    conversation.priority = level.priority
    conversation.sla_deadline = level.deadline
    conversation.queued_at = at
    move(
        session,
        conversation,
        ConversationStatus.QUEUED,
        at,
        event=EventKind.HANDED_OFF,
        reason=reason,
    )
    record(
        session,
        conversation,
        EventKind.QUEUED,
        at,
        deadline=level.deadline.isoformat(),
        priority=level.priority,
    )


async def mark_taken(
    session: AsyncSession,
    conversation: Conversation,
    operator: Operator,
    at: dt.datetime,
    *,
    pushed: bool = False,
    tell_client: bool = True,
) -> AppendedRow | None:
    """The database side of a take, and `tell_who_answers` unless the caller tells the client
    itself; the caller hands the notice to the outbox after the commit."""
    conversation.assigned_operator_id = operator.id
    conversation.updated_at = at
    move(
        session,
        conversation,
        ConversationStatus.ASSIGNED,
        at,
        event=EventKind.TAKEN,
        operator_id=operator.id,
        pushed=pushed,
    )
    return await tell_who_answers(session, conversation, operator, at) if tell_client else None


async def tell_who_answers(
    session: AsyncSession, conversation: Conversation, operator: Operator, at: dt.datetime
) -> AppendedRow | None:
    """«Вам отвечает оператор Анна.» to the client of a conversation an operator now holds
    (taken, pushed or transferred to them), to be sent after the commit; none by email."""
    if conversation.last_channel is ChannelKind.EMAIL:
        return None
    client = await session.get(Client, conversation.client_id)
    return await add_reply(
        session,
        conversation,
        text=say("operator_joined", client.language if client else None, operator=operator.name),
        author=Author.BOT,
        at=at,
    )


class Handover:
    def __init__(
        self,
        *,
        sessions: SessionFactory,
        dispatcher: Dispatcher,
        outbox: Outbox,
        feed: DeskFeed,
        clock: Callable[[], dt.datetime],
        push: bool,
    ) -> None:
        self._sessions = sessions
        self._dispatcher = dispatcher
        self._outbox = outbox
        self._push = push
        self._feed = feed
        self._clock = clock

    async def submit(self, entry: QueueEntry) -> Operator | None:
        """Queue `entry` and push what its group can hand out now; the operator who got
        `entry` itself, if anyone did (the caller's hand-off reply names them)."""
        if not self._push:
            await self._dispatcher.queue.enqueue(entry)
            return None
        submitted = await self._dispatcher.submit(entry)
        operators = await self._record(submitted.assignments, told=entry.conversation_id)
        return operators.get(entry.conversation_id)

    async def dispatch(self, groups: Iterable[str]) -> None:
        """An operator came online or freed a slot: push what waits in their groups."""
        if not self._push:
            return
        for group in groups:
            await self._record(await self._dispatcher.dispatch(group))

    async def _record(
        self, assignments: list[Assignment], *, told: int | None = None
    ) -> dict[int, Operator]:
        """Record the pushes; each client hears who answers them, but `told`'s."""
        now = self._clock()
        holders: dict[int, Operator] = {}
        notices: list[AppendedRow] = []
        async with self._sessions() as session:
            for assignment in assignments:
                conversation = await session.get(Conversation, assignment.entry.conversation_id)
                operator = await session.get(Operator, assignment.operator_id)
                if conversation is None or operator is None:
                    continue
                if conversation.status is ConversationStatus.CLOSED:  # withdrawn or merged
                    await self._dispatcher.queue.remove(conversation.id)  # before Redis heard
                    continue
                notice = await mark_taken(
                    session,
                    conversation,
                    operator,
                    now,
                    pushed=True,
                    tell_client=conversation.id != told,
                )
                if notice is not None:
                    notices.append(notice)
                holders[conversation.id] = operator
            await session.commit()
        self._outbox.submit([notice.id for notice in notices])
        for conversation_id, operator in holders.items():
            await self._feed.publish(
                "taken",
                conversation_id=conversation_id,
                operator_id=operator.id,
                operator=operator.name,
                pushed=True,
            )
        return holders
