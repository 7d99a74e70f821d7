"""The Redis record of message pieces a platform has accepted (see `channels.delivery.SendLedger`).

Entries only have to outlive the gap between a send and the outbox marking it SENT, plus
a restart; they expire after `ttl` so the record stays small.

Look-ups and writes each go in batches: whatever arrives while one round trip is under
way goes together in the next. A restart resends hundreds of replies at once; one request
per piece would take a connection each, and past the client's pool a look-up that fails
counts as "not sent", so the client would get the reply twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

from core import keys
from core.scripts import register

__all__ = ["RedisSendLedger"]

log = logging.getLogger(__name__)

Item = TypeVar("Item")
Answer = TypeVar("Answer")


class _Batches(Generic[Item, Answer]):
    """Runs `call` on everything that waits, one batch at a time, and hands each caller its
    answer (`call` returns one answer per item, in order)."""

    def __init__(self, call: Callable[[list[Item]], Awaitable[list[Answer]]]) -> None:
        self._call = call
        self._waiting: list[tuple[Item, asyncio.Future[Answer]]] = []
        self._runner: asyncio.Task[None] | None = None

    async def run(self, item: Item) -> Answer:
        answer: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, answer))
        if self._runner is None:
            self._runner = asyncio.create_task(self._run_waiting())
        return await asyncio.shield(answer)

    async def _run_waiting(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    answers = await self._call([item for item, _ in batch])
                except BaseException as exc:
                    for _, answer in batch:
                        if not answer.done():
                            answer.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for (_, answer), value in zip(batch, answers, strict=True):
                    if not answer.done():
                        answer.set_result(value)
        finally:
            self._runner = None


class RedisSendLedger:
    def __init__(self, redis: Redis, *, ttl_seconds: int = 3 * 24 * 3600) -> None:
        self._redis = redis
        self._ttl = ttl_seconds
        self._write = register(redis, "core", "ledger_write.lua")
        self._reads = _Batches(self._read_batch)
        self._writes = _Batches(self._write_batch)

    async def recall(self, key: str) -> str | None:
        """The receipt of an accepted piece; None when unknown or Redis is unreachable
        (sending again then is the lesser harm than not sending)."""
        try:
            return await self._reads.run(key)
        except RedisError as exc:
            log.warning("send ledger unavailable: %s", exc)
            return None

    async def remember(self, key: str, receipt: str) -> None:
        """Returns once the entry is written (or Redis failed to write it)."""
        try:
            await self._writes.run((key, receipt))
        except RedisError as exc:
            log.warning("send ledger unavailable, piece %s not recorded: %s", key, exc)

    async def _read_batch(self, pieces: list[str]) -> list[str | None]:
        values = await self._redis.mget([keys.sent_piece(piece) for piece in pieces])
        return [value.decode() if isinstance(value, bytes) else value for value in values]

    async def _write_batch(self, entries: list[tuple[str, str]]) -> list[None]:
        await self._write(
            keys=[keys.sent_piece(piece) for piece, _ in entries],
            args=[self._ttl, *(receipt for _, receipt in entries)],
        )
        return [None] * len(entries)
