"""The queue as an operator sees it: what waits in their groups, what is about to breach
its SLA, and what they hold.

Reading it costs a fixed number of queries however long the queue is: the conversations
with their clients in one, every row's last client words in another; the places in the
queue come from the one Redis read of the waiting list.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from admin.desk.lookup import active_operator
from admin.desk.views import QueueRow, QueueView, client_name, is_anonymous
from core.db import SessionFactory
from core.models import Author, Client, Conversation, ConversationStatus, Message
from routing.queue import OperatorQueue

__all__ = ["BREACHING_SOON", "PREVIEW_CHARS", "QueueListing"]

BREACHING_SOON = dt.timedelta(minutes=15)
PREVIEW_CHARS = 200


class QueueListing:
    def __init__(
        self,
        *,
        sessions: SessionFactory,
        queue: OperatorQueue,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self._sessions = sessions
        self._queue = queue
        self._clock = clock

    def now(self) -> dt.datetime:
        """The desk's time, which the rows' waits and deadlines count from: a console sets
        its own clock by it."""
        return self._clock()

    async def rows(self, operator_id: int, view: QueueView = "waiting") -> list[QueueRow]:
        """`waiting`: the queue of the operator's groups in take order; `breaching`: those
        of them due within `BREACHING_SOON`; `mine`: what the operator holds."""
        operator = await active_operator(self._sessions, operator_id)
        now = self._clock()
        if view == "mine":
            async with self._sessions() as session:
                held = await session.scalars(
                    select(Conversation.id)
                    .where(
                        Conversation.assigned_operator_id == operator.id,
                        Conversation.status == ConversationStatus.ASSIGNED,
                    )
                    .order_by(Conversation.id)
                )
                places = {conversation_id: n for n, conversation_id in enumerate(held, 1)}
                return await _rows(session, places, now)
        groups = set(operator.group_names)
        waiting = await self._queue.waiting()
        seen: Counter[str] = Counter()
        places = {}
        for entry in waiting:  # in take order: a place in its group is the count so far
            seen[entry.group] += 1
            if entry.group in groups and (
                view != "breaching" or entry.deadline - now <= BREACHING_SOON
            ):
                places[entry.conversation_id] = seen[entry.group]
        async with self._sessions() as session:
            return await _rows(session, places, now)


async def _rows(session: AsyncSession, places: dict[int, int], now: dt.datetime) -> list[QueueRow]:
    """Rows for the conversations in `places` (id → place in the queue), in its order;
    a conversation gone from the database is left out."""
    if not places:
        return []
    ids = list(places)
    found = {
        conversation.id: (conversation, client)
        for conversation, client in await session.execute(
            select(Conversation, Client)
            .outerjoin(Client, Client.id == Conversation.client_id)
            .where(Conversation.id.in_(ids))
        )
    }
    said = await _last_words(session, ids)
    rows = []
    for conversation_id in ids:
        if conversation_id not in found:
            continue
        conversation, client = found[conversation_id]
        last_text, last_action, last_words = said.get(conversation_id, ("", None, None))
        rows.append(
            QueueRow(
                conversation_id=conversation.id,
                position=places[conversation_id],
                group=conversation.group or "",
                priority=conversation.priority,
                client_id=conversation.client_id,
                client_name=client_name(client),
                channel=conversation.last_channel.value,
                category=conversation.category,
                waited=now - (conversation.queued_at or conversation.created_at),
                deadline=conversation.sla_deadline or now,
                status=conversation.status.value,
                preview=(last_text or last_words or "")[:PREVIEW_CHARS],
                anonymous=is_anonymous(client),
                preview_action=last_action if not last_text else None,
            )
        )
    return rows


async def _last_words(
    session: AsyncSession, conversation_ids: Sequence[int]
) -> dict[int, tuple[str, str | None, str | None]]:
    """Per conversation, the client's last message (its text and action) and their last
    words (the latest message with text: shown when the last step was a button)."""
    client_said = (
        select(
            Message.conversation_id,
            func.max(Message.id).label("last_id"),
            func.max(case((Message.text != "", Message.id))).label("words_id"),
        )
        .where(Message.conversation_id.in_(conversation_ids), Message.author == Author.CLIENT)
        .group_by(Message.conversation_id)
        .subquery()
    )
    last, words = aliased(Message), aliased(Message)
    found = await session.execute(
        select(client_said.c.conversation_id, last.text, last.action, words.text)
        .join(last, last.id == client_said.c.last_id)
        .outerjoin(words, words.id == client_said.c.words_id)
    )
    return {
        conversation_id: (text, action, words_text)
        for conversation_id, text, action, words_text in found
    }
