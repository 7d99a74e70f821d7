"""The channels' hourly caps on bot answers (loop safety), counted once per run.

A channel may cap the bot's messages to one identity per hour; every bot message counts,
the acknowledgement of a queued wait included (an auto-responder would answer it). The
count is one query for the whole run, before its first message, and from then on the
run's own replies are added as each message is decided: a query per message would make
the unit of work flush its rows one message at a time, which was most of what a polled
batch cost (bench/pipeline.py).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.pipeline.turn import Outcome
from core.contracts import ChannelKind
from core.models import Author, Identity, Message

__all__ = ["AnswerCaps", "RunAnswers"]

WINDOW = dt.timedelta(hours=1)
_BOT_MESSAGES_SINCE = (
    select(Message.identity_id, func.count(Message.id))
    .where(
        Message.identity_id.in_(bindparam("identity_ids", expanding=True)),
        Message.author == Author.BOT,
        Message.created_at >= bindparam("since"),
    )
    .group_by(Message.identity_id)
)
"""Built once (see `bot.pipeline.store`): every run with a capped channel asks it."""


class RunAnswers:
    """Bot messages to each of a run's identities in the last hour, kept up to date as the
    run adds replies."""

    def __init__(self, caps: Mapping[ChannelKind, int], counted: Counter[int]) -> None:
        self._caps = caps
        self._counted = counted

    def over_cap(self, channel: ChannelKind, identity_id: int) -> bool:
        cap = self._caps.get(channel)
        return cap is not None and self._counted[identity_id] >= cap

    def add(self, outcome: Outcome) -> None:
        """A decided message's bot replies. Identity recognition's replies (a proof code's
        answer) count for the sender, whichever identity they went to."""
        for reply in outcome.replies:
            if reply.values["author"] is Author.BOT:
                self._counted[reply.values["identity_id"]] += 1
        self._counted[outcome.sender.id] += len(outcome.handled_ids)


class AnswerCaps:
    """Each channel's cap (None: not capped)."""

    def __init__(self, caps: Mapping[ChannelKind, int]) -> None:
        self._caps = dict(caps)

    async def count(
        self, session: AsyncSession, identities: Iterable[Identity], now: dt.datetime
    ) -> RunAnswers:
        """One query for every capped identity of the run."""
        capped = [identity.id for identity in identities if identity.channel in self._caps]
        counted: Counter[int] = Counter()
        if capped:
            rows = await session.execute(
                _BOT_MESSAGES_SINCE, {"identity_ids": capped, "since": now - WINDOW}
            )
            for identity_id, count in rows:
                assert identity_id is not None, "one of `capped`"
                counted[identity_id] = count
        return RunAnswers(self._caps, counted)
