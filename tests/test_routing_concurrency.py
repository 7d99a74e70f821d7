"""Many operators at once: every conversation is taken exactly once and none is lost."""

from __future__ import annotations

import asyncio
import datetime as dt
import random

from redis.asyncio import Redis

from routing.assignment import Dispatcher
from routing.errors import AlreadyTaken, OverCapacity
from routing.presence import Presence, PresenceState
from routing.queue import OperatorQueue, QueueEntry

T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
GROUPS = ("support", "fraud", "loans")


def entries(count: int, seed: int = 4) -> list[QueueEntry]:
    rng = random.Random(seed)
    return [
        QueueEntry(
            n,
            GROUPS[n % 3],
            rng.randint(1, 3),
            T0 + dt.timedelta(minutes=rng.randint(1, 600)),
            T0 + dt.timedelta(seconds=n),
            n % 997,
            "telegram",
            None,
        )
        for n in range(1, count + 1)
    ]


async def test_50_takers_5000_conversations_each_taken_exactly_once(
    redis: Redis, redis_url: str
) -> None:
    queue = OperatorQueue(redis)
    queued = entries(5000)
    for chunk in range(0, len(queued), 50):
        added = await asyncio.gather(*(queue.enqueue(e) for e in queued[chunk : chunk + 50]))
        assert all(added)

    async def taker(operator_id: int) -> list[int]:
        """One operator on a connection of their own, serving two of the three groups."""
        groups = [g for i, g in enumerate(GROUPS) if (operator_id + i) % 3 != 0]
        own = Redis.from_url(redis_url, decode_responses=True)
        try:
            mine = OperatorQueue(own)
            got = []
            while (taken := await mine.take_next(operator_id, groups, capacity=10_000)) is not None:
                got.append(taken.conversation_id)
            return got
        finally:
            await own.aclose()

    results = await asyncio.gather(*(taker(op) for op in range(1, 51)))
    taken = [cid for got in results for cid in got]
    assert len(taken) == len(set(taken)) == 5000, "a conversation was taken twice"
    assert set(taken) == {e.conversation_id for e in queued}, "a conversation was lost"
    assert await queue.waiting() == []
    held = [cid for op in range(1, 51) for cid in await queue.assigned(op)]
    assert sorted(held) == sorted(taken)
    # each operator got its conversations in take order
    for got in results:
        by_group: dict[str, list[QueueEntry]] = {}
        for cid in got:
            by_group.setdefault(queued[cid - 1].group, []).append(queued[cid - 1])
        for mine in by_group.values():
            assert mine == sorted(mine, key=lambda e: (e.priority, e.deadline, e.enqueued_at))


async def test_concurrent_takes_of_one_conversation_have_one_winner(redis: Redis) -> None:
    queue = OperatorQueue(redis)
    await queue.enqueue(entries(1)[0])
    outcomes = await asyncio.gather(
        *(queue.take(1, op, capacity=3) for op in range(1, 21)), return_exceptions=True
    )
    winners = [
        op for op, o in zip(range(1, 21), outcomes, strict=True) if isinstance(o, QueueEntry)
    ]
    assert len(winners) == 1
    losers = [o for o in outcomes if not isinstance(o, QueueEntry)]
    assert all(isinstance(o, AlreadyTaken) and o.holder == winners[0] for o in losers)
    assert [op for op in range(1, 21) if await queue.assigned(op)] == winners


async def test_concurrent_push_and_pull_never_exceed_capacity(redis: Redis) -> None:
    queue = OperatorQueue(redis)
    presence = Presence(redis)
    for op in range(1, 11):
        await presence.set(op, PresenceState.ONLINE, capacity=3, groups=list(GROUPS))
    dispatcher = Dispatcher(queue)
    queued = entries(300, seed=9)
    for chunk in range(0, len(queued), 30):
        outcomes = await asyncio.gather(
            *(dispatcher.submit(e) for e in queued[chunk : chunk + 30]),
            *(queue.take_next(op, list(GROUPS), capacity=3) for op in range(1, 11)),
            return_exceptions=True,
        )
        assert all(not isinstance(o, Exception) or isinstance(o, OverCapacity) for o in outcomes)
    loads = [len(await queue.assigned(op)) for op in range(1, 11)]
    assert loads == [3] * 10
    waiting = {e.conversation_id for e in await queue.waiting()}
    held = {cid for op in range(1, 11) for cid in await queue.assigned(op)}
    assert not waiting & held and waiting | held == {e.conversation_id for e in queued}
