"""Working a conversation: taking it, answering, noting and closing it.

The Redis queue decides races (who takes a conversation first, capacity); the database
records the outcome; the client hears from the operator in the channel they last wrote
from, sent by the outbox after the commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.desk.conversations import Conversations
from admin.desk.errors import DeskError
from admin.desk.lookup import (
    active_operator,
    find_conversation,
    held_conversation,
    identity_via,
    stored,
)
from admin.desk.operators import Operators
from admin.desk.presence import Availability
from admin.desk.views import ConversationView, MessageView, message_view
from bot.handover import mark_taken
from bot.outbox import Outbox
from core.contracts import Action, Attachment, Button, ChannelKind
from core.db import SessionFactory
from core.events import DeskFeed, record
from core.lifecycle import move, untouched
from core.messages import add_note, add_reply
from core.models import (
    Author,
    Client,
    Conversation,
    ConversationStatus,
    EventKind,
    Message,
    Operator,
)
from core.texts import say
from core.unit_of_work import AppendedRow
from routing.errors import AlreadyTaken, NotQueued, OverCapacity
from routing.queue import OperatorQueue

__all__ = ["ConversationActions"]

MENTION_SHOWN = 300
"""How much of a note a mentioned colleague is shown (the thread has all of it)."""


class ConversationActions:
    def __init__(
        self,
        *,
        sessions: SessionFactory,
        queue: OperatorQueue,
        outbox: Outbox,
        feed: DeskFeed,
        clock: Callable[[], dt.datetime],
        conversations: Conversations,
        operators: Operators,
        availability: Availability,
    ) -> None:
        self._sessions = sessions
        self._queue = queue
        self._outbox = outbox
        self._feed = feed
        self._clock = clock
        self._conversations = conversations
        self._operators = operators
        self._availability = availability

    # -- taking ---------------------------------------------------------------------------

    async def take_next(self, operator_id: int) -> ConversationView:
        operator = await active_operator(self._sessions, operator_id)
        try:
            entry = await self._queue.take_next(
                operator.id, operator.group_names, operator.capacity
            )
        except OverCapacity:
            raise DeskError("desk_over_capacity", capacity=operator.capacity) from None
        if entry is None:
            raise DeskError("desk_nothing_waiting")
        return await self._assigned(operator, entry.conversation_id)

    async def take(self, operator_id: int, conversation_id: int) -> ConversationView:
        operator = await active_operator(self._sessions, operator_id)
        try:
            await self._queue.take(conversation_id, operator.id, operator.capacity)
        except AlreadyTaken as taken:
            if taken.holder == operator.id:
                return await self._conversations.for_operator(operator_id, conversation_id)
            holder = await self._operators.name(taken.holder)
            raise DeskError("desk_taken", conversation_id=conversation_id, holder=holder) from None
        except OverCapacity:
            raise DeskError("desk_over_capacity", capacity=operator.capacity) from None
        except NotQueued:
            raise DeskError("desk_not_queued", conversation_id=conversation_id) from None
        return await self._assigned(operator, conversation_id)

    async def _assigned(self, operator: Operator, conversation_id: int) -> ConversationView:
        now = self._clock()
        async with self._sessions() as session:
            conversation = await session.get(Conversation, conversation_id)
            if conversation is None:
                await self._queue.remove(conversation_id)
                raise DeskError("desk_not_found", conversation_id=conversation_id)
            if conversation.status is ConversationStatus.CLOSED:  # withdrawn or merged just now
                await self._queue.remove(conversation_id)
                raise DeskError("desk_not_queued", conversation_id=conversation_id)
            notice = await mark_taken(session, conversation, operator, now)
            await session.commit()
        if notice is not None:
            self._outbox.submit([notice.id])
        await self._feed.publish(
            "taken",
            conversation_id=conversation_id,
            operator_id=operator.id,
            operator=operator.name,
        )
        return await self._conversations.for_operator(operator.id, conversation_id)

    async def heartbeat(self, operator_id: int) -> None:
        """Keep the leases of everything the operator holds while their console is open."""
        async with self._sessions() as session:
            held = await session.scalars(
                select(Conversation.id).where(
                    Conversation.assigned_operator_id == operator_id,
                    Conversation.status == ConversationStatus.ASSIGNED,
                )
            )
            for conversation_id in held:
                await self._queue.renew(conversation_id, operator_id)

    # -- answering ------------------------------------------------------------------------

    async def reply(
        self,
        operator_id: int,
        conversation_id: int,
        text: str,
        attachments: Sequence[Attachment] = (),
        *,
        via: ChannelKind | None = None,
        kb_article_id: str | None = None,
    ) -> MessageView:
        """Answer the client in the channel of their latest message, or `via` another
        channel the client has written from."""
        if not text.strip() and not attachments:
            raise DeskError("desk_empty_reply")
        now = self._clock()
        async with self._sessions() as session:
            conversation = await held_conversation(session, operator_id, conversation_id)
            identity = await identity_via(session, conversation, via) if via else None
            reply = await add_reply(
                session,
                conversation,
                text=text,
                author=Author.OPERATOR,
                at=now,
                attachments=attachments,
                operator_id=operator_id,
                identity=identity,
                kb_article_id=kb_article_id,
            )
            if conversation.first_response_at is None:
                conversation.first_response_at = now
                record(
                    session, conversation, EventKind.FIRST_RESPONSE, now, operator_id=operator_id
                )
            await session.commit()
            message = await stored(session, reply)
        await self._queue.renew(conversation_id, operator_id)
        self._outbox.submit([message.id])
        return message_view(message)

    async def note(self, operator_id: int, conversation_id: int, text: str) -> MessageView:
        """An internal note: stored in the thread, never sent to the client; a colleague
        it names with an @ is told (a `mentioned` notice: their console, the admin bot)."""
        if not text.strip():
            raise DeskError("desk_empty_reply")
        now = self._clock()
        async with self._sessions() as session:
            conversation = await find_conversation(session, conversation_id)
            note = add_note(session, conversation, text=text, at=now, operator_id=operator_id)
            await session.commit()
            message = await stored(session, note)
        await self._queue.renew(conversation_id, operator_id)
        named = await self._operators.mentioned(text, by=operator_id)
        if named:
            await self._feed.publish(
                "mentioned",
                conversation_id=conversation_id,
                operator_ids=[o.id for o in named],
                names=[o.name for o in named],
                from_operator_id=operator_id,
                from_name=await self._operators.name(operator_id),
                note=text[:MENTION_SHOWN],
            )
        return message_view(message)

    async def close(self, operator_id: int, conversation_id: int) -> None:
        """Close, free the operator's slot, and ask the client for a 1–5 rating."""
        now = self._clock()
        async with self._sessions() as session:
            conversation = await held_conversation(session, operator_id, conversation_id)
            ask = await _closed(session, conversation, operator_id, now, by="operator")
            await session.commit()
        await self._after_close(conversation_id, operator_id, ask.id)

    async def close_unanswered(self, waited: dt.timedelta) -> int:
        """Close the conversations whose client has not answered the operator's last reply
        for `waited`: the client is told (one write brings them back), asked for a rating,
        and the operator's slot is free. A conversation where the client spoke last waits
        for its operator, however long: that is the SLA's business."""
        now = self._clock()
        async with self._sessions() as session:
            quiet = await untouched(session, ConversationStatus.ASSIGNED, now - waited)
            closed: list[tuple[int, int, AppendedRow]] = []
            for conversation in quiet:
                operator_id = conversation.assigned_operator_id
                if (
                    operator_id is None
                    or await _last_word(session, conversation) is not Author.OPERATOR
                ):
                    continue
                ask = await _closed(
                    session, conversation, operator_id, now, by="no_reply", told="closed_unanswered"
                )
                closed.append((conversation.id, operator_id, ask))
            await session.commit()
        for conversation_id, operator_id, ask in closed:  # ids are known once committed
            await self._after_close(conversation_id, operator_id, ask.id)
        return len(closed)

    async def _after_close(self, conversation_id: int, operator_id: int, ask_id: int) -> None:
        await self._queue.remove(conversation_id)
        self._outbox.submit([ask_id])
        await self._feed.publish("closed", conversation_id=conversation_id, operator_id=operator_id)
        await self._availability.offer_work(operator_id)


