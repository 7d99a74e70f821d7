"""What both pollers share: handing messages to the sink until it stores them, and the
lease that makes one process the only poller of a bot.

The sink returns once a message is stored; only then may a poller confirm the update to
the platform. A failing sink (database down) is retried with backoff and the update stays
unconfirmed, so nothing is lost; redelivery is harmless because the engine deduplicates
on `platform_message_id`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

from bot.contracts import InboundMessage, InboundSink
from channels.delivery import RetryPolicy

__all__ = ["RECONNECT", "PollerLease", "UnsharedLease", "store_all", "store_one"]

log = logging.getLogger(__name__)

# Backoff of a poller whose platform or sink fails: 0.5 s doubling up to 30 s, forever.
RECONNECT = RetryPolicy(base_delay=0.5, max_delay=30.0)


class PollerLease(Protocol):
    """Exclusive right to poll one bot, and the poll position stored with it.

    `hold(work)` waits until this process holds the lease, runs `work` while keeping it,
    cancels `work` and waits again if the lease is lost, and returns when `work` returns.
    `save_cursor` writes only while the lease is held, so a poller that lost it cannot
    move the position back.
    """

    async def hold(self, work: Callable[[], Awaitable[None]]) -> None: ...

    async def load_cursor(self) -> str | None: ...

    async def save_cursor(self, cursor: str) -> None: ...


class UnsharedLease:
    """For a single process: always held, the cursor kept in memory."""

    def __init__(self) -> None:
        self._cursor: str | None = None

    async def hold(self, work: Callable[[], Awaitable[None]]) -> None:
        await work()

    async def load_cursor(self) -> str | None:
        return self._cursor

    async def save_cursor(self, cursor: str) -> None:
        self._cursor = cursor


async def store_one(sink: InboundSink, message: InboundMessage) -> None:
    """Hand `message` to the sink, retrying with backoff until it is stored."""
    failures = 0
    while True:
        try:
            await sink(message)
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            failures += 1
            delay = RECONNECT.backoff(failures)
            log.exception("storing %s %s failed; retrying in %.1fs",
                          message.channel.value, message.platform_message_id, delay)
            await asyncio.sleep(delay)


async def store_all(sink: InboundSink, messages: Iterable[InboundMessage], *,
                    concurrency: int = 16) -> None:
    """Store a batch: in order within each chat, up to `concurrency` chats side by side.
    Returns when every message is stored, so the caller may then confirm the whole batch."""
    by_chat: dict[str, list[InboundMessage]] = {}
    for message in messages:
        by_chat.setdefault(message.chat_id or message.external_user_id, []).append(message)
    slots = asyncio.Semaphore(concurrency)

    async def one_chat(queue: list[InboundMessage]) -> None:
        async with slots:
            for message in queue:
                await store_one(sink, message)

    async with asyncio.TaskGroup() as group:
        for queue in by_chat.values():
            group.create_task(one_chat(queue))
