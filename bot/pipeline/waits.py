"""A client who writes while operators have the question hears back once, not once per message.

In the queue, the first message after the hand-off gets "your question is in the queue, the
operator will see this too"; later ones in the same wait are stored and shown to the
operators in silence. With an operator on it, asking for a person again (the button or
«оператор!») gets "Anna already has your question" once while Anna holds it, instead of
silence. Each acknowledgement is an event of the conversation, so the operator's thread and
the reports see it, and a new wait or holder (requeued, taken, transferred) earns a new one.

A queued client asking how long the wait is («сколько ждать?», «оператор!» again) is told
their place and the deadline (`Waits.tell_place`), at most once in `PLACE_REPEAT`: asking
again at once adds nothing the operators do not see.

`Waits.answered_while_queued` tells whether the bot answered from the knowledge base during
this wait: then a client's thanks, or «помогло», is about that answer
(`recognise`).

All of it is read from the latest event of each kind these questions ask about. A surge
writes to the queue all at once (an outage, everyone asking for news), so a run reads them
for all its conversations with the operators in one query (`find_waits`), as it reads the
bot's last words (`bot.pipeline.bot_words`): a query per message would also make the unit
of work flush the run's rows one message at a time. A conversation the run has decided a
message in since is read again on its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.events import record
from core.models import Conversation, ConversationEvent, ConversationStatus, EventKind

__all__ = ["PLACE_REPEAT", "WITH_OPERATORS", "RunWaits", "Waits", "find_waits"]

PLACE_REPEAT = dt.timedelta(minutes=3)

WITH_OPERATORS = (ConversationStatus.QUEUED, ConversationStatus.ASSIGNED)
"""The statuses in which the operators have the conversation: its client waits or is answered."""

_NEW_HOLDER = (EventKind.TAKEN, EventKind.TRANSFERRED, EventKind.REOPENED)
"""Events after which the conversation's operator may be another one."""
_NEW_WAIT = (EventKind.HANDED_OFF, EventKind.QUEUED, EventKind.REQUEUED, EventKind.TRANSFERRED)
"""Events after which the conversation waits in a queue anew."""
_TOLD = (EventKind.QUEUE_ACKNOWLEDGED, EventKind.PLACE_TOLD, EventKind.HOLDER_ACKNOWLEDGED)

_NEVER = dt.datetime.min.replace(tzinfo=dt.UTC)
_RECORDED_NOW = 2**63 - 1
"""The order of an event recorded in this run: after every stored one (ids are ordered)."""

_LATEST = (
    select(
        ConversationEvent.conversation_id,
        ConversationEvent.kind,
        func.max(ConversationEvent.id),
        func.max(ConversationEvent.at),
    )
    .where(
        ConversationEvent.conversation_id.in_(bindparam("conversation_ids", expanding=True)),
        ConversationEvent.kind.in_({*_TOLD, EventKind.BOT_ANSWERED, *_NEW_HOLDER, *_NEW_WAIT}),
    )
    .group_by(ConversationEvent.conversation_id, ConversationEvent.kind)
)
"""Built once (see `bot.pipeline.store`): every run with the operators' clients asks it."""


@dataclass
class Waits:
    """One conversation's latest event of each kind asked about: its order (events in order
    of their ids: a clock may not tick) and its time."""

    latest: dict[EventKind, tuple[int, dt.datetime]] = field(default_factory=dict)

    def acknowledge_queued(
        self, session: AsyncSession, conversation: Conversation, now: dt.datetime
    ) -> bool:
        """True (and the acknowledgement recorded) when this wait has none yet."""
        waiting_since = conversation.queued_at or conversation.created_at
        told = self._at(EventKind.QUEUE_ACKNOWLEDGED)
        return self._once(
            session, conversation, EventKind.QUEUE_ACKNOWLEDGED, told >= waiting_since, now
        )

    def tell_place(
        self, session: AsyncSession, conversation: Conversation, now: dt.datetime
    ) -> bool:
        """True (and recorded, as this wait's acknowledgement too) when the client was not
        told their place in the last `PLACE_REPEAT`."""
        told = self._at(EventKind.PLACE_TOLD) > now - PLACE_REPEAT
        if not self._once(session, conversation, EventKind.PLACE_TOLD, told, now):
            return False
        self.acknowledge_queued(session, conversation, now)
        return True

    def acknowledge_held(
        self, session: AsyncSession, conversation: Conversation, now: dt.datetime
    ) -> bool:
        """True (and recorded) when the client has not yet been told who holds the
        conversation since its operator last got it."""
        told = self._after_latest(EventKind.HOLDER_ACKNOWLEDGED, _NEW_HOLDER)
        return self._once(session, conversation, EventKind.HOLDER_ACKNOWLEDGED, told, now)

    def answered_while_queued(self) -> bool:
        """The bot answered from the knowledge base since the conversation last entered the
        queue."""
        return self._after_latest(EventKind.BOT_ANSWERED, _NEW_WAIT)

    def _at(self, kind: EventKind) -> dt.datetime:
        return self.latest[kind][1] if kind in self.latest else _NEVER

    def _after_latest(self, kind: EventKind, since: tuple[EventKind, ...]) -> bool:
        """An event of `kind` after the latest one of `since` (any, when there is none)."""
        if kind not in self.latest:
            return False
        latest_since = max((self.latest[k][0] for k in since if k in self.latest), default=0)
        return self.latest[kind][0] > latest_since

    def _once(
        self,
        session: AsyncSession,
        conversation: Conversation,
        kind: EventKind,
        told: bool,
        now: dt.datetime,
    ) -> bool:
        if told:
            return False
        record(session, conversation, kind, now)
        self.latest[kind] = (_RECORDED_NOW, now)
        return True


class RunWaits:
    """`Waits` of the run's conversations with the operators, as far as the run's start
    tells."""

    def __init__(self, known: dict[int, Waits]) -> None:
        self._known = known

    async def of(self, session: AsyncSession, conversation: Conversation) -> Waits:
        """The conversation's; nothing to read for one the bot has."""
        if conversation.id not in self._known:
            if conversation.status not in WITH_OPERATORS:
                return Waits()
            self._known.update(await _read(session, [conversation]))
        return self._known[conversation.id]

    def decided(self, conversation: Conversation | None) -> None:
        """A message decided there may have changed the conversation's wait: a later
        message of the run there reads it again (the query flushes first)."""
        if conversation is not None:
            self._known.pop(conversation.id, None)


async def find_waits(session: AsyncSession, conversations: Iterable[Conversation]) -> RunWaits:
    """`Waits` of each of the conversations that the operators have, in one query."""
    return RunWaits(await _read(session, conversations))


async def _read(session: AsyncSession, conversations: Iterable[Conversation]) -> dict[int, Waits]:
    known = {c.id: Waits() for c in conversations if c.status in WITH_OPERATORS}
    if known:
        for conversation_id, kind, last_id, last_at in await session.execute(
            _LATEST, {"conversation_ids": list(known)}
        ):
            known[conversation_id].latest[kind] = (last_id, last_at)
    return known
