"""A client's new (or edited) message → the operator holding the conversation.

Outside forum mode the message goes to the holder's private chat; in forum mode into the
conversation's topic. Files kept on disk follow the message as documents.
"""

from __future__ import annotations

import logging
from typing import Any

from admin.telegram.audience import Posting, topic_name_of
from admin.telegram.cards import attachments_line
from admin.telegram.sender import ChatRef
from admin.telegram.texts import say
from channels.kept_files import read_kept_file
from core.contracts import Attachment, DeliveryError
from core.db import SessionFactory
from core.models import Client, Conversation, Message

__all__ = ["ClientRelay"]

log = logging.getLogger(__name__)


class ClientRelay:
    def __init__(
        self,
        *,
        posting: Posting,
        sessions: SessionFactory,
    ) -> None:
        self._post = posting
        self._sessions = sessions

    async def client_message(self, notice: dict[str, Any]) -> None:
        conversation_id = int(notice["conversation_id"])
        async with self._sessions() as session:
            message = await session.get(Message, int(notice["message_id"]))
            conversation = await session.get(Conversation, conversation_id)
            client = await session.get(Client, conversation.client_id) if conversation else None
        if message is None or conversation is None:
            return
        name = (client.display_name if client else None) or f"#{conversation.client_id}"
        key = "client_edited" if notice.get("edited") else "client_message"
        channel = message.channel.value

        def text(language: str) -> str:
            said = say(
                key, language, id=conversation_id, client=name, channel=channel, text=message.text
            )
            if not message.attachments:
                return said
            return f"{said}\n{attachments_line(message.attachments, language)}"

        post = self._post
        if post.topics is not None:
            where, _ = await post.topics.send(
                conversation_id,
                topic_name_of(post.audience, conversation_id, name, channel),
                text(post.audience.language),
            )
            await self._files(where, message)
            return
        holder = await post.readers.holder(conversation.assigned_operator_id)
        if holder is not None:
            await post.sender.text(holder.ref, text(holder.language))
            await self._files(holder.ref, message)

    async def _files(self, where: ChatRef, message: Message) -> None:
        """Client files kept on disk (email attachments, Telegram and VK clients' files, web
        uploads) are passed on as documents. The others are only named in the text above:
        over the size limit, or not readable here (erased since, or kept in another
        machine's `VAR_DIR`), which is logged and holds up none of the rest."""
        for attachment in map(Attachment.from_json, message.attachments or ()):
            if not attachment.stored_path:
                continue
            try:
                kept = await read_kept_file(attachment)
            except DeliveryError as unreadable:
                log.warning("client's file not passed on: %s", unreadable)
                continue
            await self._post.sender.file(where, kept)
