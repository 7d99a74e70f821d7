"""Send limits shared by every gateway process: a platform counts a bot's sends, not one
process's. The same GCRA buckets as `SendRateLimiter`, kept in Redis and reserved by one
script on Redis's clock, so two processes sending to one chat (or through one bot) space
their sends as one would. When Redis cannot be reached, each process falls back to its own
buckets: sends go on, at worst a little faster than the platform allows (its "retry after"
then slows them)."""

from __future__ import annotations

import asyncio
import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from channels.delivery import SendRateLimiter
from core import keys
from core.scripts import register

__all__ = ["SharedSendRateLimiter"]

log = logging.getLogger(__name__)


class SharedSendRateLimiter(SendRateLimiter):
    """`scope` names the bot, e.g. "telegram:123456" (never a token)."""

    def __init__(
        self,
        redis: Redis,
        scope: str,
        *,
        per_chat_rate: float,
        per_chat_burst: int,
        global_rate: float,
        global_burst: int,
    ) -> None:
        super().__init__(
            per_chat_rate=per_chat_rate,
            per_chat_burst=per_chat_burst,
            global_rate=global_rate,
            global_burst=global_burst,
        )
        self._scope = scope
        self._bucket_key = keys.send_rate(scope)
        chat_interval, bot_interval = 1000.0 / per_chat_rate, 1000.0 / global_rate
        self._args = [
            chat_interval,
            chat_interval * (max(per_chat_burst, 1) - 1),
            bot_interval,
            bot_interval * (max(global_burst, 1) - 1),
        ]
        self._reserve = register(redis, "channels", "rate_limits.lua")

    async def acquire(self, chat_id: str) -> None:
        try:
            wait_us = await self._reserve(
                keys=[keys.send_rate(f"{self._scope}:{chat_id}"), self._bucket_key], args=self._args
            )
        except RedisError as exc:
            log.warning(
                "shared send limits of %s unavailable (%s); this process's own apply",
                self._scope,
                exc,
            )
            await super().acquire(chat_id)
            return
        if wait_us > 0:
            await asyncio.sleep(wait_us / 1_000_000)
