"""The Redis lease that keeps exactly one poller per bot across gateway processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time

import pytest
from redis.asyncio import Redis
from redis_waits import lease_renewed
from waiting import eventually

from core import keys
from core.leases import LeaseLost, RedisPollerLease

HOLDER_SCRIPT = """
import asyncio, sys
from redis.asyncio import Redis
from core.leases import RedisPollerLease

async def main():
    redis = Redis.from_url(sys.argv[1])
    lease = RedisPollerLease(redis, "telegram:42", ttl=1.5)
    async def work():
        print("held", flush=True)
        await asyncio.Event().wait()
    await lease.hold(work)

asyncio.run(main())
"""


async def test_one_holder_and_handover_on_cancel(redis: Redis) -> None:
    first, second = (RedisPollerLease(redis, "telegram:42", ttl=1.0) for _ in range(2))
    running: list[str] = []

    def work(name: str):  # type: ignore[no-untyped-def]
        async def poll() -> None:
            running.append(name)
            await asyncio.Event().wait()

        return poll

    a = asyncio.create_task(first.hold(work("a")))
    await eventually(lambda: running == ["a"], what="A holding")
    b = asyncio.create_task(second.hold(work("b")))
    await lease_renewed(redis, keys.poller_lease("telegram:42"), times=3)  # A keeps it
    assert running == ["a"] and await first.holder() == first.owner
    a.cancel()  # clean shutdown releases at once
    with contextlib.suppress(asyncio.CancelledError):
        await a
    await eventually(lambda: running == ["a", "b"], 1.0, what="B taking over")
    b.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await b
    assert await first.holder() is None


async def test_takeover_after_the_holder_process_is_killed(redis: Redis, redis_url: str) -> None:
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        HOLDER_SCRIPT,
        redis_url,
        stdout=asyncio.subprocess.PIPE,
        cwd=os.getcwd(),
    )
    try:
        assert holder.stdout is not None
        assert (await asyncio.wait_for(holder.stdout.readline(), 20)).strip() == b"held"
        successor = RedisPollerLease(redis, "telegram:42", ttl=1.5)
        taken = asyncio.Event()

        async def work() -> None:
            taken.set()
            await asyncio.Event().wait()

        task = asyncio.create_task(successor.hold(work))
        await lease_renewed(redis, keys.poller_lease("telegram:42"), times=3)
        assert not taken.is_set()  # the live holder keeps renewing
        holder.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        await asyncio.wait_for(taken.wait(), 5)
        assert time.monotonic() - killed_at < 1.5 + 0.6  # within ttl plus one retry interval
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        if holder.returncode is None:
            holder.kill()
        await holder.wait()


async def test_lost_lease_stops_the_work_and_fences_the_cursor(redis: Redis) -> None:
    lease = RedisPollerLease(redis, "vk:777", ttl=0.9)
    other = RedisPollerLease(redis, "vk:777", ttl=30)  # only its owner id is used
    starts: list[float] = []
    stopped = asyncio.Event()

    async def work() -> None:
        starts.append(time.monotonic())
        await lease.save_cursor(str(len(starts)))
        try:
            await asyncio.Event().wait()
        finally:
            stopped.set()

    task = asyncio.create_task(lease.hold(work))
    await eventually(lambda: starts, what="the first hold")
    assert await lease.load_cursor() == "1"
    # another process grabs the key (as if ours had expired during a long stall)
    await redis.delete(keys.poller_lease("vk:777"))
    assert await redis.set(keys.poller_lease("vk:777"), other.owner, px=30_000)
    await asyncio.wait_for(stopped.wait(), 2)
    with pytest.raises(LeaseLost):
        await lease.save_cursor("stale")
    assert await lease.load_cursor() == "1"
    await redis.delete(keys.poller_lease("vk:777"))  # the other process's lease expires
    await eventually(lambda: len(starts) == 2, what="the hold taken again")
    assert await lease.load_cursor() == "2"
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
