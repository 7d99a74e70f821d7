"""What becomes of a send that failed. One the channel could not make now (network, 5xx,
429, VK 6/9) stays PENDING: its attempt is counted and its next attempt time set on the
project's backoff (`core.retry`), never sooner than the platform asked. A permanent
failure (blocked bot, rejected address), or a retry that would fall after the reply's
deadline (from when it was written, or last sent again by an operator), marks the message FAILED, records it on the conversation and announces it to
the desk. A channel that refuses the gateway itself (a revoked token, a refused login, not
configured) is announced at its first failure as `channel_fault`, for the admins, who
fix it: its replies are only given up at their deadline.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from core.contracts import ChannelKind, DeliveryError, DeliveryFault
from core.db import SessionFactory, WriteLock
from core.events import DeskFeed, record
from core.models import Conversation, Delivery, EventKind, Message
from core.retry import Backoff

__all__ = ["SendFailures"]

log = logging.getLogger(__name__)


class SendFailures:
    def __init__(
        self,
        sessions: SessionFactory,
        feed: DeskFeed,
        clock: Callable[[], dt.datetime],
        *,
        writes: WriteLock,
        deadline: dt.timedelta,
        schedule: Backoff,
    ) -> None:
        self._sessions = sessions
        self._writes = writes
        self._feed = feed
        self._clock = clock
        self._deadline = deadline
        self._schedule = schedule

    async def reschedule(self, message_id: int, exc: DeliveryError) -> bool:
        """Count the failed attempt and set the next one, on the backoff and never sooner
        than the platform asked; past the reply's deadline it is undelivered. True when a
        later attempt is scheduled, False when the message is not to be sent any more."""
        now = self._clock()
        async with self._writes, self._sessions() as session:
            message = await session.get(Message, message_id)
            if message is None:
                return False
            attempts = message.attempts + 1
            wait = max(self._schedule.delay(attempts), exc.retry_after or 0.0)
            next_at = now + dt.timedelta(seconds=wait)
            if next_at > (message.resent_at or message.created_at) + self._deadline:
                hours = self._deadline.total_seconds() / 3600
                given_up = DeliveryError(
                    f"not delivered within {hours:g} h ({attempts} attempts): {exc}",
                    permanent=True,
                    fault=exc.fault,
                )
            else:
                message.attempts, message.next_attempt_at = attempts, next_at
                message.delivery_error = str(exc)
                channel = message.channel
                await session.commit()
                await self._channel_fault(channel, exc)
                log.warning(
                    "message %s not delivered (%s); attempt %d in %.0f s",
                    message_id,
                    exc,
                    attempts + 1,
                    wait,
                )
                return True
        await self.mark_failed(message_id, given_up)
        return False

    async def mark_failed(self, message_id: int, failure: DeliveryError) -> None:
        """The message is undelivered: mark it FAILED with why (the fault, for the desk's
        words, and the error, for whoever reads the log), record it on the conversation
        and tell the desk."""
        error, fault = str(failure), failure.fault.value
        log.warning("message %s undelivered (%s): %s", message_id, fault, error)
        async with self._writes, self._sessions() as session:
            message = await session.get(Message, message_id)
            if message is None:
                return
            conversation = await session.get(Conversation, message.conversation_id)
            message.delivery = Delivery.FAILED
            message.delivery_error = error
            message.delivery_fault = failure.fault
            message.next_attempt_at = None
            if conversation is not None:
                record(
                    session,
                    conversation,
                    EventKind.UNDELIVERED,
                    self._clock(),
                    operator_id=message.operator_id,
                    message_id=message_id,
                    error=error,
                    fault=fault,
                )
            await session.commit()
        try:
            await self._feed.publish(
                "undelivered",
                message_id=message_id,
                conversation_id=message.conversation_id,
                operator_id=message.operator_id,
                author=message.author.value,
                error=error,
                fault=fault,
            )
        except Exception:  # the event is stored: the desk sees it on its next refresh
            log.exception("telling the desk about undelivered message %s failed", message_id)
        await self._channel_fault(message.channel, failure)

    async def _channel_fault(self, channel: ChannelKind, failure: DeliveryError) -> None:
        """Tell the admins a channel refuses the gateway itself; every failure is published
        and the readers (the admin bot, the console) say it once a while."""
        if failure.fault is not DeliveryFault.CONFIGURATION:
            return
        try:
            await self._feed.publish("channel_fault", channel=channel.value, error=str(failure))
        except Exception:  # the undelivered replies and the metrics still show it
            log.exception("telling the desk about the %s channel's fault failed", channel.value)
