"""Benchmark of the abuse limits: prints figures, asserts nothing.

    .venv/bin/python bench/limits.py [--takes 20000]

On an embedded Redis: what one web chat frame pays for its limits (one script call taking
from the visitor's and the address's buckets), as takes per second and latency
percentiles, one at a time on one connection (the way a socket's frames arrive), and
with 50 visitors at once.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, where bench/queue.py would
# hide the standard library's `queue` (which redis-py imports): put the project root there.
if Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse
import asyncio
import datetime as dt
import statistics
import tempfile
import time

from redis.asyncio import Redis

from core.buckets import Buckets, Rate
from switchboard.redis_server import embedded_redis

ROOMY = Rate(10**9, dt.timedelta(microseconds=1))  # never refuses: the cost, not the verdict


async def one_at_a_time(buckets: Buckets, takes: int) -> list[float]:
    latencies = []
    for n in range(takes):
        started = time.perf_counter()
        await buckets.take(
            ("bench:message", f"visitor-{n % 100}", ROOMY), ("bench:message", "203.0.113.7", ROOMY)
        )
        latencies.append(time.perf_counter() - started)
    return latencies


async def concurrent(buckets: Buckets, takes: int, visitors: int) -> float:
    async def visitor(index: int) -> None:
        for _ in range(takes // visitors):
            await buckets.take(
                ("bench:message", f"visitor-{index}", ROOMY),
                ("bench:message", "203.0.113.7", ROOMY),
            )

    started = time.perf_counter()
    await asyncio.gather(*(visitor(i) for i in range(visitors)))
    return takes / (time.perf_counter() - started)


async def main(takes: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        async with embedded_redis(Path(folder)) as url:
            redis = Redis.from_url(url, decode_responses=True, max_connections=64)
            buckets = Buckets(redis)
            await one_at_a_time(buckets, 500)  # warm: the script loaded, connections open
            latencies = sorted(await one_at_a_time(buckets, takes))
            per_second = await concurrent(buckets, takes, 50)
            await redis.aclose()
    micro = [x * 1e6 for x in latencies]
    print(f"limits: {takes} takes of two buckets each, embedded Redis on a Unix socket")
    print(
        f"  one at a time: {takes / sum(latencies):,.0f} takes/s; "
        f"median {statistics.median(micro):.0f} µs, p99 {micro[int(len(micro) * 0.99)]:.0f} µs"
    )
    print(f"  50 visitors at once: {per_second:,.0f} takes/s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--takes", type=int, default=20000)
    asyncio.run(main(parser.parse_args().takes))
