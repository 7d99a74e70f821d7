"""Desk events → operators' Telegram chats.

`follow()` turns the desk feed's notices into messages: a newly queued conversation posts
a card with Take / Later (to every online operator serving its group, to the operators'
group, or into the conversation's forum topic); once taken, every copy of the card is
edited to say who took it; a client's new message goes to the operator holding the
conversation. The SLA watcher calls the `DeskNotifier` methods directly. Only the process
holding the admin bot's poller lease follows the feed, so each notice is posted once.

The work itself is done by the parts: `audience` (who reads what), `queue_cards` (the
cards), `client_relay` (clients' messages and files), `holder_notices` (transfers,
undelivered and bounced replies, closed topics), `channel_alarms` (a channel refusing the
gateway, for the admins) and `sla_alerts` (SLA and lease alerts).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from admin.desk import Desk, DeskError
from admin.telegram.audience import Audience, Posting, Readers
from admin.telegram.channel_alarms import ChannelAlarms
from admin.telegram.client_relay import ClientRelay
from admin.telegram.forum import ForumTopics
from admin.telegram.holder_notices import HolderNotices
from admin.telegram.queue_cards import QueueCards
from admin.telegram.sender import AdminSender
from admin.telegram.sla_alerts import SlaAlerts
from admin.telegram.state import ActiveConversations
from core.contracts import DeliveryError
from core.db import SessionFactory
from core.events import DeskFeed
from routing.presence import Presence
from routing.queue import QueueEntry

__all__ = ["AdminNotifier", "Audience"]

log = logging.getLogger(__name__)

FEED_RETRY = 2.0


class AdminNotifier:
    def __init__(
        self,
        *,
        desk: Desk,
        feed: DeskFeed,
        sender: AdminSender,
        sessions: SessionFactory,
        redis: Redis,
        presence: Presence,
        active: ActiveConversations,
        audience: Audience,
        topics: ForumTopics | None,
    ) -> None:
        self._feed = feed
        posting = Posting(
            sender=sender,
            readers=Readers(sessions=sessions, presence=presence, audience=audience),
            audience=audience,
            topics=topics,
        )
        self._cards = QueueCards(posting=posting, desk=desk, redis=redis)
        relay = ClientRelay(posting=posting, sessions=sessions)
        holders = HolderNotices(posting=posting, desk=desk, sessions=sessions, active=active)
        self._alerts = SlaAlerts(posting=posting, active=active, cards=self._cards)
        self._handlers: dict[str, Callable[[dict[str, Any]], Awaitable[None]]] = {
            "queued": self._queued,
            "taken": self._cards.taken,
            "client_message": relay.client_message,
            "transferred": holders.transferred,
            "undelivered": holders.undelivered,
            "bounced": holders.bounced,
            "closed": holders.closed,
            "rated": holders.rated,
            "mentioned": holders.mentioned,
            "channel_fault": ChannelAlarms(posting=posting, redis=redis).channel_fault,
            "sla_warning": self._alerts.sla_notice,
            "sla_breached": self._alerts.sla_notice,
            "lease_expired": self._alerts.lease_notice,
        }

    # -- the feed -------------------------------------------------------------------------

    async def follow(self) -> None:
        """Post every desk notice; resubscribe when Redis drops the feed. Runs until cancelled."""
        while True:
            try:
                async for notice in self._feed.listen():
                    await self.handle(notice)
            except (RedisError, OSError) as exc:
                log.warning("admin bot lost the desk feed (%s); resubscribing", exc)
            await asyncio.sleep(FEED_RETRY)

    async def handle(self, notice: dict[str, Any]) -> None:
        handler = self._handlers.get(str(notice.get("kind")))
        if handler is None:
            return
        try:
            await handler(notice)
        except (DeskError, DeliveryError) as exc:
            log.warning("admin bot notice %s not posted: %s", notice.get("kind"), exc)
        except Exception:  # one bad notice must not stop the feed
            log.exception("admin bot notice %r failed", notice)

    async def _queued(self, notice: dict[str, Any]) -> None:
        await self.post_card(int(notice["conversation_id"]))

    async def post_card(self, conversation_id: int) -> None:
        await self._cards.post(conversation_id)

    # -- the SLA watcher (routing.watcher.DeskNotifier) -----------------------------------

    async def sla_warning(self, entry: QueueEntry) -> None:
        await self._alerts.broadcast(
            "sla_warning", entry.conversation_id, entry.group, entry.deadline
        )

    async def sla_breached(self, entry: QueueEntry) -> None:
        await self._alerts.broadcast(
            "sla_breached", entry.conversation_id, entry.group, entry.deadline
        )

    async def lease_expired(self, entry: QueueEntry, operator_id: int | None) -> None:
        await self._alerts.lease_lost(entry.conversation_id, operator_id)
