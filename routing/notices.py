"""The SLA watcher's alerts as desk notices on the desk feed."""

from __future__ import annotations

from core.events import DeskFeed
from routing.queue import QueueEntry

__all__ = ["FeedNotifier"]


class FeedNotifier:
    """The SLA watcher's alerts as desk notices, so every console and the admin bot (in
    whichever process polls it) hear them; implements `routing.watcher.DeskNotifier`."""

    def __init__(self, feed: DeskFeed) -> None:
        self._feed = feed

    async def sla_warning(self, entry: QueueEntry) -> None:
        await self._feed.publish(
            "sla_warning",
            conversation_id=entry.conversation_id,
            group=entry.group,
            deadline=entry.deadline.isoformat(),
        )

    async def sla_breached(self, entry: QueueEntry) -> None:
        await self._feed.publish(
            "sla_breached",
            conversation_id=entry.conversation_id,
            group=entry.group,
            deadline=entry.deadline.isoformat(),
        )

    async def lease_expired(self, entry: QueueEntry, operator_id: int | None) -> None:
        await self._feed.publish(
            "lease_expired",
            conversation_id=entry.conversation_id,
            group=entry.group,
            operator_id=operator_id,
        )
