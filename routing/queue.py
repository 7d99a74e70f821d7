"""The live operator queue in Redis: one atomic Lua call (one round trip) per operation.

Take order within a group: the head lane (expired leases, requeued to head) first, then
priority class (1 = most urgent), then SLA deadline, then arrival. Every waiting
conversation of every group lives in one sorted set whose members are order keys
(`routing/queue.lua` explains them), so taking is O(log n) whatever the queue's size and
each group is a lexicographic range. A taken conversation is leased to its operator; the
lease is renewed by any action or a heartbeat, and an expired lease puts the
conversation back at the head of its group (`reclaim_expired`). The database stays the
source of truth: `routing/rebuild.py` restores all of this from it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from core import keys
from core.models import utcnow
from core.scripts import register
from routing.errors import AlreadyTaken, NotQueued, OperatorUnavailable, OverCapacity

__all__ = [
    "QueueEntry",
    "QueueFigures",
    "Reclaimed",
    "Located",
    "OperatorQueue",
    "SlaReport",
    "as_text",
    "validate_group",
    "to_micros",
    "from_micros",
]

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MICROSECOND = dt.timedelta(microseconds=1)
HEAD, BY_ORDER = "0", "1"
#: The most entries one call moves (reclaim, SLA scan): keeps every script call short.
BATCH = 500


def to_micros(moment: dt.datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to the queue; use aware UTC times")
    return (moment - EPOCH) // MICROSECOND


def from_micros(value: int | str) -> dt.datetime:
    return EPOCH + int(value) * MICROSECOND


def validate_group(group: str) -> str:
    """Group names become part of order keys: no separators, no control characters."""
    if (
        not group
        or len(group) > 64
        or any(c in "|}[(" or not c.isprintable() or c.isspace() for c in group)
    ):
        raise ValueError(
            f"invalid group name {group!r}: 1-64 printable characters, "
            "no spaces and none of | } [ ("
        )
    return group


@dataclass(frozen=True)
class QueueEntry:
    conversation_id: int
    group: str
    priority: int
    deadline: dt.datetime
    enqueued_at: dt.datetime
    client_id: int
    channel: str
    category: str | None

    def order_key(self, lane: str = BY_ORDER) -> str:
        validate_group(self.group)
        if not 1 <= self.priority <= 9:
            raise ValueError(f"priority class must be 1-9, got {self.priority}")
        return (
            f"{self.group}|{lane}{self.priority}|{to_micros(self.deadline):016d}"
            f"|{to_micros(self.enqueued_at):016d}|{self.conversation_id:012d}"
        )

    def details(self) -> str:
        return json.dumps(
            {"client": self.client_id, "channel": self.channel, "category": self.category},
            ensure_ascii=False,
        )

    @classmethod
    def decode(cls, key: str, details: str) -> QueueEntry:
        group, lane_priority, deadline, arrival, conversation = key.split("|")
        data = json.loads(details)
        return cls(
            conversation_id=int(conversation),
            group=group,
            priority=int(lane_priority[1]),
            deadline=from_micros(deadline),
            enqueued_at=from_micros(arrival),
            client_id=int(data.get("client", 0)),
            channel=str(data.get("channel", "")),
            category=data.get("category"),
        )


@dataclass(frozen=True)
class Reclaimed:
    """A conversation whose lease expired, back at the head of its group."""

    entry: QueueEntry
    operator_id: int | None


@dataclass(frozen=True)
class Located:
    """Where one conversation is: waiting (with its 1-based position) or held."""

    entry: QueueEntry
    holder: int | None
    position: int | None


@dataclass(frozen=True)
class SlaReport:
    """What one SLA scan found; each conversation appears at most once per kind, ever."""

    warnings: list[QueueEntry]
    breaches: list[QueueEntry]


@dataclass(frozen=True)
class QueueFigures:
    waiting: dict[str, int]
    assigned: int
    overdue: int
    breaching_soon: int

    @property
    def waiting_total(self) -> int:
        return sum(self.waiting.values())


def as_text(value: Any) -> str:
    """A reply value as str, whether the client decodes responses or not."""
    return value.decode() if isinstance(value, bytes) else str(value)


def _entries(flat: Sequence[Any], width: int = 3) -> list[list[str]]:
    return [[as_text(v) for v in flat[i : i + width]] for i in range(0, len(flat), width)]


class OperatorQueue:
    """The operations the desk, the dispatcher and the watcher run on the live queue."""

    def __init__(
        self, redis: Redis, *, lease_seconds: float = 300, clock: Callable[[], dt.datetime] = utcnow
    ) -> None:
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        self.redis = redis
        self.lease = dt.timedelta(seconds=lease_seconds)
        self.clock = clock
        self._script = register(redis, "routing", "queue.lua")
        self._keys = keys.queue_keys()

    async def call(self, operation: str, *args: Any, client: Redis | Pipeline | None = None) -> Any:
        """One EVALSHA of routing/queue.lua (loaded again by redis-py if Redis lost it)."""
        return await self._script(keys=self._keys, args=[operation, *args], client=client)

    def lease_until(self, now: dt.datetime | None = None) -> int:
        return to_micros((now or self.clock()) + self.lease)

    async def enqueue(self, entry: QueueEntry) -> bool:
        """Add a conversation to its group; False when it is already waiting or assigned
        (its details, e.g. the channel the client last wrote from, are refreshed)."""
        added = await self.call(
            "enqueue", entry.conversation_id, entry.order_key(), entry.details()
        )
        return bool(added)

    async def take_next(
        self, operator_id: int, groups: Sequence[str], capacity: int
    ) -> QueueEntry | None:
        """The next conversation from `groups` for the operator, or None when nothing waits
        there. Raises OverCapacity when the operator already holds `capacity`."""
        if not groups:
            return None
        reply = await self.call(
            "take_next",
            operator_id,
            capacity,
            self.lease_until(),
            *(validate_group(g) for g in groups),
        )
        if as_text(reply[0]) == "empty":
            return None
        return self._entry_or_raise(reply, 0, operator_id, capacity)

    async def take(self, conversation_id: int, operator_id: int, capacity: int) -> QueueEntry:
        """Take a given conversation; taking one you already hold renews its lease."""
        reply = await self.call("take", conversation_id, operator_id, capacity, self.lease_until())
        return self._entry_or_raise(reply, conversation_id, operator_id, capacity)

    async def requeue(self, conversation_id: int, *, head: bool = False) -> QueueEntry:
        """Back to waiting: at the head of its group, or at its place by order."""
        reply = await self.call("requeue", conversation_id, HEAD if head else BY_ORDER)
        return self._entry_or_raise(reply, conversation_id)

    async def transfer(
        self, conversation_id: int, *, group: str | None = None, operator_id: int | None = None
    ) -> QueueEntry:
        """Move to another group's queue (by order) and/or hand to an operator directly.

        An operator with a presence record must not be offline and must have room; one
        without a record (presence not tracked) is not checked.
        """
        if group is None and operator_id is None:
            raise ValueError("transfer needs a group or an operator")
        reply = await self.call(
            "transfer",
            conversation_id,
            validate_group(group) if group is not None else "",
            operator_id if operator_id is not None else "",
            self.lease_until(),
        )
        return self._entry_or_raise(reply, conversation_id, operator_id)

    async def remove(self, conversation_id: int) -> bool:
        """Forget a closed conversation; False when it was not in the queue."""
        return bool(await self.call("remove", conversation_id))

    async def renew(self, conversation_id: int, operator_id: int) -> bool:
        """Extend the operator's lease (call on every action). False when the operator no
        longer holds it: closed, back in the queue (lease expired) or someone else's now;
        `locate` says which."""
        now = self.clock()
        reply = await self.call(
            "renew", conversation_id, operator_id, to_micros(now), self.lease_until(now)
        )
        return as_text(reply[0]) == "ok"

    async def heartbeat(self, operator_id: int) -> int:
        """The operator is alive: renew every lease they hold; returns how many."""
        now = self.clock()
        return int(await self.call("heartbeat", operator_id, to_micros(now), self.lease_until(now)))

    async def reclaim_expired(self, now: dt.datetime | None = None) -> list[Reclaimed]:
        """Return conversations whose lease expired to the head of their group (all of them,
        in calls of at most BATCH each)."""
        moment = to_micros(now or self.clock())
        found: list[Reclaimed] = []
        while True:
            flat = await self.call("reclaim", moment, BATCH)
            rows = _entries(flat, 4)
            for _conversation, key, details, holder in rows:
                found.append(
                    Reclaimed(
                        QueueEntry.decode(key, details), None if int(holder) < 0 else int(holder)
                    )
                )
            if len(rows) < BATCH:
                return found

    async def expire_leases(self, now: dt.datetime) -> list[QueueEntry]:
        return [r.entry for r in await self.reclaim_expired(now)]

    async def scan_sla(self, now: dt.datetime, warn_before: dt.timedelta) -> SlaReport:
        """Waiting conversations that will breach within `warn_before` (not warned before)
        and those that breached (not reported before)."""
        warnings: list[QueueEntry] = []
        breaches: list[QueueEntry] = []
        while True:
            flat = await self.call("sla_scan", to_micros(now), to_micros(now + warn_before), BATCH)
            rows = _entries(flat, 4)
            for kind, _conversation, key, details in rows:
                (warnings if kind == "w" else breaches).append(QueueEntry.decode(key, details))
            if len(rows) < BATCH:
                return SlaReport(warnings, breaches)

    async def locate(self, conversation_id: int) -> Located | None:
        reply = await self.call("find", conversation_id)
        if not reply:
            return None
        key, details, holder, position = (as_text(v) for v in reply)
        return Located(
            QueueEntry.decode(key, details),
            None if int(holder) < 0 else int(holder),
            None if int(position) < 0 else int(position),
        )

    async def position(self, conversation_id: int) -> int | None:
        """1-based place in its group's take order; None unless waiting."""
        found = await self.locate(conversation_id)
        return found.position if found else None

    async def waiting(self, group: str | None = None, *, limit: int = 10_000) -> list[QueueEntry]:
        """Waiting conversations in take order (across groups: the order an operator serving
        all of them would get), at most `limit`."""
        flat = await self.call("peek", validate_group(group) if group else "", limit)
        rows = sorted(_entries(flat), key=lambda row: row[1].split("|", 1)[1])
        return [QueueEntry.decode(key, details) for _id, key, details in rows[:limit]]

    async def breaching(self, within: dt.timedelta, *, limit: int = 1_000) -> list[QueueEntry]:
        """Waiting conversations due within `within` (overdue ones too), earliest deadline
        first, at most `limit`."""
        flat = await self.call("breaching", to_micros(self.clock() + within), limit)
        found = [QueueEntry.decode(key, details) for _id, key, details in _entries(flat)]
        return sorted(found, key=lambda e: (e.deadline, e.priority, e.enqueued_at))[:limit]

    async def assigned(self, operator_id: int) -> list[int]:
        held = await self.redis.zrangebyscore(keys.queue_assigned(), operator_id, operator_id)
        return sorted(int(as_text(v)) for v in held)

    async def holdings(self) -> dict[int, int]:
        """How many conversations each operator holds, in one round trip."""
        rows = await self.redis.zrange(keys.queue_assigned(), 0, -1, withscores=True)
        return dict(Counter(int(row[1]) for row in rows))

    async def figures(self, soon: dt.timedelta = dt.timedelta(minutes=15)) -> QueueFigures:
        """What the console shows: waiting per group, held, overdue, breaching within `soon`."""
        groups, assigned, overdue, breaching = await self.call(
            "figures", to_micros(self.clock() + soon)
        )
        waiting = {as_text(groups[i]): int(groups[i + 1]) for i in range(0, len(groups), 2)}
        return QueueFigures(waiting, int(assigned), int(overdue), int(breaching))

    def _entry_or_raise(
        self,
        reply: Sequence[Any],
        conversation_id: int,
        operator_id: int | None = None,
        capacity: int | None = None,
    ) -> QueueEntry:
        status = as_text(reply[0])
        if status == "ok":
            return QueueEntry.decode(as_text(reply[2]), as_text(reply[3]))
        if status == "missing":
            raise NotQueued(conversation_id)
        if status == "taken":
            raise AlreadyTaken(int(reply[1]), conversation_id)
        if status == "offline":
            raise OperatorUnavailable(operator_id or 0)
        if status == "full":
            limit = capacity if capacity is not None else int(reply[1])
            raise OverCapacity(operator_id or 0, limit)
        raise RuntimeError(f"unexpected reply from the queue script: {reply!r}")
