"""After the commit: the replies to the outbox, the hand-offs to the queue (the client told
when to expect a person) and the questions their clients withdrew out of it, identity
recognition's after-commit work, the notices to the operators' desk. The messages are
stored, so a step that fails here is logged and left to the repairs: the outbox sweeper
sends what is still pending, the queue reconciler adds what the queue is missing and
drops what the database closed."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from bot.handover import Handover
from bot.outbox import Outbox
from bot.pipeline.turn import Outcome
from bot.pipeline.wording import handoff_text
from core.db import SessionFactory
from core.events import DeskFeed
from core.messages import add_reply
from core.models import Author, Conversation, ConversationStatus, Operator
from core.texts import say
from routing.queue import OperatorQueue
from routing.rebuild import entry_for
from routing.service_levels import ServiceLevels

__all__ = ["AfterCommit"]

log = logging.getLogger(__name__)


class AfterCommit:
    def __init__(
        self,
        *,
        sessions: SessionFactory,
        outbox: Outbox,
        feed: DeskFeed,
        queue: OperatorQueue,
        handover: Handover,
        levels: ServiceLevels,
    ) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self._feed = feed
        self._queue = queue
        self._handover = handover
        self._levels = levels

    async def carry_out(self, outcomes: Sequence[Outcome], now: dt.datetime) -> None:
        self._outbox.submit_each([outcome.reply_ids for outcome in outcomes])
        for outcome in outcomes:
            steps: list[Callable[[], Awaitable[object]]] = [*outcome.after_commit]
            if outcome.queued_id is not None:
                steps.append(functools.partial(self._enqueue, outcome, outcome.queued_id, now))
            if outcome.withdrawn_id is not None:
                steps.append(functools.partial(self._queue.remove, outcome.withdrawn_id))
            if outcome.place_asked_id is not None:
                steps.append(
                    functools.partial(self._tell_place, outcome, outcome.place_asked_id, now)
                )
            steps += [
                functools.partial(self._feed.publish, kind, **data)
                for kind, data in outcome.notices
            ]
            for step in steps:
                try:
                    await step()
                except Exception:
                    log.exception("after-commit work failed; the sweepers repair it")

    async def _enqueue(self, outcome: Outcome, conversation_id: int, now: dt.datetime) -> None:
        async with self._sessions() as session:
            conversation = await session.get(Conversation, conversation_id)
            if conversation is None or conversation.status is not ConversationStatus.QUEUED:
                return
            entry = entry_for(conversation)
            position: int | None = None
            operator: Operator | None = None
            try:
                operator = await self._handover.submit(entry)
                position = None if operator else await self._queue.position(conversation.id)
            except Exception:  # Redis down: the database has it; the reconciler adds it
                log.exception("conversation %s queued in the database only", conversation.id)
            if not outcome.tell_client:
                return
            if operator is not None:
                text = say("handoff_assigned", outcome.language, operator=operator.name)
            else:
                text = self._place(conversation, outcome.language, position, now, asked=False)
            await self._tell(session, conversation, text, now)

    async def _tell_place(self, outcome: Outcome, conversation_id: int, now: dt.datetime) -> None:
        """A queued client who asked how long hears their place now (none when an operator
        took the question meanwhile: they are about to answer)."""
        async with self._sessions() as session:
            conversation = await session.get(Conversation, conversation_id)
            if conversation is None or conversation.status is not ConversationStatus.QUEUED:
                return
            try:
                position = await self._queue.position(conversation.id)
            except Exception:  # Redis down: the deadline still holds
                log.exception("no queue position for conversation %s", conversation.id)
                position = None
            text = self._place(conversation, outcome.language, position, now, asked=True)
            await self._tell(session, conversation, text, now)

    def _place(
        self,
        conversation: Conversation,
        language: str,
        position: int | None,
        now: dt.datetime,
        *,
        asked: bool,
    ) -> str:
        assert conversation.sla_deadline is not None, "a queued conversation has its deadline"
        return handoff_text(
            self._levels.calendar,
            language,
            conversation.sla_deadline,
            position,
            now,
            business_hours=self._levels.rule(conversation.category).business_hours,
            asked=asked,
        )

    async def _tell(
        self, session: AsyncSession, conversation: Conversation, text: str, now: dt.datetime
    ) -> None:
        told = await add_reply(session, conversation, text=text, author=Author.BOT, at=now)
        await session.commit()
        self._outbox.submit([told.id])
