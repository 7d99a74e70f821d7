"""Which replies a process is sending, and the send leases that keep them its own.

A PENDING reply's next attempt time is its lease: whoever moves it `SEND_LEASE` ahead is
sending it, and a sweeper takes it only once that time has passed. `claim_due` is how a
sweeper takes the replies whose time has come; `DeliveryClaims` knows the replies this
process is sending now and renews their lease while it lives (`hold`), so a live
process's sends are never taken.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Iterable

from sqlalchemy import exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.pending_replies import LOAD_CHUNK
from core.db import SessionFactory, WriteLock
from core.messages import SEND_LEASE
from core.models import Delivery, Message

__all__ = ["SWEEP_LIMIT", "DeliveryClaims", "claim_due"]

log = logging.getLogger(__name__)
SWEEP_LIMIT = 1000
"""PENDING messages one sweep looks at (the oldest first)."""


async def claim_due(
    session: AsyncSession, now: dt.datetime, *, exclude: set[int], limit: int = SWEEP_LIMIT
) -> list[int]:
    """Take the PENDING replies to send now, in order: every pending reply of each chat
    (identity) whose earliest pending reply is due, up to `limit` chats, leaving chats
    this process is sending to (`exclude`). Taking one moves its next attempt
    `SEND_LEASE` ahead, so that nobody else takes it meanwhile; the caller commits.

    On PostgreSQL the rows are locked `FOR UPDATE SKIP LOCKED`: two processes claiming at
    once take disjoint chats, the one whose earliest reply the other holds waits for the
    next sweep."""
    locked = session.get_bind().dialect.name == "postgresql"
    earlier = aliased(Message)
    heads = (
        select(Message.id, Message.identity_id)
        .where(
            Message.delivery == Delivery.PENDING,
            Message.identity_id.is_not(None),  # a reply always has one; without, nowhere to send
            or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now),
            ~exists().where(
                earlier.identity_id == Message.identity_id,
                earlier.delivery == Delivery.PENDING,
                earlier.id < Message.id,
            ),
        )
        .order_by(Message.id)
        .limit(limit)
    )
    if locked:
        heads = heads.with_for_update(skip_locked=True)
    identity_ids = [identity_id for _, identity_id in await session.execute(heads)]
    rows: list[tuple[int, int | None]] = []
    for start in range(0, len(identity_ids), LOAD_CHUNK):
        query = (
            select(Message.id, Message.identity_id)
            .where(
                Message.delivery == Delivery.PENDING,
                Message.identity_id.in_(identity_ids[start : start + LOAD_CHUNK]),
            )
            .order_by(Message.id)
        )
        if locked:
            query = query.with_for_update(skip_locked=True)
        rows += [
            (message_id, identity_id) for message_id, identity_id in await session.execute(query)
        ]
    pending: dict[int | None, list[int]] = {}
    for message_id, identity_id in rows:
        pending.setdefault(identity_id, []).append(message_id)
    taken = sorted(
        message_id
        for ids in pending.values()
        if not any(message_id in exclude for message_id in ids)
        for message_id in ids
    )
    for start in range(0, len(taken), LOAD_CHUNK):
        await session.execute(
            update(Message)
            .where(Message.id.in_(taken[start : start + LOAD_CHUNK]))
            .values(next_attempt_at=now + SEND_LEASE)
        )
    return taken


class DeliveryClaims:
    """The replies this process is sending now (submitted, or taken by its sweeper): the
    sweeper leaves their chats alone, and their send lease is renewed while they last."""

    def __init__(
        self, sessions: SessionFactory, clock: Callable[[], dt.datetime], *, writes: WriteLock
    ) -> None:
        self._sessions = sessions
        self._writes = writes
        self._clock = clock
        self._in_flight: set[int] = set()

    def add(self, message_ids: Iterable[int]) -> None:
        """This process is sending these now."""
        self._in_flight.update(message_ids)

    def release(self, message_ids: Iterable[int]) -> None:
        """This process is done with these (sent, failed, or left for a later attempt)."""
        self._in_flight.difference_update(message_ids)

    async def take_due(self) -> list[int]:
        """Claim the replies due now (`claim_due`), leaving the chats this process is
        sending to, and commit; the caller adds what it goes on to send. Raises when the
        database fails."""
        async with self._writes, self._sessions() as session:
            ids = await claim_due(session, self._clock(), exclude=self._in_flight)
            await session.commit()
        return ids

    async def hold(self) -> None:
        """Renew the send lease of every reply this process is sending, every third of
        `SEND_LEASE`, until cancelled (in every process; the sweeper runs in one)."""
        while True:
            await asyncio.sleep(SEND_LEASE.total_seconds() / 3)
            await self.renew()

    async def renew(self) -> int:
        """Move the send lease of the replies this process is sending (waiting for a rate
        limit, retrying in process) `SEND_LEASE` ahead, so that no sweeper takes them while
        this process lives; a later retry time is left as it is. Returns how many."""
        ids = sorted(self._in_flight)
        if not ids:
            return 0
        until = self._clock() + SEND_LEASE
        renewed = 0
        try:
            async with self._writes, self._sessions() as session:
                for start in range(0, len(ids), LOAD_CHUNK):
                    result = await session.execute(
                        update(Message)
                        .where(
                            Message.id.in_(ids[start : start + LOAD_CHUNK]),
                            Message.delivery == Delivery.PENDING,
                            Message.next_attempt_at < until,
                        )
                        .values(next_attempt_at=until)
                        .execution_options(synchronize_session=False)
                    )
                    renewed += int(getattr(result, "rowcount", 0) or 0)
                await session.commit()
        except Exception:  # the lease runs out meanwhile: at worst a sweeper resends
            log.exception("renewing the send lease of %d replies failed", len(ids))
            return 0
        return renewed
