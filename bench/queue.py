"""Benchmark of the operator queue: prints figures, asserts nothing.

    .venv/bin/python bench/queue.py [--ops 20000] [--max-size 1000000]

On one Redis (REDIS_URL, which must hold no Switchboard queue, or an embedded server):
1. the floor: `redis-benchmark` ZADD/ZPOPMIN when installed, and a raw ZADD / ZPOPMIN
   loop with the same client library (redis-py asyncio, one connection, one at a time);
2. the queue's enqueue, take (take_next) and close (remove): operations per second,
   round trips per operation (counted on the client connection) and the Redis commands
   each runs inside its script (from INFO commandstats);
3. take latency with 1,000 to 1,000,000 conversations waiting (filled by pipelined
   enqueues), each take followed by a close and a fresh enqueue so the size stays put.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and this file's name would
# hide the standard library's `queue` (which redis-py imports): put the project root there.
if Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import random
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlparse

from redis.asyncio import ConnectionPool, Redis

from core import keys
from routing.queue import OperatorQueue, QueueEntry
from switchboard.redis_server import embedded_redis

T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
RAW_KEY = "sb:{desk}:bench:raw"
GROUPS = ["support", "fraud", "loans"]


class RoundTrips:
    """Counts replies read on the benchmark's connection: one per round trip unpipelined."""

    def __init__(self) -> None:
        self.count = 0


def counting_client(url: str, trips: RoundTrips) -> Redis:
    pool = ConnectionPool.from_url(
        url, decode_responses=True, max_connections=4, socket_timeout=120
    )
    base: Any = pool.connection_class

    class CountingConnection(base):  # type: ignore[misc, valid-type]
        async def read_response(self, *args: Any, **kwargs: Any) -> Any:
            trips.count += 1
            return await super().read_response(*args, **kwargs)

    pool.connection_class = CountingConnection
    return Redis(connection_pool=pool)


@contextlib.asynccontextmanager
async def redis_url() -> AsyncIterator[tuple[str, bool]]:
    """The server to measure, and whether it is a throwaway embedded one."""
    url = os.environ.get("REDIS_URL")
    if url:
        yield url, False
        return
    with tempfile.TemporaryDirectory(prefix="switchboard-bench-") as tmp:
        async with embedded_redis(Path(tmp) / "redis") as embedded:
            yield embedded, True


def entry(n: int, rng: random.Random, group: str = "support") -> QueueEntry:
    return QueueEntry(
        n,
        group,
        rng.randint(1, 3),
        T0 + dt.timedelta(minutes=rng.randint(5, 5000)),
        T0 + dt.timedelta(seconds=n),
        n % 10_007,
        "telegram",
        "cards",
    )


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:>10,.0f} ops/s"


