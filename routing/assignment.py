"""Push assignment: hand waiting conversations to available operators without a `next`.

An operator is available for a group when online, serving the group, with free capacity
(and, if `stale_after` is set, seen within it). The group's head goes to the available
operator with the most free capacity; among equals, round-robin by operator id. The whole
decision and the assignments run in one Lua call, so two gateways never hand the same
conversation out twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from routing.queue import OperatorQueue, QueueEntry, as_text, to_micros, validate_group

__all__ = ["Assignment", "Dispatcher", "Submitted"]


@dataclass(frozen=True)
class Assignment:
    entry: QueueEntry
    operator_id: int


@dataclass(frozen=True)
class Submitted:
    """The outcome of `Dispatcher.submit`: whether the entry was new, and who got what."""

    created: bool
    assignments: list[Assignment]

    def operator_for(self, conversation_id: int) -> int | None:
        return next(
            (a.operator_id for a in self.assignments if a.entry.conversation_id == conversation_id),
            None,
        )


class Dispatcher:
    def __init__(
        self, queue: OperatorQueue, *, stale_after: dt.timedelta | None = None, batch: int = 50
    ) -> None:
        self.queue = queue
        self.stale_after = stale_after
        self.batch = batch

    async def submit(self, entry: QueueEntry) -> Submitted:
        """Enqueue (idempotent) and push the group's head conversations to operators."""
        reply = await self._dispatch(
            entry.group, entry.conversation_id, entry.order_key(), entry.details()
        )
        return Submitted(bool(int(reply[0]) == 1), self._assignments(reply[1:]))

    async def dispatch(self, group: str) -> list[Assignment]:
        """Push what waits in `group` to its available operators (call when an operator
        comes online or frees capacity)."""
        reply = await self._dispatch(validate_group(group))
        return self._assignments(reply[1:])

    async def _dispatch(self, group: str, *entry: Any) -> Any:
        now = self.queue.clock()
        stale_before = to_micros(now - self.stale_after) if self.stale_after else ""
        return await self.queue.call(
            "dispatch", group, self.queue.lease_until(now), self.batch, stale_before, *entry
        )

    @staticmethod
    def _assignments(rows: Any) -> list[Assignment]:
        return [
            Assignment(QueueEntry.decode(as_text(key), as_text(details)), int(op))
            for _id, key, details, op in rows
        ]
