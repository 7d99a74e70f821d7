"""What the channel tests share: a sink that stores into a list, running a channel in the
background, and waiting for an outcome."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence

from waiting import eventually as until  # the suite's one polling helper, by its old name here

from core.contracts import ChannelAdapter, InboundMessage

__all__ = ["ListSink", "receiving", "until"]


class ListSink:
    """Stores what the channel hands in; fails the first `failures` times, like a database
    that is briefly down."""

    def __init__(self, failures: int = 0) -> None:
        self.stored: list[InboundMessage] = []
        self.failures = failures

    async def __call__(self, messages: Sequence[InboundMessage]) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("database unavailable")
        self.stored.extend(messages)


@contextlib.asynccontextmanager
async def receiving(channel: ChannelAdapter, sink: ListSink) -> AsyncIterator[None]:
    task = asyncio.create_task(channel.run(sink))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
