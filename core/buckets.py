"""Token buckets in Redis, shared by every gateway process: abuse limits that let a person
type at their own pace and stop a script.

A bucket holds up to `capacity` tokens and gains `per_second` of them back; an action
takes one token from each bucket that covers it (the visitor's and their network's), all
or none, so a refused action costs nothing. Keys are built in `core.keys`; the Lua script
lies beside this module.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from redis.asyncio import Redis

from core import keys
from core.scripts import register

__all__ = ["Buckets", "Rate"]


@dataclass(frozen=True)
class Rate:
    """`capacity` actions at once, then one more every `every`."""

    capacity: int
    every: dt.timedelta

    def __post_init__(self) -> None:
        if self.capacity < 1 or self.every <= dt.timedelta(0):
            raise ValueError("a rate needs a capacity of at least 1 and a positive interval")

    @property
    def per_second(self) -> float:
        return 1 / self.every.total_seconds()


class Buckets:
    def __init__(self, redis: Redis) -> None:
        self._take = register(redis, "core", "buckets.lua")

    async def take(self, *limits: tuple[str, str, Rate], cost: int = 1) -> dt.timedelta:
        """Take `cost` from each bucket `(kind, subject, rate)`; zero when allowed, else how
        long until it would be (and nothing is taken)."""
        names = [keys.bucket(kind, subject) for kind, subject, _ in limits]
        arguments: list[float] = [cost]
        for _, _, rate in limits:
            arguments += [rate.capacity, rate.per_second]
        wait = int(await self._take(keys=names, args=arguments))
        return dt.timedelta(milliseconds=wait)
