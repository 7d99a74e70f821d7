"""The live queue against a real Redis: order, idempotence, taking, capacity, transfer,
requeue and leases."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from redis.asyncio import Redis

from routing.errors import AlreadyTaken, NotQueued, OperatorUnavailable, OverCapacity
from routing.presence import Presence, PresenceState
from routing.queue import OperatorQueue, QueueEntry

T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
_ids = itertools.count(1)


def entry(
    *,
    priority: int = 2,
    deadline_min: float = 60,
    arrived_min: float = 0,
    group: str = "support",
    conversation_id: int | None = None,
    client_id: int = 1,
    channel: str = "telegram",
    category: str | None = "cards",
) -> QueueEntry:
    return QueueEntry(
        conversation_id=conversation_id or next(_ids),
        group=group,
        priority=priority,
        deadline=T0 + dt.timedelta(minutes=deadline_min),
        enqueued_at=T0 + dt.timedelta(minutes=arrived_min),
        client_id=client_id,
        channel=channel,
        category=category,
    )


class Clock:
    def __init__(self, now: dt.datetime = T0) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queue(redis: Redis, clock: Clock) -> OperatorQueue:
    return OperatorQueue(redis, lease_seconds=300, clock=clock)


def ids(entries: list[QueueEntry]) -> list[int]:
    return [e.conversation_id for e in entries]


async def test_order_is_priority_then_deadline_then_arrival(queue: OperatorQueue) -> None:
    late_urgent = entry(priority=1, deadline_min=300, arrived_min=5)
    early_normal = entry(priority=2, deadline_min=10, arrived_min=0)
    same_deadline_later = entry(priority=2, deadline_min=60, arrived_min=3)
    same_deadline_earlier = entry(priority=2, deadline_min=60, arrived_min=1)
    low = entry(priority=3, deadline_min=1, arrived_min=0)
    for e in (low, same_deadline_later, early_normal, late_urgent, same_deadline_earlier):
        assert await queue.enqueue(e)
    expected = [late_urgent, early_normal, same_deadline_earlier, same_deadline_later, low]
    assert await queue.waiting("support") == expected
    assert [await queue.position(e.conversation_id) for e in expected] == [1, 2, 3, 4, 5]
    taken = [await queue.take_next(7, ["support"], capacity=10) for _ in expected]
    assert taken == expected
    assert await queue.take_next(7, ["support"], capacity=10) is None


async def test_take_next_serves_only_the_operators_groups(queue: OperatorQueue) -> None:
    fraud = entry(group="fraud", priority=1, deadline_min=30)
    support = entry(group="support", priority=2, deadline_min=10)
    loans = entry(group="loans", priority=1, deadline_min=1)
    for e in (fraud, support, loans):
        await queue.enqueue(e)
    assert await queue.take_next(1, ["support", "fraud"], capacity=5) == fraud
    assert await queue.take_next(1, ["support", "fraud"], capacity=5) == support
    assert await queue.take_next(1, ["support", "fraud"], capacity=5) is None
    assert ids(await queue.waiting()) == [loans.conversation_id]
    assert await queue.take_next(1, [], capacity=5) is None


async def test_waiting_across_groups_is_in_take_order(queue: OperatorQueue) -> None:
    entries = [
        entry(group="a", priority=2, deadline_min=20),
        entry(group="b", priority=1),
        entry(group="a", priority=2, deadline_min=10),
        entry(group="c", priority=3),
    ]
    for e in entries:
        await queue.enqueue(e)
    order = [entries[1], entries[2], entries[0], entries[3]]
    assert await queue.waiting() == order
    assert await queue.waiting(limit=2) == order[:2]
    figures = await queue.figures()
    assert figures.waiting == {"a": 2, "b": 1, "c": 1} and figures.waiting_total == 4


async def test_enqueue_is_idempotent_per_conversation(queue: OperatorQueue) -> None:
    first = entry(priority=2, deadline_min=30)
    other = entry(priority=2, deadline_min=40)
    assert await queue.enqueue(first)
    assert await queue.enqueue(other)
    assert not await queue.enqueue(first)
    again = QueueEntry(**{**first.__dict__, "channel": "vk"})  # the client wrote from VK too
    assert not await queue.enqueue(again)
    assert await queue.waiting() == [again, other]  # one entry, same place, latest channel
    taken = await queue.take_next(3, ["support"], capacity=2)
    assert taken == again
    assert not await queue.enqueue(first), "an assigned conversation is not queued again"
    assert ids(await queue.waiting()) == [other.conversation_id]


async def test_take_a_given_conversation(queue: OperatorQueue) -> None:
    wanted, other = entry(deadline_min=90), entry(deadline_min=10)
    await queue.enqueue(wanted)
    await queue.enqueue(other)
    assert await queue.take(wanted.conversation_id, operator_id=5, capacity=2) == wanted
    # taking what you already hold is fine (a double click)
    assert await queue.take(wanted.conversation_id, operator_id=5, capacity=2) == wanted
    with pytest.raises(AlreadyTaken) as caught:
        await queue.take(wanted.conversation_id, operator_id=6, capacity=2)
    assert caught.value.holder == 5
    with pytest.raises(NotQueued):
        await queue.take(999_999, operator_id=6, capacity=2)
    assert await queue.assigned(5) == [wanted.conversation_id]
    assert await queue.position(wanted.conversation_id) is None
    assert await queue.position(other.conversation_id) == 1


async def test_capacity_limits_taking(queue: OperatorQueue) -> None:
    entries = [entry(deadline_min=m) for m in (1, 2, 3, 4)]
    for e in entries:
        await queue.enqueue(e)
    assert await queue.take_next(1, ["support"], capacity=2) == entries[0]
    assert await queue.take(entries[3].conversation_id, 1, capacity=2) == entries[3]
    with pytest.raises(OverCapacity) as caught:
        await queue.take_next(1, ["support"], capacity=2)
    assert (caught.value.operator_id, caught.value.capacity) == (1, 2)
    with pytest.raises(OverCapacity):
        await queue.take(entries[1].conversation_id, 1, capacity=2)
    assert ids(await queue.waiting()) == [entries[1].conversation_id, entries[2].conversation_id]
    assert await queue.remove(entries[0].conversation_id)  # closed: room again
    assert await queue.take_next(1, ["support"], capacity=2) == entries[1]
    with pytest.raises(OverCapacity):
        await queue.take_next(2, ["support"], capacity=0)


async def test_remove_forgets_and_allows_reopening(queue: OperatorQueue) -> None:
    e = entry()
    await queue.enqueue(e)
    assert await queue.remove(e.conversation_id)
    assert not await queue.remove(e.conversation_id)
    assert await queue.waiting() == [] and await queue.locate(e.conversation_id) is None
    assert await queue.enqueue(e)  # reopened conversation
    assert await queue.waiting() == [e]


async def test_requeue_by_order_or_to_the_head(queue: OperatorQueue) -> None:
    first, second, third = (entry(deadline_min=m) for m in (10, 20, 30))
    for e in (first, second, third):
        await queue.enqueue(e)
    await queue.take(third.conversation_id, 1, capacity=3)
    await queue.requeue(third.conversation_id)
    assert await queue.waiting() == [first, second, third]
    await queue.take(third.conversation_id, 1, capacity=3)
    await queue.requeue(third.conversation_id, head=True)
    assert await queue.waiting() == [third, first, second]
    assert await queue.assigned(1) == []
    await queue.requeue(third.conversation_id)  # waiting: back to its place
    assert await queue.waiting() == [first, second, third]
    with pytest.raises(NotQueued):
        await queue.requeue(424242)


async def test_transfer_to_group_keeps_the_deadline_order(queue: OperatorQueue) -> None:
    moved = entry(group="support", deadline_min=15)
    there = [entry(group="fraud", deadline_min=m) for m in (10, 20)]
    for e in (moved, *there):
        await queue.enqueue(e)
    await queue.take(moved.conversation_id, 4, capacity=1)
    result = await queue.transfer(moved.conversation_id, group="fraud")
    assert result.group == "fraud"
    assert ids(await queue.waiting("fraud")) == [
        there[0].conversation_id,
        moved.conversation_id,
        there[1].conversation_id,
    ]
    assert await queue.waiting("support") == [] and await queue.assigned(4) == []
    assert await queue.take_next(4, ["support"], capacity=1) is None


async def test_transfer_to_operator_respects_presence_and_capacity(
    queue: OperatorQueue, redis: Redis
) -> None:
    presence = Presence(redis)
    a, b, c = entry(), entry(), entry()
    for e in (a, b, c):
        await queue.enqueue(e)
    await presence.set(10, PresenceState.ONLINE, capacity=1, groups=["support"])
    await presence.set(11, PresenceState.OFFLINE, capacity=5, groups=["support"])
    await queue.transfer(a.conversation_id, operator_id=10)
    assert await queue.assigned(10) == [a.conversation_id]
    with pytest.raises(OverCapacity):
        await queue.transfer(b.conversation_id, operator_id=10)
    with pytest.raises(OperatorUnavailable):
        await queue.transfer(b.conversation_id, operator_id=11)
    assert ids(await queue.waiting()) == [b.conversation_id, c.conversation_id]  # untouched
    await queue.transfer(a.conversation_id, operator_id=12)  # no presence: not checked
    assert await queue.assigned(10) == [] and await queue.assigned(12) == [a.conversation_id]
    await queue.transfer(c.conversation_id, group="loans", operator_id=12)
    located = await queue.locate(c.conversation_id)
    assert located is not None and (located.entry.group, located.holder) == ("loans", 12)
    with pytest.raises(ValueError):
        await queue.transfer(b.conversation_id)


async def test_expired_lease_returns_to_the_head(queue: OperatorQueue, clock: Clock) -> None:
    urgent = entry(priority=1, deadline_min=5)
    calm = entry(priority=3, deadline_min=600)
    await queue.enqueue(urgent)
    await queue.enqueue(calm)
    assert await queue.take_next(8, ["support"], capacity=3) == urgent
    assert await queue.take_next(8, ["support"], capacity=3) == calm
    clock.advance(200)
    assert await queue.renew(urgent.conversation_id, 8)  # the operator acts on it
    clock.advance(150)  # calm's lease ran out at 300 s
    reclaimed = await queue.reclaim_expired()
    assert [(r.entry, r.operator_id) for r in reclaimed] == [(calm, 8)]
    newcomer = entry(priority=1, deadline_min=1)
    await queue.enqueue(newcomer)
    assert ids(await queue.waiting()) == [calm.conversation_id, newcomer.conversation_id]
    assert await queue.assigned(8) == [urgent.conversation_id]
    assert not await queue.renew(calm.conversation_id, 8)  # lost: waiting again
    assert await queue.take_next(9, ["support"], capacity=1) == calm  # the head goes first
    assert not await queue.renew(calm.conversation_id, 8)  # someone else's now
    assert not await queue.renew(123456, 8)  # not in the queue at all
    clock.advance(400)
    assert [r.entry for r in await queue.reclaim_expired()] == [urgent, calm]
    assert await queue.expire_leases(clock.now) == []


async def test_heartbeat_renews_every_lease_of_the_operator(
    queue: OperatorQueue, clock: Clock
) -> None:
    entries = [entry() for _ in range(3)]
    for e in entries:
        await queue.enqueue(e)
        await queue.take(e.conversation_id, 2, capacity=5)
    clock.advance(250)
    assert await queue.heartbeat(2) == 3
    clock.advance(250)
    assert await queue.reclaim_expired() == []
    clock.advance(100)
    assert len(await queue.reclaim_expired()) == 3


async def test_bad_input_is_refused_before_redis(queue: OperatorQueue) -> None:
    with pytest.raises(ValueError, match="priority"):
        await queue.enqueue(entry(priority=0))
    with pytest.raises(ValueError, match="group"):
        await queue.enqueue(entry(group="two words"))
    with pytest.raises(ValueError, match="naive"):
        naive = dt.datetime(2026, 1, 1)
        await queue.enqueue(QueueEntry(1, "support", 2, naive, T0, 1, "web", None))
    assert await queue.waiting() == []


async def test_breaching_soon_lists_waiting_conversations_by_deadline(
    queue: OperatorQueue, clock: Clock
) -> None:
    overdue, soon, later, held = (entry(deadline_min=m) for m in (-5, 10, 120, 3))
    for e in (later, soon, overdue, held):
        await queue.enqueue(e)
    await queue.take(held.conversation_id, 1, capacity=1)
    assert await queue.breaching(dt.timedelta(minutes=15)) == [overdue, soon]
    await queue.scan_sla(clock.now, dt.timedelta(minutes=15))  # warned / overdue states
    assert await queue.breaching(dt.timedelta(minutes=15)) == [overdue, soon]
    assert await queue.breaching(dt.timedelta(hours=3), limit=2) == [overdue, soon]
    assert len(await queue.breaching(dt.timedelta(hours=3))) == 3


async def test_a_restarted_redis_without_the_script_is_served_again(
    queue: OperatorQueue, redis: Redis
) -> None:
    first = entry()
    await queue.enqueue(first)
    await redis.script_flush()  # as after a Redis restart
    second = entry(deadline_min=1)
    assert await queue.enqueue(second)
    assert await queue.waiting() == [second, first]
    other_process = OperatorQueue(redis)  # a new gateway sees it all
    assert await other_process.take_next(1, ["support"], capacity=1) == second
