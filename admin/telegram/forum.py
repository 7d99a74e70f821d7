"""Forum mode: one topic per conversation in the operators' supergroup.

The topic is created when the conversation first needs it and remembered in Redis both
ways (conversation → topic, topic → conversation). Operators may close or delete topics:
a send that Telegram answers with "message thread not found" creates a new topic and
sends there.
"""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup, Message
from redis.asyncio import Redis

from admin.telegram.sender import AdminSender, ChatRef
from core import keys
from core.contracts import DeliveryError
from routing.queue import as_text

__all__ = ["ForumTopics"]

GONE = ("thread not found", "topic_deleted", "topic_closed", "topic not found")


class ForumTopics:
    def __init__(self, redis: Redis, sender: AdminSender, chat_id: int) -> None:
        self._redis = redis
        self._sender = sender
        self.chat_id = chat_id

    async def conversation_of(self, thread_id: int) -> int | None:
        value = await self._redis.hget(keys.admin_topic_conversations(), str(thread_id))
        return int(as_text(value)) if value is not None else None

    async def thread_of(self, conversation_id: int) -> int | None:
        value = await self._redis.hget(keys.admin_topics(), str(conversation_id))
        return int(as_text(value)) if value is not None else None

    async def send(
        self,
        conversation_id: int,
        topic_name: str,
        text: str,
        *,
        markup: InlineKeyboardMarkup | None = None,
    ) -> tuple[ChatRef, Message]:
        """Post in the conversation's topic (created, or re-created when gone)."""
        thread = await self.thread_of(conversation_id) or await self._create(
            conversation_id, topic_name
        )
        where = ChatRef(self.chat_id, thread)
        try:
            return where, await self._sender.text(where, text, markup=markup)
        except DeliveryError as exc:
            if not any(sign in str(exc).lower() for sign in GONE):
                raise
        where = ChatRef(self.chat_id, await self._create(conversation_id, topic_name))
        return where, await self._sender.text(where, text, markup=markup)

    async def _create(self, conversation_id: int, topic_name: str) -> int:
        topic = await self._sender.topic(self.chat_id, topic_name)
        old = await self.thread_of(conversation_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            if old is not None:
                pipe.hdel(keys.admin_topic_conversations(), str(old))
            pipe.hset(keys.admin_topics(), str(conversation_id), topic.message_thread_id)
            pipe.hset(
                keys.admin_topic_conversations(), str(topic.message_thread_id), conversation_id
            )
            await pipe.execute()
        return topic.message_thread_id