async def _closed(
    session: AsyncSession,
    conversation: Conversation,
    operator_id: int,
    now: dt.datetime,
    *,
    by: str,
    told: str | None = None,
) -> AppendedRow:
    """Mark it closed and write the client's rating request (after `told`, when given)."""
    move(
        session,
        conversation,
        ConversationStatus.CLOSED,
        now,
        event=EventKind.CLOSED,
        operator_id=operator_id,
        by=by,
    )
    client = await session.get(Client, conversation.client_id)
    language = (client.language if client else None) or "ru"
    email = conversation.last_channel is ChannelKind.EMAIL
    buttons = (
        []
        if email
        else [Button(str(n), Action.RATE, f"{conversation.id}:{n}") for n in range(1, 6)]
    )
    asked = say("rate_request_email" if email else "rate_request", language)
    return await add_reply(
        session,
        conversation,
        author=Author.BOT,
        at=now,
        buttons=buttons,
        text=f"{say(told, language)}\n\n{asked}" if told else asked,
    )


async def _last_word(session: AsyncSession, conversation: Conversation) -> Author | None:
    """Who spoke last to the other side: the client or an operator (not the bot's notices,
    not private notes)."""
    return await session.scalar(
        select(Message.author)
        .where(
            Message.conversation_id == conversation.id,
            Message.private.is_(False),
            Message.author.in_([Author.CLIENT, Author.OPERATOR]),
        )
        .order_by(Message.id.desc())
        .limit(1)
    )
