"""Operator presence: online / away / offline, with capacity and the groups served.

Push assignment (routing/assignment.py) only gives work to operators who are online, serve
the group and have room; pulling work (`next`) is open to anyone. Presence is live state
in Redis: after a flush, operators announce themselves again when they next act.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from redis.asyncio import Redis

from core import keys
from core.models import utcnow
from routing.queue import as_text, from_micros, to_micros, validate_group

__all__ = ["OperatorPresence", "Presence", "PresenceState"]


class PresenceState(str, enum.Enum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


@dataclass(frozen=True)
class OperatorPresence:
    operator_id: int
    state: PresenceState
    capacity: int
    groups: tuple[str, ...]
    seen: dt.datetime | None = None


class Presence:
    def __init__(self, redis: Redis, *, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.redis = redis
        self.clock = clock

    async def set(
        self, operator_id: int, state: PresenceState, *, capacity: int, groups: Iterable[str]
    ) -> OperatorPresence:
        """Record the operator's state (one round trip: HSET and the seen stamp together)."""
        if capacity < 0:
            raise ValueError("capacity cannot be negative")
        served = tuple(sorted({validate_group(g) for g in groups}))
        now = self.clock()
        record = json.dumps(
            {"state": PresenceState(state).value, "capacity": capacity, "groups": list(served)}
        )
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.operator_presence(), str(operator_id), record)
            pipe.zadd(keys.operator_seen(), {str(operator_id): to_micros(now)})
            await pipe.execute()
        return OperatorPresence(operator_id, PresenceState(state), capacity, served, now)

    async def connected(self, operator_id: int, console_id: str, *, ttl: dt.timedelta) -> None:
        """A console of the operator is open (in any process): kept for `ttl`, renewed by
        its heartbeat, so a process that died does not keep it open for ever."""
        key = keys.operator_consoles(operator_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {console_id: to_micros(self.clock() + ttl)})
            pipe.pexpire(key, ttl)
            await pipe.execute()

    async def used_admin_bot(self, operator_id: int, *, within: dt.timedelta) -> None:
        """The operator acted in the admin bot: for `within` they count as at the desk
        whether or not a console of theirs is open."""
        await self.redis.set(keys.operator_in_admin_bot(operator_id), "1", px=within)

    async def disconnected(self, operator_id: int, console_id: str) -> bool:
        """Forget one console; True when the operator has left the desk: none of their
        consoles is open any more and they have not used the admin bot lately."""
        key = keys.operator_consoles(operator_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(key, console_id)
            pipe.zremrangebyscore(key, "-inf", to_micros(self.clock()))
            pipe.zcard(key)
            pipe.exists(keys.operator_in_admin_bot(operator_id))
            *_, consoles, in_admin_bot = await pipe.execute()
        return int(consoles) == 0 and not in_admin_bot

    async def get(self, operator_id: int) -> OperatorPresence:
        """The operator's presence; offline with no capacity when never announced."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hget(keys.operator_presence(), str(operator_id))
            pipe.zscore(keys.operator_seen(), str(operator_id))
            raw, seen = await pipe.execute()
        if raw is None:
            return OperatorPresence(operator_id, PresenceState.OFFLINE, 0, ())
        return self._decode(operator_id, as_text(raw), seen)

    async def all(self) -> list[OperatorPresence]:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.operator_presence())
            pipe.zrange(keys.operator_seen(), 0, -1, withscores=True)
            records, seen = await pipe.execute()
        stamps = {as_text(op): score for op, score in seen}
        return sorted(
            (
                self._decode(int(as_text(op)), as_text(raw), stamps.get(as_text(op)))
                for op, raw in records.items()
            ),
            key=lambda p: p.operator_id,
        )

    @staticmethod
    def _decode(operator_id: int, raw: str, seen: float | None) -> OperatorPresence:
        data = json.loads(raw)
        return OperatorPresence(
            operator_id,
            PresenceState(data["state"]),
            int(data["capacity"]),
            tuple(data["groups"]),
            from_micros(int(seen)) if seen is not None else None,
        )
