"""Waiting for what Redis shows: a listener subscribed, a lease renewed by its holder.

Both replace a fixed sleep: a publish before the listener has subscribed is lost, and a
lease proves it is held only by outliving its time to live, renewal after renewal.
"""

from __future__ import annotations

from typing import Any

from waiting import eventually

__all__ = ["lease_renewed", "listeners", "subscribed"]


async def listeners(redis: Any, channel: str) -> int:
    """How many connections listen on `channel` (a plain Redis, not a cluster)."""
    [(_name, count)] = await redis.pubsub_numsub(channel)
    return int(count)


async def subscribed(redis: Any, channel: str, count: int = 1) -> None:
    """Return once at least `count` connections listen on `channel`."""

    async def enough() -> bool:
        return await listeners(redis, channel) >= count

    await eventually(enough, what=f"{count} listener(s) on {channel}")


async def lease_renewed(redis: Any, key: str, times: int = 2, timeout: float = 15.0) -> None:
    """Return once the lease at `key` has been renewed `times` times: its time to live went
    back up (a lease nobody renews expires instead, and another holder may take it)."""
    seen = {"renewals": 0, "last": -1}

    async def renewed() -> bool:
        left = int(await redis.pttl(key))
        assert left > 0, f"the lease {key} is not held"
        if seen["last"] >= 0 and left > seen["last"]:
            seen["renewals"] += 1
        seen["last"] = left
        return seen["renewals"] >= times

    await eventually(renewed, timeout, interval=0.01, what=f"{times} renewals of {key}")
