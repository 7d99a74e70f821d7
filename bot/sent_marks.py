"""Marking delivered replies SENT, in batches: deliveries that finish while one batch
commits go into the next, so a busy gateway commits once per batch, not once per message.
A mark that cannot be written leaves its reply PENDING: the sweeper resends it once its
lease runs out, and the channels drop the repeat.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Coroutine

from sqlalchemy import update

from core.contracts import DeliveryReceipt
from core.db import SessionFactory, WriteLock
from core.models import Delivery, Message

__all__ = ["SentMarks"]

log = logging.getLogger(__name__)


class SentMarks:
    def __init__(
        self,
        sessions: SessionFactory,
        clock: Callable[[], dt.datetime],
        *,
        writes: WriteLock,
        spawn: Callable[[Coroutine[object, object, None]], asyncio.Task[None]],
    ) -> None:
        self._sessions = sessions
        self._writes = writes
        self._clock = clock
        self._spawn = spawn
        """Runs the writer in the background (the outbox's, so that its `drain` waits)."""
        self._sent: list[dict[str, object]] = []
        self._marking: asyncio.Task[None] | None = None

    def mark(self, message_id: int, receipt: DeliveryReceipt) -> None:
        """The message was delivered: mark it SENT with the next batch."""
        self._sent.append(
            {
                "id": message_id,
                "delivery": Delivery.SENT,
                "delivered_at": self._clock(),
                "channel_message_id": receipt.platform_message_id,
                "next_attempt_at": None,
            }
        )
        if self._marking is None:
            self._marking = self._spawn(self._write_sent())

    async def _write_sent(self) -> None:
        try:
            while self._sent:
                batch, self._sent = self._sent, []
                if not await self._write_batch(batch) and len(batch) > 1:
                    for row in batch:  # one bad row must not keep the others PENDING
                        await self._write_batch([row])
        finally:
            self._marking = None

    async def _write_batch(self, batch: list[dict[str, object]]) -> bool:
        try:
            async with self._writes, self._sessions() as session:
                await session.execute(update(Message), batch)
                await session.commit()
            return True
        except Exception:  # still PENDING: the sweeper resends it (the channels dedupe)
            log.exception("marking %d sent messages failed", len(batch))
            return False
