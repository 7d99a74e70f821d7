"""The retention period: the words and files of a conversation closed and untouched for
`RETENTION_DAYS` are erased (`core.erasure`), as the desk's data policy says they must go
once their purpose is served (152-ФЗ art. 5 part 7); the conversation stays for the
reports. A conversation reopened since is not closed, so it waits again; one written to
after its erasure (a reply to an old letter) is erased again in its turn.

Runs in one process at a time, in batches of short transactions, hourly.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy import or_, select

from core.db import SessionFactory
from core.erasure import erase_conversations, remove_unneeded
from core.models import Conversation, ConversationStatus

__all__ = ["Retention"]

log = logging.getLogger(__name__)

BATCH = 200
"""Conversations erased in one transaction."""
EVERY = 3600.0
"""Seconds between looks for conversations past the period."""


class Retention:
    def __init__(
        self, sessions: SessionFactory, period: dt.timedelta, clock: Callable[[], dt.datetime]
    ) -> None:
        self._sessions = sessions
        self._period = period
        self._clock = clock

    async def run(self) -> None:
        """Erase what is past the period now and every hour, until cancelled."""
        while True:
            await self.erase_expired()
            await asyncio.sleep(EVERY)

    async def erase_expired(self) -> int:
        """Erase every conversation past the period; how many."""
        total = 0
        while erased := await self._erase_batch():
            total += erased
        if total:
            log.info("retention: %d conversation(s) past %s erased", total, self._period)
        return total

    async def _erase_batch(self) -> int:
        now = self._clock()
        async with self._sessions() as session:
            expired = list(
                await session.scalars(
                    select(Conversation.id)
                    .where(
                        Conversation.status == ConversationStatus.CLOSED,
                        Conversation.updated_at < now - self._period,
                        # never erased, or written to since (an email thread reopened it)
                        or_(
                            Conversation.erased_at.is_(None),
                            Conversation.erased_at < Conversation.updated_at,
                        ),
                    )
                    .order_by(Conversation.id)
                    .limit(BATCH)
                )
            )
            if not expired:
                return 0
            erased = await erase_conversations(session, expired, now)
            await session.commit()
            await remove_unneeded(session, erased.files)
        return len(expired)
