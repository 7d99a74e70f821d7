"""Send limits shared by gateway processes: two limiters on one Redis (as two processes
would hold) space the sends to one chat as one limiter does; without Redis each falls back
to its own buckets and sending goes on."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable

from redis.asyncio import Redis

from channels.rate_limits import SharedSendRateLimiter


def limiter(
    redis: Redis, *, global_rate: float = 1000.0, global_burst: int = 1000
) -> SharedSendRateLimiter:
    return SharedSendRateLimiter(
        redis,
        "telegram:42",
        per_chat_rate=20.0,
        per_chat_burst=1,
        global_rate=global_rate,
        global_burst=global_burst,
    )


async def spread(acquire_calls: list[Awaitable[None]]) -> float:
    started = time.monotonic()
    await asyncio.gather(*acquire_calls)
    return time.monotonic() - started


async def test_two_processes_share_one_chats_limit(redis: Redis) -> None:
    first, second = limiter(redis), limiter(redis)
    # 12 sends to one chat at 20 a second, half through each: at least 11 intervals apart.
    took = await spread([(first if n % 2 else second).acquire("chat-1") for n in range(12)])
    assert took >= 11 / 20 - 0.02
    # Different chats are not held back by that chat (the bot-wide rate is high here).
    took = await spread(
        [(first if n % 2 else second).acquire(f"chat-{n + 100}") for n in range(12)]
    )
    assert took < 11 / 20


async def test_two_processes_share_the_bots_limit(redis: Redis) -> None:
    first = limiter(redis, global_rate=20.0, global_burst=1)
    second = limiter(redis, global_rate=20.0, global_burst=1)
    took = await spread([(first if n % 2 else second).acquire(f"chat-{n}") for n in range(12)])
    assert took >= 11 / 20 - 0.02


async def test_without_redis_each_process_keeps_its_own_limit() -> None:
    unreachable = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    try:
        alone = limiter(unreachable)
        took = await spread([alone.acquire("chat-1") for _ in range(6)])
        assert took >= 5 / 20 - 0.02
    finally:
        await unreachable.aclose()
