"""Benchmark of the periodic repairs: prints figures, asserts nothing.

    .venv/bin/python bench/repairs.py [--sizes 1000 10000]

On a fresh SQLite database and an embedded Redis, for each size N:
1. the queue reconciler's pass (`routing.reconcile.QueueReconciler.reconcile`) with N live
   conversations all in Redis (the usual case: nothing to repair), and the two passes
   that restore them all when Redis lost them;
2. the outbox sweeper's claim (`bot.delivery_claims.claim_due`) with N pending replies, none due
   (the usual case) and all due (after an outage).
These run every few seconds in every process, so the usual case is what they cost.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, where bench/queue.py would
# hide the standard library's `queue` (which redis-py imports): put the project root there.
if Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse
import asyncio
import datetime as dt
import tempfile
import time
from collections.abc import Awaitable

from sqlalchemy import insert

from bot.delivery_claims import claim_due
from core import keys
from core.db import SessionFactory, create_engine, session_factory, upgrade
from core.events import DeskFeed
from core.models import (
    Author,
    Client,
    Conversation,
    ConversationStatus,
    Delivery,
    Direction,
    Identity,
    Message,
)
from routing.queue import OperatorQueue
from routing.rebuild import rebuild_queue
from routing.reconcile import QueueReconciler
from switchboard.redis_server import connect_redis

T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)


async def fill(sessions: SessionFactory, n: int) -> None:
    """N clients, each with a queued conversation and a pending reply."""
    async with sessions() as session:
        await session.execute(
            insert(Client), [{"id": i, "created_at": T0} for i in range(1, n + 1)]
        )
        await session.execute(
            insert(Identity),
            [
                {
                    "id": i,
                    "client_id": i,
                    "channel": "telegram",
                    "external_id": str(i),
                    "chat_id": str(i),
                    "created_at": T0,
                    "last_seen_at": T0,
                }
                for i in range(1, n + 1)
            ],
        )
        await session.execute(
            insert(Conversation),
            [
                {
                    "id": i,
                    "client_id": i,
                    "identity_id": i,
                    "last_identity_id": i,
                    "last_channel": "telegram",
                    "status": ConversationStatus.QUEUED.value,
                    "group": "support",
                    "priority": 2,
                    "sla_deadline": T0 + dt.timedelta(hours=1),
                    "queued_at": T0,
                    "created_at": T0,
                    "updated_at": T0,
                }
                for i in range(1, n + 1)
            ],
        )
        await session.execute(
            insert(Message),
            [
                {
                    "conversation_id": i,
                    "identity_id": i,
                    "channel": "telegram",
                    "direction": Direction.OUT.value,
                    "author": Author.BOT.value,
                    "text": "…",
                    "delivery": Delivery.PENDING.value,
                    "attempts": 1,
                    "next_attempt_at": T0 + dt.timedelta(minutes=10),
                    "created_at": T0,
                }
                for i in range(1, n + 1)
            ],
        )
        await session.commit()


async def timed(label: str, work: Awaitable[object]) -> float:
    started = time.perf_counter()
    await work
    elapsed = time.perf_counter() - started
    print(f"  {label:<44} {elapsed * 1000:9.1f} ms")
    return elapsed


async def one_size(n: int, root: Path) -> None:
    database = create_engine(f"sqlite+aiosqlite:///{root / f'bench-{n}.db'}")
    await upgrade(database)
    sessions = session_factory(database)
    async with connect_redis(None, root / f"var-{n}") as redis:
        await redis.flushdb()
        queue = OperatorQueue(redis)
        await fill(sessions, n)
        await rebuild_queue(sessions, queue)
        reconciler = QueueReconciler(sessions, queue, DeskFeed(redis))
        print(f"N = {n}")
        await timed("reconcile pass, queue in agreement", reconciler.reconcile())
        await redis.delete(*keys.queue_keys())
        await timed("reconcile pass, queue lost (noted)", reconciler.reconcile())
        await timed("reconcile pass, queue lost (restored)", reconciler.reconcile())
        async with sessions() as session:
            await timed("claim, none due", claim_due(session, T0, exclude=set()))
            await session.rollback()
            await timed(
                "claim, all due (limit 1000)",
                claim_due(session, T0 + dt.timedelta(hours=1), exclude=set()),
            )
            await session.rollback()
    await database.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="switchboard-bench-") as folder:
        for n in args.sizes:
            await one_size(n, Path(folder))


if __name__ == "__main__":
    asyncio.run(main())
