"""After the commit: the replies to the outbox, the hand-offs to the queue (the client told
when to expect a person), the notices to the operators' desk. A crash before this loses
nothing: pending replies are resent and the queue is rebuilt from the database at start."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from bot.handover import Handover
from bot.outbox import Outbox
from bot.pipeline.turn import Outcome
from bot.pipeline.wording import handoff_text
from core.db import SessionFactory
from core.events import DeskFeed
from core.messages import add_reply
from core.models import Author, Conversation, ConversationStatus, Operator
from core.texts import say
from routing.queue import OperatorQueue, QueueEntry
from routing.service_levels import BusinessCalendar

__all__ = ["AfterCommit"]

log = logging.getLogger(__name__)


class AfterCommit:
    def __init__(self, *, sessions: SessionFactory, outbox: Outbox, feed: DeskFeed,
                 queue: OperatorQueue, handover: Handover, calendar: BusinessCalendar) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self._feed = feed
        self._queue = queue
        self._handover = handover
        self._calendar = calendar

    async def carry_out(self, outcomes: Sequence[Outcome], now: dt.datetime) -> None:
        self._outbox.submit_each([outcome.reply_ids for outcome in outcomes])
        for outcome in outcomes:
            if outcome.queued_id is not None:
                await self._enqueue(outcome, outcome.queued_id, now)
            for kind, data in outcome.notices:
                await self._feed.publish(kind, **data)

    async def _enqueue(self, outcome: Outcome, conversation_id: int, now: dt.datetime) -> None:
        async with self._sessions() as session:
            conversation = await session.get(Conversation, conversation_id)
            if conversation is None or conversation.status is not ConversationStatus.QUEUED:
                return
            assert conversation.group and conversation.sla_deadline and conversation.queued_at
            entry = QueueEntry(
                conversation_id=conversation.id, group=conversation.group,
                priority=conversation.priority, deadline=conversation.sla_deadline,
                enqueued_at=conversation.queued_at, client_id=conversation.client_id,
                channel=conversation.last_channel.value, category=conversation.category)
            position: int | None = None
            operator: Operator | None = None
            try:
                operator = await self._handover.submit(entry)
                position = None if operator else await self._queue.position(conversation.id)
            except Exception:  # Redis down: the database has it; the queue is rebuilt at start
                log.exception("conversation %s queued in the database only", conversation.id)
            if not outcome.tell_client:
                return
            if operator is not None:
                text = say("handoff_assigned", outcome.language, operator=operator.name)
            else:
                text = handoff_text(self._calendar, outcome.language, conversation.sla_deadline,
                                    position, now)
            told = await add_reply(session, conversation, text=text, author=Author.BOT, at=now)
            await session.commit()
            self._outbox.submit([told.id])
