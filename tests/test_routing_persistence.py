"""The routing's database side: the SLA watcher's records and rebuilding the live queue
from the database after Redis lost it."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select, update
from waiting import eventually

from core.contracts import ChannelKind
from core.db import SessionFactory
from core.models import (
    Client,
    Conversation,
    ConversationEvent,
    ConversationStatus,
    EventKind,
    Identity,
    Operator,
)
from routing.queue import OperatorQueue, QueueEntry
from routing.rebuild import entry_for, rebuild_queue
from routing.watcher import SlaWatcher

T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
GROUPS = ("support", "fraud", "loans")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


class RecordingDesk:
    """What `admin/` would show operators, kept so the test can read it."""

    def __init__(self) -> None:
        self.warnings: list[int] = []
        self.breaches: list[int] = []
        self.expired: list[tuple[int, int | None]] = []

    async def sla_warning(self, entry: QueueEntry) -> None:
        self.warnings.append(entry.conversation_id)

    async def sla_breached(self, entry: QueueEntry) -> None:
        self.breaches.append(entry.conversation_id)

    async def lease_expired(self, entry: QueueEntry, operator_id: int | None) -> None:
        self.expired.append((entry.conversation_id, operator_id))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queue(redis: Redis, clock: Clock) -> OperatorQueue:
    return OperatorQueue(redis, lease_seconds=300, clock=clock)


async def operators(sessions: SessionFactory, count: int) -> list[int]:
    async with sessions() as session, session.begin():
        rows = [Operator(name=f"op{n}") for n in range(count)]
        session.add_all(rows)
    return [o.id for o in rows]


async def conversations(sessions: SessionFactory, specs: list[tuple[str, int, int]]) -> list[int]:
    """Queued conversations from (group, priority, deadline minutes after T0) specs."""
    async with sessions() as session, session.begin():
        client = Client(display_name="Анна")
        session.add(client)
        await session.flush()
        identity = Identity(client_id=client.id, channel=ChannelKind.TELEGRAM, external_id="42")
        session.add(identity)
        await session.flush()
        rows = [
            Conversation(
                client_id=client.id,
                identity_id=identity.id,
                status=ConversationStatus.QUEUED,
                group=group,
                priority=priority,
                category="cards",
                sla_deadline=T0 + dt.timedelta(minutes=minutes),
                queued_at=T0 + dt.timedelta(seconds=n),
                last_channel=ChannelKind.TELEGRAM,
                last_identity_id=identity.id,
            )
            for n, (group, priority, minutes) in enumerate(specs)
        ]
        session.add_all(rows)
    return [c.id for c in rows]


async def enqueue_stored(sessions: SessionFactory, queue: OperatorQueue, ids: list[int]) -> None:
    async with sessions() as session:
        for conversation in (
            await session.scalars(select(Conversation).where(Conversation.id.in_(ids)))
        ).all():
            assert await queue.enqueue(entry_for(conversation))


async def record(
    sessions: SessionFactory,
    conversation_id: int,
    kind: EventKind,
    *,
    status: ConversationStatus,
    operator_id: int | None = None,
    group: str | None = None,
    **data: object,
) -> None:
    """What the desk writes when it acts on the queue."""
    values: dict[str, object] = {"status": status, "assigned_operator_id": operator_id}
    if group is not None:
        values["group"] = group
    async with sessions() as session, session.begin():
        await session.execute(
            update(Conversation).where(Conversation.id == conversation_id).values(**values)
        )
        session.add(
            ConversationEvent(
                conversation_id=conversation_id,
                kind=kind,
                operator_id=operator_id,
                group=group,
                data=data,
            )
        )


async def events(sessions: SessionFactory, kind: EventKind) -> list[int]:
    async with sessions() as session:
        return sorted(
            (
                await session.scalars(
                    select(ConversationEvent.conversation_id).where(ConversationEvent.kind == kind)
                )
            ).all()
        )


async def snapshot(queue: OperatorQueue, operator_ids: list[int]) -> tuple[Any, ...]:
    waiting = await queue.waiting()
    positions = [await queue.position(e.conversation_id) for e in waiting]
    held = {op: await queue.assigned(op) for op in operator_ids}
    return waiting, positions, held, await queue.figures()


async def test_watcher_warns_once_records_breaches_and_expires_leases(
    sessions: SessionFactory, queue: OperatorQueue, clock: Clock
) -> None:
    soon, later, breached, held = await conversations(
        sessions, [("support", 2, 10), ("support", 2, 120), ("fraud", 1, -1), ("support", 3, 600)]
    )
    [operator] = await operators(sessions, 1)
    await enqueue_stored(sessions, queue, [soon, later, breached, held])
    await queue.take(held, operator, capacity=1)
    await record(
        sessions, held, EventKind.TAKEN, status=ConversationStatus.ASSIGNED, operator_id=operator
    )
    desk = RecordingDesk()
    watcher = SlaWatcher(queue, sessions, desk, warn_before=dt.timedelta(minutes=15))

    report = await watcher.run_once()
    assert ([e.conversation_id for e in report.warnings], desk.warnings) == ([soon], [soon])
    assert desk.breaches == [breached] and desk.expired == []
    await watcher.run_once()
    assert (desk.warnings, desk.breaches) == ([soon], [breached]), "reported once"

    clock.advance(minutes=11)  # soon breaches; held's lease ran out
    await watcher.run_once()
    assert desk.breaches == [breached, soon] and desk.expired == [(held, operator)]
    assert await events(sessions, EventKind.SLA_WARNING) == [soon]
    assert await events(sessions, EventKind.SLA_BREACHED) == sorted([breached, soon])
    assert await events(sessions, EventKind.LEASE_EXPIRED) == [held]
    async with sessions() as session:
        back = await session.get(Conversation, held)
        assert back is not None
        assert (back.status, back.assigned_operator_id) == (ConversationStatus.QUEUED, None)
    assert (await queue.waiting("support"))[0].conversation_id == held  # at the head
    figures = await queue.figures(soon=dt.timedelta(hours=3))
    assert (figures.overdue, figures.breaching_soon) == (2, 1)


async def test_watcher_runs_in_the_background_and_survives_a_failing_desk(
    sessions: SessionFactory, queue: OperatorQueue
) -> None:
    late, later = await conversations(sessions, [("support", 2, -5), ("support", 2, -5)])
    await enqueue_stored(sessions, queue, [late])

    class BrokenDesk(RecordingDesk):
        async def sla_breached(self, entry: QueueEntry) -> None:
            await super().sla_breached(entry)
            raise RuntimeError("the admin bot is down")

    desk = BrokenDesk()
    watcher = SlaWatcher(queue, sessions, desk, interval=0.02)
    watcher.start()
    try:
        await eventually(lambda: desk.breaches, what="the breach reported")
        await enqueue_stored(sessions, queue, [later])  # the watcher still looks after a failure
        await eventually(lambda: desk.breaches == [late, later], what="the next breach reported")
        assert watcher.running
    finally:
        await watcher.stop()
    assert not watcher.running
    assert await events(sessions, EventKind.SLA_BREACHED) == [late, later]


async def test_flush_mid_run_then_rebuild_restores_the_same_queue(
    sessions: SessionFactory, queue: OperatorQueue, redis: Redis, clock: Clock
) -> None:
    rng = random.Random(7)
    specs = [
        (rng.choice(GROUPS), rng.randint(1, 3), rng.choice((5, 12, 30, 90, 240)))
        for _ in range(120)
    ]
    ids = await conversations(sessions, specs)
    ops = await operators(sessions, 4)
    await enqueue_stored(sessions, queue, ids)
    desk = RecordingDesk()
    watcher = SlaWatcher(queue, sessions, desk, warn_before=dt.timedelta(minutes=10))

    async def take_next(op: int) -> int:
        taken = await queue.take_next(op, list(GROUPS), capacity=50)
        assert taken is not None
        await record(
            sessions,
            taken.conversation_id,
            EventKind.TAKEN,
            status=ConversationStatus.ASSIGNED,
            operator_id=op,
        )
        return taken.conversation_id

    early = [await take_next(ops[n % 2]) for n in range(6)]
    clock.advance(seconds=200)
    late = [await take_next(ops[2 + n % 2]) for n in range(6)]
    clock.advance(seconds=150)  # the early leases expire
    report = await watcher.run_once()
    assert sorted(r.entry.conversation_id for r in report.expired) == sorted(early)
    assert report.warnings, "some deadlines are within 10 minutes"

    to_head, by_order = late[0], late[1]
    await queue.requeue(to_head, head=True)
    await record(sessions, to_head, EventKind.REQUEUED, status=ConversationStatus.QUEUED, head=True)
    await queue.requeue(by_order)
    await record(
        sessions, by_order, EventKind.REQUEUED, status=ConversationStatus.QUEUED, head=False
    )
    moved = (await queue.waiting("loans"))[-1].conversation_id
    await queue.transfer(moved, group="fraud")
    await record(
        sessions, moved, EventKind.TRANSFERRED, status=ConversationStatus.QUEUED, group="fraud"
    )
    closed = (await queue.waiting("support"))[3].conversation_id
    await queue.remove(closed)
    await record(sessions, closed, EventKind.CLOSED, status=ConversationStatus.CLOSED)

    before = await snapshot(queue, ops)
    assert len(before[0]) == 120 - 1 - 4  # waiting: all but the closed and 4 held
    await redis.flushdb()
    assert await queue.waiting() == []

    rebuilt = await rebuild_queue(sessions, queue)
    assert (rebuilt.waiting, rebuilt.assigned, rebuilt.kept, rebuilt.removed) == (115, 4, 0, 0)
    assert await snapshot(queue, ops) == before
    again = await rebuild_queue(sessions, queue)  # idempotent: nothing moves
    assert (again.waiting, again.assigned, again.kept, again.removed) == (0, 4, 115, 0)
    assert await snapshot(queue, ops) == before

    warned, breached = set(desk.warnings), set(desk.breaches)
    await watcher.run_once()
    assert set(desk.warnings) == warned, "a rebuilt queue does not warn again"
    assert len(desk.breaches) == len(set(desk.breaches)) and breached <= set(desk.breaches)
    assert set(desk.breaches) - breached <= {to_head, by_order}  # waiting again since the scan


async def test_rebuild_removes_what_the_database_closed(
    sessions: SessionFactory, queue: OperatorQueue
) -> None:
    open_one, closed_one = await conversations(sessions, [("support", 2, 60), ("support", 2, 30)])
    await enqueue_stored(sessions, queue, [open_one, closed_one])
    await record(sessions, closed_one, EventKind.CLOSED, status=ConversationStatus.CLOSED)
    report = await rebuild_queue(sessions, queue)
    assert (report.kept, report.removed) == (1, 1)
    assert [e.conversation_id for e in await queue.waiting()] == [open_one]
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ConversationEvent)) == 1
