"""Which conversation an operator's message is about, and the files they send.

In a private chat it is the operator's active conversation (`/switch`), or the first one
they hold when none is marked; in a forum topic it is the topic's conversation, taken for
the operator when it is still waiting (writing in a topic is taking it).
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from aiogram import Bot
from aiogram.types import Message

from admin.desk import Desk, DeskError
from admin.telegram.forum import ForumTopics
from admin.telegram.state import ActiveConversations
from channels.attachment_store import AttachmentStore, safe_name
from channels.telegram import DOWNLOAD_LIMIT
from core.contracts import Attachment, AttachmentKind
from core.files import write_once
from core.models import Operator

__all__ = ["Focus", "OperatorFiles"]


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
    """Photos and documents an operator sends, downloaded from the admin bot and kept as
    the clients' files are (`channels.attachment_store`: by content hash, 0600): a Telegram
    file id is valid only for the bot that received it, so the client's channel sends the
    kept bytes."""

    def __init__(self, bot: Bot, directory: Path) -> None:
        self._bot = bot
        self._store = AttachmentStore(directory, DOWNLOAD_LIMIT)

    async def attachments(self, message: Message) -> list[Attachment]:
        """The message's photo or document, downloaded and kept; `DeskError`, with nothing
        sent to the client, when it is over what a bot may download or cannot be kept."""
        found: list[tuple[Attachment, str]] = []
        if message.photo:
            largest = max(message.photo, key=lambda size: size.width * size.height)
            photo = Attachment(
                AttachmentKind.PHOTO, name="photo.jpg", size=largest.file_size, mime="image/jpeg"
            )
            found.append((photo, largest.file_id))
        if message.document is not None:
            doc = message.document
            mime = doc.mime_type or "application/octet-stream"
            document = Attachment(
                AttachmentKind.DOCUMENT,
                name=safe_name(doc.file_name, mime, 1),
                size=doc.file_size,
                mime=mime,
            )
            found.append((document, doc.file_id))
        return [await self._keep(attachment, file_id) for attachment, file_id in found]

    async def _keep(self, attachment: Attachment, file_id: str) -> Attachment:
        if not self._store.wants(attachment.size):
            raise DeskError(
                "desk_file_too_big", name=attachment.name, limit=DOWNLOAD_LIMIT // (1024 * 1024)
            )
        downloaded = await self._bot.download(file_id)
        assert downloaded is not None  # no destination given: the bytes come back
        kept = self._store.keep(attachment, downloaded.read())
        path, content = kept.stored_path, kept.content
        if (
            path is None
            or content is None
            or not await asyncio.to_thread(write_once, Path(path), content)
        ):
            raise DeskError("desk_file_not_kept", name=attachment.name)  # empty, or disk
        return dataclasses.replace(kept, content=None)
