"""A Redis lease that makes exactly one gateway process the poller of a bot.

The holder's id sits in a key that expires after `ttl`; the holder renews it every third
of that. A process that dies stops renewing, the key expires, and a waiting process takes
over within about `ttl` seconds. A holder that cannot renew in time (Redis unreachable, a
long stall) stops its work before another process can start, then competes again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from core import keys
from core.scripts import register

__all__ = ["LeaseLost", "RedisPollerLease", "job_lease"]

log = logging.getLogger(__name__)


class LeaseLost(Exception):
    """This process no longer holds the lease."""


class RedisPollerLease:
    """The lease and the poll cursor of one poller, e.g. `"telegram:123456"`."""

    def __init__(
        self, redis: Redis, poller: str, *, ttl: float = 10.0, lease_key: str | None = None
    ) -> None:
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        self._redis = redis
        self._lease_key = lease_key or keys.poller_lease(poller)
        self._cursor_key = keys.poller_cursor(poller)
        self._ttl_ms = int(ttl * 1000)
        self._interval = ttl / 3
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._renew = register(redis, "core", "lease_renew.lua")
        self._release = register(redis, "core", "lease_release.lua")
        self._save = register(redis, "core", "lease_save_cursor.lua")

    async def hold(self, work: Callable[[], Awaitable[None]]) -> None:
        """Wait for the lease, run `work` while renewing it; if the lease is lost, cancel
        `work` and wait again. Returns when `work` returns; the lease is released then and
        on cancellation."""
        while True:
            await self._acquire()
            try:
                if await self._run_while_held(work):
                    return
            finally:
                await asyncio.shield(self._give_up())

    async def holder(self) -> str | None:
        value = await self._redis.get(self._lease_key)
        return value.decode() if isinstance(value, bytes) else value

    async def load_cursor(self) -> str | None:
        value = await self._redis.get(self._cursor_key)
        return value.decode() if isinstance(value, bytes) else value

    async def save_cursor(self, cursor: str) -> None:
        saved = await self._save(
            keys=[self._lease_key, self._cursor_key], args=[self.owner, cursor]
        )
        if not saved:
            raise LeaseLost(self._lease_key)

    async def _acquire(self) -> None:
        while True:
            try:
                if await self._redis.set(self._lease_key, self.owner, nx=True, px=self._ttl_ms):
                    log.info("lease %s taken by %s", self._lease_key, self.owner)
                    return
            except RedisError as exc:
                log.warning("lease %s: Redis error while acquiring: %s", self._lease_key, exc)
            await asyncio.sleep(self._interval)

    async def _run_while_held(self, work: Callable[[], Awaitable[None]]) -> bool:
        """True when `work` finished, False when the lease was lost first."""
        task = asyncio.ensure_future(work())
        loop = asyncio.get_running_loop()
        renewed_at = loop.time()
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=self._interval)
                if done:
                    try:
                        task.result()
                    except LeaseLost:
                        return False
                    return True
                try:
                    renewed = await self._renew(
                        keys=[self._lease_key], args=[self.owner, self._ttl_ms]
                    )
                    if not renewed:
                        log.warning("lease %s lost by %s", self._lease_key, self.owner)
                        return False
                    renewed_at = loop.time()
                except RedisError as exc:
                    # Stop before the key can expire: another process may take over then.
                    if loop.time() - renewed_at > self._interval * 2:
                        log.warning(
                            "lease %s: cannot renew (%s); stepping down", self._lease_key, exc
                        )
                        return False
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _give_up(self) -> None:
        with contextlib.suppress(RedisError):
            await self._release(keys=[self._lease_key], args=[self.owner])


def job_lease(redis: Redis, job: str, *, ttl: float = 10.0) -> RedisPollerLease:
    """The lease that makes one process of several run `job` (a periodic job, a mailbox
    reader); a waiting process takes over within about `ttl` seconds of its holder's death."""
    return RedisPollerLease(redis, job, ttl=ttl, lease_key=keys.job_lease(job))
