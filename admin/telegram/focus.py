"""Which conversation an operator's message is about, and the files they send.

In a private chat it is the operator's active conversation (`/switch`), or the first one
they hold when none is marked; in a forum topic it is the topic's conversation, taken for
the operator when it is still waiting (writing in a topic is taking it).
"""

from __future__ import annotations

import re
from pathlib import Path

from aiogram import Bot
from aiogram.types import Message

from admin.desk import Desk, DeskError
from admin.telegram.forum import ForumTopics
from admin.telegram.state import ActiveConversations
from core.contracts import Attachment, AttachmentKind
from core.models import Operator

__all__ = ["Focus", "OperatorFiles"]

_UNSAFE = re.compile(r"[^\w.\-]+", re.UNICODE)
BOT_DOWNLOAD_LIMIT_MB = 20
"""Telegram's Bot API gives a bot the files it receives up to this size (`getFile`)."""


class Focus:
    def __init__(self, desk: Desk, active: ActiveConversations, topics: ForumTopics | None) -> None:
        self._desk = desk
        self._active = active
        self._topics = topics

    def in_topic(self, message: Message) -> bool:
        return (
            self._topics is not None
            and message.chat.id == self._topics.chat_id
            and bool(message.is_topic_message)
            and message.message_thread_id is not None
        )

    async def of(self, message: Message, operator: Operator) -> int | None:
        if self._topics is not None and self.in_topic(message):
            return await self._topics.conversation_of(message.message_thread_id or 0)
        active = await self._active.get(operator.id)
        if active is not None:
            return active
        held = await self._desk.queue.rows(operator.id, "mine")
        if not held:
            return None
        await self._active.set(operator.id, held[0].conversation_id)
        return held[0].conversation_id

    async def to_answer(self, message: Message, operator: Operator) -> int | None:
        """The conversation a plain message answers; in a topic, taken first if waiting."""
        conversation_id = await self.of(message, operator)
        if conversation_id is not None and self.in_topic(message):
            view = await self._desk.conversations.view(conversation_id)
            if view.status == "queued":
                await self._desk.actions.take(operator.id, conversation_id)
        return conversation_id


class OperatorFiles:
    """Photos and documents an operator sends, downloaded from the admin bot and kept on
    disk: a Telegram file id is valid only for the bot that received it, so the client's
    channel sends the stored file."""

    def __init__(self, bot: Bot, directory: Path) -> None:
        self._bot = bot
        self._directory = directory

    async def attachments(self, message: Message) -> list[Attachment]:
        """The message's photo or document, downloaded; `DeskError`, with nothing sent
        to the client, when it is over what a bot may download."""
        found: list[tuple[AttachmentKind, str, str, str | None, int | None, str | None]] = []
        if message.photo:
            largest = max(message.photo, key=lambda size: size.width * size.height)
            found.append(
                (
                    AttachmentKind.PHOTO,
                    largest.file_id,
                    largest.file_unique_id,
                    "photo.jpg",
                    largest.file_size,
                    "image/jpeg",
                )
            )
        if message.document is not None:
            doc = message.document
            found.append(
                (
                    AttachmentKind.DOCUMENT,
                    doc.file_id,
                    doc.file_unique_id,
                    doc.file_name or "document",
                    doc.file_size,
                    doc.mime_type,
                )
            )
        attachments = []
        for kind, file_id, unique_id, name, size, mime in found:
            if (size or 0) > BOT_DOWNLOAD_LIMIT_MB * 1024 * 1024:
                raise DeskError("desk_file_too_big", name=name, limit=BOT_DOWNLOAD_LIMIT_MB)
            self._directory.mkdir(parents=True, exist_ok=True)
            path = (
                self._directory
                / f"{_UNSAFE.sub('_', unique_id)}-{_UNSAFE.sub('_', name or 'file')}"
            )
            await self._bot.download(file_id, destination=path)
            attachments.append(
                Attachment(kind, name=name, size=size, mime=mime, stored_path=str(path))
            )
        return attachments
