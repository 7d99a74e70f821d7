"""Sending again a reply that was not delivered, once its cause is gone: the client
unblocked the bot, an administrator fixed the channel, the platform is back.

The same message goes back to the outbox rather than a copy: the thread keeps one reply,
and the pieces a platform accepted before are not sent twice (Telegram's send ledger,
VK's random_id are keyed by the message). Its retries run as for a new reply, their
deadline counted from the press.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import update

from admin.desk.errors import DeskError
from admin.desk.lookup import held_conversation
from bot.outbox import Outbox
from core.db import SessionFactory
from core.messages import SEND_LEASE
from core.models import Author, Delivery, Message
from routing.queue import OperatorQueue

__all__ = ["Resending"]


class Resending:
    def __init__(
        self,
        *,
        sessions: SessionFactory,
        queue: OperatorQueue,
        outbox: Outbox,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self._sessions = sessions
        self._queue = queue
        self._outbox = outbox
        self._clock = clock

    async def resend(self, operator_id: int, message_id: int) -> int:
        """Put the operator's undelivered reply back in the outbox; only the holder of its
        open conversation may (a bot's answer is not sent late: what it said, such as a
        place in the queue, may no longer hold). Returns the conversation's id."""
        now = self._clock()
        async with self._sessions() as session:
            message = await session.get(Message, message_id)
            if message is None or message.author is not Author.OPERATOR:
                raise DeskError("desk_not_resendable")
            conversation = await held_conversation(session, operator_id, message.conversation_id)
            # Only while still FAILED: of two presses at once (the console and the admin
            # bot), one sends it.
            taken = await session.scalar(
                update(Message)
                .where(Message.id == message_id, Message.delivery == Delivery.FAILED)
                .values(
                    delivery=Delivery.PENDING,
                    delivery_error=None,
                    delivery_fault=None,
                    attempts=0,
                    next_attempt_at=now + SEND_LEASE,
                    resent_at=now,
                )
                .returning(Message.id)
                .execution_options(synchronize_session=False)
            )
            if taken is None:
                raise DeskError("desk_not_resendable")
            await session.commit()
        await self._queue.renew(conversation.id, operator_id)
        self._outbox.submit([message_id])
        return conversation.id
