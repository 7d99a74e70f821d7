"""The Redis record of message pieces a platform has accepted (see `channels.delivery.SendLedger`).

Entries only have to outlive the gap between a send and the outbox marking it SENT, plus
a restart; they expire after `ttl` so the record stays small.
"""

from __future__ import annotations

import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from routing import keys

__all__ = ["RedisSendLedger"]

log = logging.getLogger(__name__)


class RedisSendLedger:
    def __init__(self, redis: Redis, *, ttl_seconds: int = 3 * 24 * 3600) -> None:
        self._redis = redis
        self._ttl = ttl_seconds

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
        try:
            await self._redis.set(keys.sent_piece(key), receipt, ex=self._ttl)
        except RedisError as exc:
            log.warning("send ledger unavailable, %s not recorded: %s", key, exc)
