"""Web chat frames across gateway processes: a visitor's socket is open in one process,
while the reply to them may be sent by any other. Every frame for a visitor is published
on one Redis channel; each process pushes it to the sockets it holds for that visitor.

Delivery over pub/sub is at most once: a frame published while a process is cut off from
Redis does not reach its sockets live. Nothing is lost by that: every message is in the
visitor's history, which the page replays when its socket reconnects.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from core import keys

__all__ = ["FrameRelay"]

log = logging.getLogger(__name__)
RECONNECT_DELAY = 1.0

Deliver = Callable[[str, Mapping[str, Any]], Awaitable[None]]
"""Push a frame to this process's sockets of a visitor."""


class FrameRelay:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self.origin = f"{os.getpid()}:{uuid.uuid4().hex[:8]}"

    async def publish(self, visitor: str, frame: Mapping[str, Any]) -> None:
        """Hand `frame` to the other processes; this one delivers its own sockets itself."""
        message = json.dumps(
            {"origin": self.origin, "visitor": visitor, "frame": frame},
            ensure_ascii=False,
            default=str,
        )
        try:
            await self._redis.publish(keys.web_chat_frames(), message)
        except RedisError as exc:  # the visitor reads it from the history on reconnect
            log.warning("web chat frame not relayed to the other processes: %s", exc)

    async def listen(self, deliver: Deliver) -> None:
        """Deliver the other processes' frames to this one's sockets; until cancelled."""
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(keys.web_chat_frames())
                async for message in pubsub.listen():
                    await self._deliver_one(message.get("data"), deliver)
            except (RedisError, OSError) as exc:
                log.warning("web chat relay lost Redis (%s); resubscribing", exc)
                await asyncio.sleep(RECONNECT_DELAY)
            finally:
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _deliver_one(self, data: object, deliver: Deliver) -> None:
        try:
            message = json.loads(data) if isinstance(data, (str, bytes)) else None
            if not isinstance(message, dict) or message.get("origin") == self.origin:
                return
            visitor, frame = message["visitor"], message["frame"]
        except (ValueError, KeyError):
            log.warning("malformed web chat relay message ignored")
            return
        if isinstance(visitor, str) and isinstance(frame, dict):
            await deliver(visitor, frame)
