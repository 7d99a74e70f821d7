"""The Redis record of message pieces a platform has accepted (see `channels.delivery.SendLedger`).

Entries only have to outlive the gap between a send and the outbox marking it SENT, plus
a restart; they expire after `ttl` so the record stays small.
"""

from __future__ import annotations

import asyncio
import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from core import keys
from core.scripts import register

__all__ = ["RedisSendLedger"]

log = logging.getLogger(__name__)


class RedisSendLedger:
    def __init__(self, redis: Redis, *, ttl_seconds: int = 3 * 24 * 3600) -> None:
        self._redis = redis
        self._ttl = ttl_seconds
        self._write = register(redis, "core", "ledger_write.lua")
        self._waiting: list[tuple[str, str, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def recall(self, key: str) -> str | None:
        """The receipt of an accepted piece; None when unknown or Redis is unreachable
        (sending again then is the lesser harm than not sending)."""
        try:
            value = await self._redis.get(keys.sent_piece(key))
        except RedisError as exc:
            log.warning("send ledger unavailable: %s", exc)
            return None
        return value.decode() if isinstance(value, bytes) else value

    async def remember(self, key: str, receipt: str) -> None:
        """Returns once the entry is written. Entries that arrive while a write is under way
        go together in the next one (one script call for the sends that finished meanwhile)."""
        written = asyncio.get_running_loop().create_future()
        self._waiting.append((key, receipt, written))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_waiting())
        await asyncio.shield(written)

    async def _write_waiting(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    await self._write(
                        keys=[keys.sent_piece(key) for key, _, _ in batch],
                        args=[self._ttl, *(receipt for _, receipt, _ in batch)],
                    )
                except RedisError as exc:
                    log.warning(
                        "send ledger unavailable, %d pieces not recorded: %s", len(batch), exc
                    )
                finally:  # whatever happened, nobody waits for this write any longer
                    for _, _, written in batch:
                        if not written.done():
                            written.set_result(None)
        finally:
            self._writer = None
