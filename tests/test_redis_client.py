"""The gateway's Redis client under a burst: more commands at once than it has
connections wait for a free one instead of failing (a restart resends hundreds of
replies at once, each reserving its send limit)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from switchboard.redis_server import CONNECTIONS, connect_redis


async def test_a_burst_beyond_the_pool_waits_instead_of_failing(
    redis_url: str, tmp_path: Path
) -> None:
    async with connect_redis(redis_url, tmp_path) as client:
        await client.set("burst", "ok")
        # BLPOP holds its connection for the whole wait: far more than the pool at once
        answers = await asyncio.gather(
            *(client.blpop([f"burst:{n}"], timeout=0.2) for n in range(CONNECTIONS * 2)),
            *(client.get("burst") for _ in range(CONNECTIONS)),
        )
    assert answers[: CONNECTIONS * 2] == [None] * (CONNECTIONS * 2)
    assert answers[CONNECTIONS * 2 :] == ["ok"] * CONNECTIONS
