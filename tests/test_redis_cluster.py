"""The gateway on a real three-master Redis Cluster (`REDIS_URL=redis+cluster://…`): the
operator queue's scripts and transactions, the desk feed and the web chat relay over
pub/sub, the leases and the shared send limits."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis, RedisCluster
from redis_cluster import flush_cluster, redis_cluster_url  # noqa: F401
from redis_waits import lease_renewed
from stepping_clock import SteppingClock
from waiting import eventually
from web_client import Console, Visitor, signed_in

from channels.rate_limits import SharedSendRateLimiter
from channels.web_relay import FrameRelay
from core import keys
from core.db import SessionFactory
from core.leases import RedisPollerLease
from switchboard.app import Gateway, open_gateway, running
from switchboard.redis_server import connect_redis
from switchboard.settings import Settings


@pytest.fixture
async def cluster(redis_cluster_url: str, tmp_path: Path) -> AsyncIterator[Redis]:  # noqa: F811
    flush_cluster(redis_cluster_url)
    async with connect_redis(redis_cluster_url, tmp_path) as client:
        assert isinstance(client, RedisCluster)
        yield client


@pytest.fixture
async def cluster_gateway(
    redis_cluster_url: str,
    cluster: Redis,
    tmp_path: Path,  # noqa: F811
    database_url: str,
    sessions: SessionFactory,
    clock: SteppingClock,  # the desk's hours: its hand-off wording never hangs on the hour
) -> AsyncIterator[Gateway]:
    settings = Settings(
        var_dir=tmp_path / "var",
        database_url=database_url,
        redis_url=redis_cluster_url,
        http_port=0,
        _env_file=None,
    )  # type: ignore[call-arg]
    async with open_gateway(settings, clock=clock) as gateway:
        yield gateway


async def test_the_whole_flow_on_a_cluster(cluster_gateway: Gateway) -> None:
    gateway = cluster_gateway
    async with running(gateway, host="127.0.0.1", port=0) as served, Visitor(served) as visitor:
        since = visitor.ws.mark()
        await visitor.say("Я потерял карту, что делать?")
        answer = await visitor.reply(since=since, author="bot")
        assert answer["text"] == gateway.knowledge.index.article("card-lost").answer  # type: ignore[union-attr]

        since = visitor.ws.mark()
        await visitor.say("Почему мой кот боится пылесоса и как его успокоить?")
        await visitor.reply(since=since, containing="очеред")
        [waiting] = await gateway.queue.waiting()

        async with Console(served, await signed_in(gateway, "Anna")) as console:
            taken = await console.command(
                "take", "conversation", conversation_id=waiting.conversation_id
            )
            assert taken["conversation"]["status"] == "assigned"
            assert await gateway.queue.waiting() == []
            since = visitor.ws.mark()
            await console.command(
                "reply",
                "conversation",
                conversation_id=waiting.conversation_id,
                text="Попробуйте включать пылесос в другой комнате.",
            )
            reply = await visitor.reply(since=since, author="operator")
            assert reply["text"] == "Попробуйте включать пылесос в другой комнате."


async def test_one_lease_holder_on_a_cluster(cluster: Redis) -> None:
    first, second = (RedisPollerLease(cluster, "telegram:42", ttl=1.0) for _ in range(2))
    running_now: list[str] = []

    def work(name: str) -> object:
        async def held() -> None:
            running_now.append(name)
            await asyncio.Event().wait()  # polls until cancelled

        return held

    tasks = {
        "first": asyncio.create_task(first.hold(work("first"))),  # type: ignore[arg-type]
        "second": asyncio.create_task(second.hold(work("second"))),  # type: ignore[arg-type]
    }
    await eventually(lambda: running_now, what="one holder working")
    await lease_renewed(cluster, keys.poller_lease("telegram:42"), times=3)  # past its ttl
    assert len(running_now) == 1 and await first.holder() in (first.owner, second.owner)
    tasks[running_now[0]].cancel()  # its holder stops: the other takes over
    await eventually(lambda: len(running_now) == 2, what="the other holder taking over")
    for task in tasks.values():
        task.cancel()
    await asyncio.gather(*tasks.values(), return_exceptions=True)


async def test_relay_and_send_limits_across_cluster_clients(
    redis_cluster_url: str, cluster: Redis, tmp_path: Path
) -> None:  # noqa: F811
    async with connect_redis(redis_cluster_url, tmp_path) as other:
        received: list[tuple[str, object]] = []

        async def deliver(visitor: str, frame: object) -> None:
            received.append((visitor, frame))

        def relayed() -> list[tuple[str, object]]:
            return [(visitor, frame) for visitor, frame in received if visitor != "probe"]

        async def probe_heard() -> bool:  # the listener has subscribed
            await FrameRelay(cluster).publish("probe", {"type": "probe"})
            return bool(received)

        listening = asyncio.create_task(FrameRelay(other).listen(deliver))
        try:
            await eventually(probe_heard, interval=0.1, what="the relay listening")
            await FrameRelay(cluster).publish("visitor-1", {"type": "message", "n": 1})
            await eventually(relayed, what="the frame relayed")
            assert relayed() == [("visitor-1", {"type": "message", "n": 1})]
        finally:
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening

        limits = [
            SharedSendRateLimiter(
                client,
                "telegram:42",
                per_chat_rate=20.0,
                per_chat_burst=1,
                global_rate=1000.0,
                global_burst=1000,
            )
            for client in (cluster, other)
        ]
        started = time.monotonic()
        await asyncio.gather(*(limits[n % 2].acquire("chat-1") for n in range(12)))
        assert time.monotonic() - started >= 11 / 20 - 0.02
