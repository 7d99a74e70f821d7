"""The outbox's sweeper: every few seconds it takes the replies whose time has come —
retries, and new ones nobody marked sent within `SEND_LEASE` (the process died mid-send)
— and hands them back to the outbox to send, chat by chat in order. It also keeps the
outbox's list of chats with a reply waiting for its retry in step with the database, so
that new replies to those chats wait behind it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import func, select

from bot.delivery_claims import DeliveryClaims
from bot.pending_replies import Chat
from core.db import SessionFactory
from core.models import Delivery, Identity, Message

__all__ = ["OutboxSweeper"]

log = logging.getLogger(__name__)


class OutboxSweeper:
    def __init__(
        self,
        sessions: SessionFactory,
        claims: DeliveryClaims,
        *,
        held: set[Chat],
        resend: Callable[[list[int]], Awaitable[None]],
    ) -> None:
        self._sessions = sessions
        self._claims = claims
        self._held = held
        """The outbox's chats with a reply waiting for its retry (shared, not a copy)."""
        self._resend = resend
        """Sends the replies taken, chat by chat in order; returns once all were tried."""

    async def resend_pending(self) -> int:
        """At start-up: send what is due (a dead process's replies once their send lease
        ran out); chats with a reply waiting for its retry keep new replies behind it.
        Replies still within their lease may be another live process's to send: they are
        left to it, or to the sweeper once the lease runs out."""
        self._held.update(await self._waiting_chats())
        sent = await self.sweep()
        if sent:
            log.info("resent %d messages left pending", sent)
        return sent

    async def sweep(self) -> int:
        """One pass of the sweeper: take the replies due (`claim_due`) and send them, chat
        by chat in order; returns how many were taken."""
        try:
            ids = await self._claims.take_due()
            self._held.intersection_update(await self._waiting_chats())  # sent elsewhere
        except Exception:
            log.exception("looking for replies to resend failed; trying again at the next sweep")
            return 0
        if not ids:
            return 0
        await self._resend(ids)
        return len(ids)

    async def _waiting_chats(self) -> set[Chat]:
        """The chats with a reply waiting for its retry, as the database has them."""
        async with self._sessions() as session:
            return {
                (channel, chat)
                for channel, chat in await session.execute(
                    select(Identity.channel, func.coalesce(Identity.chat_id, Identity.external_id))
                    .join(Message, Message.identity_id == Identity.id)
                    .where(Message.delivery == Delivery.PENDING, Message.attempts > 0)
                    .distinct()
                )
            }

    async def run(self, every: float) -> None:
        """Sweep every `every` seconds until cancelled."""
        while True:
            await asyncio.sleep(every)
            await self.sweep()
