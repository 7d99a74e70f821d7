"""Everything the admin bot sends, within Telegram's limits: per-chat and bot-wide rates,
retries after 429 and network errors, long texts split at readable boundaries.

The pieces are the Telegram channel's (`channels.delivery`, `channels.text`); a send the
platform refuses for good raises `DeliveryError`, whose text carries Telegram's reason
(forum mode looks for "message thread not found" in it).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from aiogram import Bot
from aiogram.types import BufferedInputFile, ForumTopic, InlineKeyboardMarkup, Message

from channels.delivery import RetryPolicy, SendRateLimiter, send_with_retries
from channels.kept_files import KeptFile
from channels.telegram import TEXT_LIMIT, classify_failure
from channels.text import split_text

__all__ = ["AdminSender", "ChatRef", "where"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ChatRef:
    """Where a message goes: a chat, and in a forum supergroup optionally a topic."""

    chat_id: int
    thread_id: int | None = None

    @property
    def key(self) -> str:
        return f"{self.chat_id}:{self.thread_id or 0}"

    @classmethod
    def from_key(cls, key: str) -> ChatRef:
        chat, _, thread = key.partition(":")
        return cls(int(chat), int(thread or 0) or None)


def where(message: Message) -> ChatRef:
    """The chat (and forum topic) a message came from: where the answer goes."""
    thread = message.message_thread_id if message.is_topic_message else None
    return ChatRef(message.chat.id, thread)


class AdminSender:
    def __init__(
        self, bot: Bot, *, retry: RetryPolicy | None = None, limiter: SendRateLimiter | None = None
    ) -> None:
        self.bot = bot
        self._retry = retry or RetryPolicy()
        self._limiter = limiter or SendRateLimiter(
            per_chat_rate=1.0, per_chat_burst=5, global_rate=30.0, global_burst=30
        )

    async def text(
        self, to: ChatRef, text: str, *, markup: InlineKeyboardMarkup | None = None
    ) -> Message:
        """Send `text` (split when long; the keyboard rides on the last piece); the last
        message sent is returned, so a card can be edited later."""
        pieces = split_text(text, TEXT_LIMIT) or ["…"]
        sent: Message | None = None
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            sent = await self._call(
                to,
                functools.partial(
                    self.bot.send_message,
                    chat_id=to.chat_id,
                    text=piece,
                    message_thread_id=to.thread_id,
                    reply_markup=markup if last else None,
                ),
            )
        assert sent is not None
        return sent

    async def edit(
        self, to: ChatRef, message_id: int, text: str, *, markup: InlineKeyboardMarkup | None = None
    ) -> None:
        await self._call(
            to,
            functools.partial(
                self.bot.edit_message_text,
                chat_id=to.chat_id,
                message_id=message_id,
                text=split_text(text, TEXT_LIMIT)[0],
                reply_markup=markup,
            ),
        )

    async def file(self, to: ChatRef, file: KeptFile) -> Message:
        return await self._call(
            to,
            functools.partial(
                self.bot.send_document,
                chat_id=to.chat_id,
                message_thread_id=to.thread_id,
                document=BufferedInputFile(file.content, filename=file.name),
            ),
        )

    async def photo(self, to: ChatRef, content: bytes, *, name: str) -> Message:
        return await self._call(
            to,
            functools.partial(
                self.bot.send_photo,
                chat_id=to.chat_id,
                message_thread_id=to.thread_id,
                photo=BufferedInputFile(content, filename=name),
            ),
        )

    async def topic(self, chat_id: int, name: str) -> ForumTopic:
        return await self._call(
            ChatRef(chat_id),
            functools.partial(self.bot.create_forum_topic, chat_id=chat_id, name=name[:128] or "#"),
        )

    async def _call(self, to: ChatRef, call: Callable[[], Awaitable[T]]) -> T:
        async def limited() -> T:
            await self._limiter.acquire(str(to.chat_id))
            return await call()

        return await send_with_retries(
            limited, classify_failure, self._retry, what=f"admin bot send to {to.key}"
        )
