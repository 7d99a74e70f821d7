"""Keep the live queue equal to the database while the gateway runs.

The database is committed first and Redis written after; when Redis is away at that
moment (a hand-off during an outage) or a process dies in between, the two disagree: a
queued conversation operators never see and the SLA watcher never times, or a closed one
still offered. Every few seconds the reconciler compares the conversations Redis holds
with those the database calls queued or assigned. A difference seen on two passes in a
row (a hand-off between its commit and its queue entry is not one) is repaired: a missing
conversation is restored with the start-up rebuild's own entry (`routing.rebuild.restore`)
and announced to the desk, one the database closed is dropped. Repairs are counted in
Redis (`keys.queue_repairs`) for `/metrics`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from core import keys
from core.db import SessionFactory
from core.events import DeskFeed
from core.models import Conversation
from routing.queue import OperatorQueue, as_text
from routing.rebuild import LIVE, entry_for, restore

__all__ = ["QueueReconciler", "Repairs", "repair_counts"]

log = logging.getLogger(__name__)

BATCH = 1000
"""Conversations restored per database read and Redis pipeline."""


@dataclass(frozen=True, slots=True)
class Repairs:
    added: tuple[int, ...] = ()
    removed: tuple[int, ...] = ()


class QueueReconciler:
    def __init__(
        self,
        sessions: SessionFactory,
        queue: OperatorQueue,
        feed: DeskFeed,
        *,
        default_group: str = "support",
    ) -> None:
        self._sessions = sessions
        self._queue = queue
        self._feed = feed
        self._default_group = default_group
        self._missing: set[int] = set()
        self._stale: set[int] = set()

    async def run(self, every: float) -> None:
        """Reconcile every `every` seconds until cancelled; a failed pass (Redis or the
        database away) is tried again at the next one."""
        while True:
            await asyncio.sleep(every)
            try:
                await self.reconcile()
            except (RedisError, SQLAlchemyError, OSError) as exc:
                log.warning("queue reconciliation skipped: %s", exc)

    async def reconcile(self) -> Repairs:
        """One pass: note the differences, repair those also seen on the previous pass."""
        redis = self._queue.redis
        in_redis = {int(as_text(v)) for v in await redis.hkeys(keys.queue_order())}
        async with self._sessions() as session:
            live = set(
                await session.scalars(select(Conversation.id).where(Conversation.status.in_(LIVE)))
            )
        missing, stale = live - in_redis, in_redis - live
        confirmed_missing, confirmed_stale = missing & self._missing, stale & self._stale
        self._missing, self._stale = missing - confirmed_missing, stale - confirmed_stale
        repairs = Repairs(await self._add(confirmed_missing), await self._drop(confirmed_stale))
        counts = {"added": len(repairs.added), "removed": len(repairs.removed)}
        if any(counts.values()):
            log.warning(
                "queue repaired from the database: %d added %s, %d removed %s",
                counts["added"],
                _some(repairs.added),
                counts["removed"],
                _some(repairs.removed),
            )
            async with redis.pipeline(transaction=False) as pipe:
                for kind, n in counts.items():
                    if n:
                        pipe.hincrby(keys.queue_repairs(), kind, n)
                await pipe.execute()
        return repairs

    async def _add(self, conversation_ids: set[int]) -> tuple[int, ...]:
        ordered = sorted(conversation_ids)
        added: list[int] = []
        for start in range(0, len(ordered), BATCH):
            async with self._sessions() as session:
                rows = (
                    await session.scalars(
                        select(Conversation)
                        .where(
                            Conversation.id.in_(ordered[start : start + BATCH]),
                            Conversation.status.in_(LIVE),
                        )
                        .order_by(Conversation.id)
                    )
                ).all()
                if not rows:
                    continue
                restored = await restore(session, self._queue, rows, self._default_group)
            by_id = {c.id: c for c in rows}
            for conversation_id in restored["waiting"]:
                entry = entry_for(by_id[conversation_id], self._default_group)
                await self._feed.publish(
                    "queued", conversation_id=conversation_id, group=entry.group
                )
            added += restored["waiting"] + restored["assigned"]
        return tuple(sorted(added))

    async def _drop(self, conversation_ids: set[int]) -> tuple[int, ...]:
        if not conversation_ids:
            return ()
        async with self._sessions() as session:  # still not live now?
            live = set(
                await session.scalars(
                    select(Conversation.id).where(
                        Conversation.id.in_(conversation_ids), Conversation.status.in_(LIVE)
                    )
                )
            )
        removed = []
        for conversation_id in sorted(conversation_ids - live):
            if await self._queue.remove(conversation_id):
                removed.append(conversation_id)
        return tuple(removed)


async def repair_counts(queue: OperatorQueue) -> Mapping[str, int]:
    """How many repairs of each kind the reconcilers made, for `/metrics`."""
    counts = {
        as_text(k): int(v) for k, v in (await queue.redis.hgetall(keys.queue_repairs())).items()
    }
    return {kind: counts.get(kind, 0) for kind in ("added", "removed")}


def _some(conversation_ids: tuple[int, ...], shown: int = 20) -> str:
    listed = ", ".join(map(str, conversation_ids[:shown]))
    return f"[{listed}{', …' if len(conversation_ids) > shown else ''}]"
