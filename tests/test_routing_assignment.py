"""Push assignment and operator presence against a real Redis."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from redis.asyncio import Redis

from routing.assignment import Dispatcher
from routing.presence import Presence, PresenceState
from routing.queue import OperatorQueue, QueueEntry

T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)


def entry(conversation_id: int, *, group: str = "support", minutes: int = 0) -> QueueEntry:
    return QueueEntry(
        conversation_id,
        group,
        2,
        T0 + dt.timedelta(hours=1, minutes=minutes),
        T0 + dt.timedelta(minutes=minutes),
        100 + conversation_id,
        "web",
        None,
    )


@pytest.fixture
def queue(redis: Redis) -> OperatorQueue:
    return OperatorQueue(redis, clock=lambda: T0)


@pytest.fixture
def presence(redis: Redis) -> Presence:
    return Presence(redis, clock=lambda: T0)


async def test_presence_is_recorded_and_defaults_to_offline(presence: Presence) -> None:
    assert (await presence.get(1)).state is PresenceState.OFFLINE
    await presence.set(1, PresenceState.ONLINE, capacity=3, groups=["support", "fraud", "support"])
    await presence.set(2, PresenceState.AWAY, capacity=1, groups=[])
    one = await presence.get(1)
    assert (one.state, one.capacity, one.groups, one.seen) == (
        PresenceState.ONLINE,
        3,
        ("fraud", "support"),
        T0,
    )
    assert [(p.operator_id, p.state) for p in await presence.all()] == [
        (1, PresenceState.ONLINE),
        (2, PresenceState.AWAY),
    ]
    with pytest.raises(ValueError):
        await presence.set(3, PresenceState.ONLINE, capacity=-1, groups=[])


async def test_the_desk_is_left_with_no_console_open_and_the_admin_bot_not_used_lately(
    presence: Presence,
) -> None:
    ttl = dt.timedelta(seconds=90)
    await presence.connected(1, "first", ttl=ttl)
    await presence.connected(1, "second", ttl=ttl)
    assert not await presence.disconnected(1, "first")  # the second is still open
    await presence.used_admin_bot(1, within=dt.timedelta(milliseconds=300))
    assert not await presence.disconnected(1, "second")  # no console, but the bot just now
    await asyncio.sleep(0.4)
    await presence.connected(1, "third", ttl=ttl)
    assert await presence.disconnected(1, "third")
    await presence.connected(2, "other", ttl=ttl)
    assert await presence.disconnected(2, "other")


async def test_most_free_capacity_first_round_robin_on_ties(
    queue: OperatorQueue, presence: Presence
) -> None:
    await presence.set(1, PresenceState.ONLINE, capacity=2, groups=["support"])
    await presence.set(2, PresenceState.ONLINE, capacity=2, groups=["support"])
    await presence.set(3, PresenceState.AWAY, capacity=9, groups=["support"])
    await presence.set(4, PresenceState.ONLINE, capacity=9, groups=["fraud"])
    await presence.set(5, PresenceState.ONLINE, capacity=3, groups=["support"])
    await queue.take(await _enqueued(queue, 90), 5, capacity=3)  # 5 has 2 free, like 1 and 2
    dispatcher = Dispatcher(queue)
    got = [(await dispatcher.submit(entry(n, minutes=n))).operator_for(n) for n in range(1, 8)]
    # all three have 2 free: 1, 2, 5 in turn; then 1 free each: 1, 2, 5 again; then full
    assert got == [1, 2, 5, 1, 2, 5, None]
    assert [e.conversation_id for e in await queue.waiting()] == [7]
    assert await queue.assigned(3) == [] and await queue.assigned(4) == []


async def test_submit_is_idempotent(queue: OperatorQueue, presence: Presence) -> None:
    dispatcher = Dispatcher(queue)
    first = await dispatcher.submit(entry(1))
    assert first.created and first.assignments == []
    again = await dispatcher.submit(entry(1))
    assert not again.created and again.assignments == []
    assert len(await queue.waiting()) == 1


async def test_dispatch_pushes_the_head_when_an_operator_comes_online(
    queue: OperatorQueue, presence: Presence
) -> None:
    dispatcher = Dispatcher(queue)
    for n in (3, 1, 2):
        await dispatcher.submit(entry(n, minutes=n))
    await presence.set(7, PresenceState.ONLINE, capacity=2, groups=["support"])
    assigned = await dispatcher.dispatch("support")
    assert [(a.entry.conversation_id, a.operator_id) for a in assigned] == [(1, 7), (2, 7)]
    assert await dispatcher.dispatch("support") == []
    await queue.remove(1)  # closed: room for one more
    assert [a.entry.conversation_id for a in await dispatcher.dispatch("support")] == [3]


async def test_stale_operators_get_nothing(redis: Redis) -> None:
    clock = [T0]
    queue = OperatorQueue(redis, clock=lambda: clock[0])
    presence = Presence(redis, clock=lambda: clock[0])
    dispatcher = Dispatcher(queue, stale_after=dt.timedelta(minutes=2))
    await presence.set(1, PresenceState.ONLINE, capacity=5, groups=["support"])
    await presence.set(2, PresenceState.ONLINE, capacity=1, groups=["support"])
    clock[0] += dt.timedelta(minutes=5)
    await queue.heartbeat(2)  # only 2 is still there
    assert (await dispatcher.submit(entry(1))).operator_for(1) == 2
    assert (await dispatcher.submit(entry(2))).operator_for(2) is None


async def _enqueued(queue: OperatorQueue, conversation_id: int) -> int:
    await queue.enqueue(entry(conversation_id))
    return conversation_id
