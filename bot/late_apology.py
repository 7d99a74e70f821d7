"""A client whose question still waits in the queue when its deadline passes hears from
the bot, once, «Простите, что ответ задерживается…», instead of silence after a promise
gone by. The SLA watcher calls it for each breach it records (once per conversation)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from bot.outbox import Outbox
from core.db import SessionFactory
from core.messages import add_reply
from core.models import Author, Client, Conversation, ConversationStatus
from core.texts import say
from routing.queue import QueueEntry

__all__ = ["LateApology"]


class LateApology:
    def __init__(
        self, sessions: SessionFactory, outbox: Outbox, clock: Callable[[], dt.datetime]
    ) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self._clock = clock

    async def __call__(self, entry: QueueEntry) -> None:
        """The apology, in the client's language and the channel they last wrote from;
        none once an operator holds the question (they are about to answer)."""
        async with self._sessions() as session:
            conversation = await session.get(Conversation, entry.conversation_id)
            if conversation is None or conversation.status is not ConversationStatus.QUEUED:
                return
            client = await session.get(Client, conversation.client_id)
            told = await add_reply(
                session,
                conversation,
                text=say("place_overdue", client.language if client else None),
                author=Author.BOT,
                at=self._clock(),
            )
            await session.commit()
        self._outbox.submit([told.id])
