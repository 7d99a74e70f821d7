"""SLA and lease alerts: a queued conversation nearing or past its deadline, and a holder's
lease that ran out (they are told, and the conversation's card is posted again).

The SLA watcher calls these directly in the process running the admin bot, or publishes
them on the desk feed from another process (`sla_notice`, `lease_notice`).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from admin.telegram.audience import Posting
from admin.telegram.queue_cards import QueueCards
from admin.telegram.state import ActiveConversations
from admin.telegram.texts import say
from core.contracts import DeliveryError

__all__ = ["SlaAlerts"]

log = logging.getLogger(__name__)


class SlaAlerts:
    def __init__(
        self,
        *,
        posting: Posting,
        active: ActiveConversations,
        cards: QueueCards,
    ) -> None:
        self._post = posting
        self._active = active
        self._cards = cards

    async def sla_notice(self, notice: dict[str, Any]) -> None:
        """The same alerts when the watcher runs in another process (published on the feed)."""
        await self.broadcast(
            str(notice["kind"]),
            int(notice["conversation_id"]),
            str(notice["group"]),
            dt.datetime.fromisoformat(str(notice["deadline"])),
        )

    async def lease_notice(self, notice: dict[str, Any]) -> None:
        operator_id = notice.get("operator_id")
        await self.lease_lost(
            int(notice["conversation_id"]), int(operator_id) if operator_id is not None else None
        )

    async def lease_lost(self, conversation_id: int, operator_id: int | None) -> None:
        holder = await self._post.readers.holder(operator_id)
        if holder is not None:
            await self._active.clear(operator_id or 0, conversation_id)
            await self._post.sender.text(
                holder.ref, say("lease_expired", holder.language, id=conversation_id)
            )
        await self._cards.post(conversation_id)

    async def broadcast(
        self, key: str, conversation_id: int, group: str, deadline_at: dt.datetime
    ) -> None:
        deadline = deadline_at.astimezone(self._post.audience.zone).strftime("%d.%m %H:%M")
        for reader in await self._post.readers.of_group(group):
            try:
                await self._post.sender.text(
                    reader.ref,
                    say(key, reader.language, id=conversation_id, group=group, deadline=deadline),
                )
            except DeliveryError as exc:
                log.warning(
                    "%s of #%s not posted to %s: %s", key, conversation_id, reader.ref.key, exc
                )
        if self._post.topics is not None:
            language = self._post.audience.language
            await self._post.topics.send(
                conversation_id,
                f"#{conversation_id}",
                say(key, language, id=conversation_id, group=group, deadline=deadline),
            )