def redis_benchmark(url: str) -> list[str]:
    binary = shutil.which("redis-benchmark")
    if binary is None:
        return ["redis-benchmark: not installed (the raw loop below is the floor)"]
    parsed = urlparse(url)
    target = (
        ["-s", parsed.path]
        if parsed.scheme == "unix"
        else ["-h", parsed.hostname or "127.0.0.1", "-p", str(parsed.port or 6379)]
    )
    database = parsed.path.strip("/") if parsed.scheme != "unix" else ""
    if database.isdigit():
        target += ["--dbnum", database]
    if parsed.password:
        target += ["-a", parsed.password]
    lines = []
    for clients in (1, 50):
        result = subprocess.run(
            [binary, *target, "-q", "-t", "zadd,zpopmin", "-n", "100000", "-c", str(clients)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        for line in result.stdout.replace("\r", "\n").splitlines():
            match = re.match(r"^\s*(ZADD|ZPOPMIN)\S*: ([\d.]+) requests per second", line)
            if match:
                lines.append(
                    f"redis-benchmark {match[1]:<8} {clients:>2} client(s) "
                    f"{float(match[2]):>10,.0f} ops/s"
                )
    return lines or [f"redis-benchmark gave no figures: {result.stderr.strip()[:200]}"]


async def raw_floor(redis: Redis, ops: int) -> dict[str, float]:
    started = time.perf_counter()
    for n in range(ops):
        await redis.zadd(RAW_KEY, {f"m{n}": n % 977})
    zadd = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(ops):
        await redis.zpopmin(RAW_KEY)
    zpopmin = time.perf_counter() - started
    await redis.delete(RAW_KEY)
    return {"ZADD": ops / zadd, "ZPOPMIN": ops / zpopmin}


async def command_stats(redis: Redis) -> dict[str, int]:
    stats = await redis.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


async def measure(
    name: str, redis: Redis, trips: RoundTrips, ops: int, work: Any
) -> dict[str, float]:
    stats_before, trips_before = await command_stats(redis), trips.count
    started = time.perf_counter()
    await work()
    elapsed = time.perf_counter() - started
    round_trips = trips.count - trips_before - 1  # minus the INFO call
    stats_after = await command_stats(redis)
    delta = {k: stats_after.get(k, 0) - stats_before.get(k, 0) for k in stats_after}
    delta["info"] = delta.get("info", 0) - 1
    scripts = delta.get("evalsha", 0) + delta.get("eval", 0)
    inner = sum(v for k, v in delta.items() if k not in ("evalsha", "eval", "info", "script|load"))
    print(
        f"  {name:<8} {rate(ops, elapsed)}   round trips/op {round_trips / ops:4.2f}   "
        f"scripts/op {scripts / ops:4.2f}   Redis commands inside/op {inner / ops:4.1f}"
    )
    return {"rate": ops / elapsed}


async def fill(queue: OperatorQueue, first: int, count: int, rng: random.Random) -> None:
    """Pipelined enqueues in batches, two pipelines in flight so packing overlaps Redis."""
    batch = 10_000
    starts = list(range(first, first + count, batch))

    async def load(mine: list[int]) -> None:
        for start in mine:
            async with queue.redis.pipeline(transaction=False) as pipe:
                for n in range(start, min(start + batch, first + count)):
                    e = entry(n, rng)
                    await queue.call("enqueue", n, e.order_key(), e.details(), client=pipe)
                await pipe.execute()

    await asyncio.gather(load(starts[0::2]), load(starts[1::2]))


async def take_latency(
    queue: OperatorQueue, size: int, next_id: int, rng: random.Random, samples: int
) -> tuple[list[float], int]:
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        taken = await queue.take_next(1, ["support"], capacity=1_000_000)
        timings.append((time.perf_counter() - started) * 1e6)
        assert taken is not None
        await queue.remove(taken.conversation_id)
        await queue.enqueue(entry(next_id, rng))
        next_id += 1
    return timings, next_id


async def main(ops: int, max_size: int) -> None:
    async with redis_url() as (url, throwaway):
        trips = RoundTrips()
        redis = counting_client(url, trips)
        try:
            if await redis.exists(*keys.queue_keys()):
                sys.exit(
                    "this Redis holds a Switchboard queue; point REDIS_URL at an empty database"
                )
            if throwaway:  # a temporary server: measure the queue, not fork-and-fsync of 500 MB
                await redis.config_set("appendonly", "no")
                await redis.config_set("save", "")
            info = await redis.info("server")
            persistence = await redis.info("persistence")
            print(
                f"Redis {info['redis_version']} at {urlparse(url).scheme}://…, AOF "
                f"{'on' if persistence['aof_enabled'] else 'off'}; redis-py asyncio, "
                f"one connection, {ops:,} operations per figure\n"
            )
            print("Floor")
            for line in redis_benchmark(url):
                print(f"  {line}")
            floor = await raw_floor(redis, ops)
            for command, value in floor.items():
                print(f"  raw loop {command:<8}  1 client    {value:>10,.0f} ops/s")

            print("\nQueue operations (each one EVALSHA)")
            queue = OperatorQueue(redis)
            rng = random.Random(1)
            entries = [entry(n, rng, GROUPS[n % 3]) for n in range(1, ops + 1)]

            async def enqueue_all() -> None:
                for e in entries:
                    await queue.enqueue(e)

            taken: list[int] = []

            async def take_all() -> None:
                for _ in range(ops):
                    got = await queue.take_next(7, GROUPS, capacity=ops)
                    assert got is not None
                    taken.append(got.conversation_id)

            async def close_all() -> None:
                for conversation_id in taken:
                    await queue.remove(conversation_id)

            enqueue = await measure("enqueue", redis, trips, ops, enqueue_all)
            take = await measure("take", redis, trips, ops, take_all)
            close = await measure("close", redis, trips, ops, close_all)
            print(
                f"  of the raw rate: enqueue {enqueue['rate'] / floor['ZADD']:.0%} of ZADD, "
                f"take {take['rate'] / floor['ZPOPMIN']:.0%} of ZPOPMIN, "
                f"close {close['rate'] / floor['ZPOPMIN']:.0%} of ZPOPMIN"
            )

            print("\nTake latency by queue size (take_next, then close + enqueue to keep the size)")
            print(f"  {'waiting':>10} {'fill s':>7} {'p50 µs':>8} {'p90 µs':>8} {'p99 µs':>8}")
            sizes = [s for s in (1_000, 10_000, 100_000, 1_000_000) if s <= max_size]
            filled, next_id = 0, 10_000_000
            for size in sizes:
                started = time.perf_counter()
                await fill(queue, 1 + filled, size - filled, rng)
                filled = size
                fill_seconds = time.perf_counter() - started
                timings, next_id = await take_latency(queue, size, next_id, rng, 2_000)
                q = statistics.quantiles(timings, n=100)
                print(
                    f"  {size:>10,} {fill_seconds:>7.1f} {q[49]:>8.0f} {q[89]:>8.0f} {q[98]:>8.0f}"
                )
            memory = await redis.info("memory")
            print(f"\n  Redis memory with {filled:,} waiting: {memory['used_memory_human']}")
        finally:
            await redis.unlink(*keys.queue_keys(), RAW_KEY)  # freed in the background
            await redis.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=20_000, help="operations per throughput figure")
    parser.add_argument("--max-size", type=int, default=1_000_000, help="largest queue measured")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.ops, arguments.max_size))
