"""A channel that refuses the gateway itself (a revoked bot token, a refused SMTP login,
the channel not configured) is the admins' to fix, not the holder's: each admin who uses
the admin bot hears it in their private chat, once an hour for each channel, however many
replies fail meanwhile."""

from __future__ import annotations

import logging
from typing import Any

from redis.asyncio import Redis

from admin.telegram.audience import Posting
from admin.telegram.texts import say
from core import keys
from core.contracts import DeliveryError

__all__ = ["ChannelAlarms"]

log = logging.getLogger(__name__)

TELL_EVERY = 3600
"""Seconds between two alarms about the same channel."""


class ChannelAlarms:
    def __init__(self, *, posting: Posting, redis: Redis) -> None:
        self._post = posting
        self._redis = redis

    async def channel_fault(self, notice: dict[str, Any]) -> None:
        channel = str(notice.get("channel") or "?")
        if not await self._redis.set(keys.channel_fault_told(channel), "1", nx=True, ex=TELL_EVERY):
            return
        error = str(notice.get("error", ""))[:300]
        for reader in await self._post.readers.admins():
            try:
                await self._post.sender.text(
                    reader.ref, say("channel_fault", reader.language, channel=channel, error=error)
                )
            except DeliveryError as exc:  # one admin who blocked the bot must not stop the rest
                log.warning("channel alarm not posted to %s: %s", reader.ref.key, exc)
