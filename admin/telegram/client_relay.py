"""A client's new (or edited) message → the operator holding the conversation.

Outside forum mode the message goes to the holder's private chat; in forum mode into the
conversation's topic. Files kept on disk follow the message as documents.
"""

from __future__ import annotations

from typing import Any

from admin.telegram.audience import Audience, Readers, topic_name_of
from admin.telegram.cards import attachments_line
from admin.telegram.forum import ForumTopics
from admin.telegram.sender import AdminSender, ChatRef
from admin.telegram.texts import say
from core.db import SessionFactory
from core.models import Client, Conversation, Message

__all__ = ["ClientRelay"]


class ClientRelay:
    def __init__(
        self,
        *,
        sender: AdminSender,
        sessions: SessionFactory,
        readers: Readers,
        audience: Audience,
        topics: ForumTopics | None,
    ) -> None:
        self._sender = sender
        self._sessions = sessions
        self._readers = readers
        self._audience = audience
        self._topics = topics

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
        holder = await self._readers.holder(conversation.assigned_operator_id)
        readers = [holder] if holder is not None and self._topics is None else []
        for reader in readers:
            text = say(
                key,
                reader.language,
                id=conversation_id,
                client=name,
                channel=message.channel.value,
                text=message.text,
            )
            if message.attachments:
                text = f"{text}\n{attachments_line(message.attachments, reader.language)}"
            await self._sender.text(reader.ref, text)
            await self._files(reader.ref, message)
        if self._topics is not None:
            language = self._audience.language
            text = say(
                key,
                language,
                id=conversation_id,
                client=name,
                channel=message.channel.value,
                text=message.text,
            )
            if message.attachments:
                text = f"{text}\n{attachments_line(message.attachments, language)}"
            where, _ = await self._topics.send(
                conversation_id,
                topic_name_of(self._audience, conversation_id, name, message.channel.value),
                text,
            )
            await self._files(where, message)

    async def _files(self, where: ChatRef, message: Message) -> None:
        """Client files kept on disk (email attachments, Telegram and VK clients' files, web
        uploads) are passed on as documents; others (over the size limit) are only named."""
        for attachment in message.attachments or ():
            path = attachment.get("stored_path")
            if path:
                await self._sender.file(where, str(path), name=attachment.get("name"))
