"""What both pollers share: handing messages to the sink until it stores them, and the
lease that makes one process the only poller of a bot.

The sink returns once a batch is stored; only then may a poller confirm the updates to
the platform. A failing sink (database down) is retried with backoff and the update stays
unconfirmed, so nothing is lost; redelivery is harmless because the engine deduplicates
on `platform_message_id`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Protocol, TypeVar

from core.contracts import InboundMessage, InboundSink
from core.retry import until_done

__all__ = ["PollerLease", "UnsharedLease", "read_each", "store_all"]

U = TypeVar("U")

log = logging.getLogger(__name__)


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


async def store_all(sink: InboundSink, messages: Sequence[InboundMessage]) -> None:
    """Hand a polled batch to the sink, retrying with backoff until it is stored; only
    then may the caller confirm the batch. The sink keeps each chat's order and takes the
    batch as one unit of work, which is what makes a busy bot fast."""
    if not messages:
        return

    async def store() -> None:
        await sink(messages)

    await until_done(
        store,
        retry_on=(Exception,),
        what=f"storing {len(messages)} {messages[0].channel.value} messages "
        f"(from {messages[0].platform_message_id})",
    )


def read_each(
    updates: Iterable[U], read: Callable[[U], InboundMessage | None], *, channel: str
) -> list[InboundMessage]:
    """Each polled update read on its own. One the reader fails on is logged whole (the
    record of it) and left out, so that it cannot stop the channel and hold up every
    client behind it; the poll position moves past it with the rest."""
    messages = []
    for update in updates:
        try:
            message = read(update)
        except Exception:
            log.exception("unreadable %s update skipped: %r", channel, update)
            continue
        if message is not None:
            messages.append(message)
    return messages
