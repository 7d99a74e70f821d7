"""The local Bot API server with what the admin bot needs beyond the client bot's: forum
topics (createForumTopic, topic messages, a topic an operator deleted) and messages from
people in a group chat."""

from __future__ import annotations

import itertools
import time
from typing import Any

from fake_telegram import FakeTelegram, _ApiError

__all__ = ["ForumTelegram"]


class ForumTelegram(FakeTelegram):
    def __init__(self, token: str, **kwargs: Any) -> None:
        super().__init__(token, **kwargs)
        self.topics: dict[int, tuple[int, str]] = {}  # thread id → (chat id, name)
        self.deleted_topics: set[tuple[int, int]] = set()
        self._thread_ids = itertools.count(100)

    def group_message(
        self,
        chat_id: int,
        user_id: int,
        text: str | None = None,
        *,
        thread_id: int | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """A person writes in a (forum) supergroup, in a topic when `thread_id` is given."""
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat_id),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "supergroup", "title": "Operators", "is_forum": True},
            "from": self.user(user_id),
            **fields,
        }
        if thread_id is not None:
            message.update(message_thread_id=thread_id, is_topic_message=True)
        return self.deliver_message(chat_id, message, text)

    def delete_topic(self, chat_id: int, thread_id: int) -> None:
        self.deleted_topics.add((chat_id, thread_id))

    def in_topic(self, chat_id: int, thread_id: int) -> list[str]:
        return [
            m.get("text", "")
            for m in self.sent
            if m["chat"]["id"] == chat_id and m.get("message_thread_id") == thread_id
        ]

    async def _m_createforumtopic(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params.get("name") or ""
        if not 1 <= len(name) <= 128:
            raise _ApiError(400, "Bad Request: TOPIC_NAME_INVALID")
        thread_id = next(self._thread_ids)
        self.topics[thread_id] = (int(params["chat_id"]), name)
        return {"message_thread_id": thread_id, "name": name, "icon_color": 7322096}

    def _bot_message(self, params: dict[str, Any], **content: Any) -> dict[str, Any]:
        thread = params.get("message_thread_id")
        if thread is not None and (params.get("chat_id"), thread) in self.deleted_topics:
            raise _ApiError(400, "Bad Request: message thread not found")
        message = super()._bot_message(params, **content)
        if thread is not None:
            message.update(message_thread_id=thread, is_topic_message=True)
        return message
