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

from sqlalchemy import select

from bot.handover import Handover
from bot.outbox import Outbox
from bot.pipeline.turn import Outcome
from bot.pipeline.wording import handoff_text
from core.db import SessionFactory
from core.events import DeskFeed
from core.models import Conversation, ConversationStatus, Operator
from core.texts import say
from core.unit_of_work import AppendedRow
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
        steps: list[Callable[[], Awaitable[object]]] = [
            *(step for outcome in outcomes for step in outcome.after_commit),
            *(
                functools.partial(self._queue.remove, outcome.withdrawn_id)
                for outcome in outcomes
                if outcome.withdrawn_id is not None
            ),
            functools.partial(self._tell_waiting, outcomes, now),
            *(
                functools.partial(self._feed.publish, kind, **_written(data))
                for outcome in outcomes
                for kind, data in outcome.notices
            ),
        ]
        for step in steps:
            try:
                await step()
            except Exception:
                log.exception("after-commit work failed; the sweepers repair it")

    async def _tell_waiting(self, outcomes: Sequence[Outcome], now: dt.datetime) -> None:
        """The run's hand-offs go to the queue (their clients told when to expect a person),
        and the queued clients who asked how long hear their place (none when an operator
        took the question meanwhile: they are about to answer). One transaction for all:
        a surge brings them together."""
        waiting = [
            *((o, o.queued_id, False) for o in outcomes if o.queued_id is not None),
            *((o, o.place_asked_id, True) for o in outcomes if o.place_asked_id is not None),
        ]
        if not waiting:
            return
        told: list[AppendedRow] = []
        async with self._sessions() as session:
            found = await session.scalars(
                select(Conversation).where(Conversation.id.in_({c for _, c, _ in waiting}))
            )
            queued = {c.id: c for c in found if c.status is ConversationStatus.QUEUED}
            for outcome, conversation_id, asked in waiting:
                conversation = queued.get(conversation_id)
                if conversation is None:
                    continue
                text: str | None
                try:
                    if asked:
                        text = await self._place_asked(outcome, conversation, now)
                    else:
                        text = await self._enqueue(outcome, conversation, now)
                except Exception:  # this one's fault: the others are still told
                    log.exception("conversation %s: its client not told", conversation_id)
                    continue
                if text is not None:
                    await outcome.reply(session, conversation, text, now)
                    told.append(outcome.replies[-1])
            await session.commit()
        self._outbox.submit([row.id for row in told])

    async def _enqueue(
        self, outcome: Outcome, conversation: Conversation, now: dt.datetime
    ) -> str | None:
        """The conversation to the queue; what its client hears, if anything."""
        entry = entry_for(conversation)
        position: int | None = None
        operator: Operator | None = None
        try:
            operator = await self._handover.submit(entry)
            position = None if operator else await self._queue.position(conversation.id)
        except Exception:  # Redis down: the database has it; the reconciler adds it
            log.exception("conversation %s queued in the database only", conversation.id)
        if not outcome.tell_client:
            return None
        if operator is not None:
            return say("handoff_assigned", outcome.language, operator=operator.name)
        return self._place(conversation, outcome.language, position, now, asked=False)

    async def _place_asked(
        self, outcome: Outcome, conversation: Conversation, now: dt.datetime
    ) -> str:
        try:
            position = await self._queue.position(conversation.id)
        except Exception:  # Redis down: the deadline still holds
            log.exception("no queue position for conversation %s", conversation.id)
            position = None
        return self._place(conversation, outcome.language, position, now, asked=True)

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


def _written(data: dict[str, object]) -> dict[str, object]:
    """A notice's data with each row of the unit of work as its id, now that it is written."""
    return {k: v.id if isinstance(v, AppendedRow) else v for k, v in data.items()}
