"""A client's new (or edited) message → the operator holding the conversation.

Outside forum mode the message goes to the holder's private chat; in forum mode into the
conversation's topic. Files kept on disk follow the message as documents.
"""

from __future__ import annotations

from typing import Any

from admin.telegram.audience import Posting, topic_name_of
from admin.telegram.cards import attachments_line
from admin.telegram.sender import ChatRef
from admin.telegram.texts import say
from core.db import SessionFactory
from core.models import Client, Conversation, Message

__all__ = ["ClientRelay"]


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
        uploads) are passed on as documents; others (over the size limit) are only named."""
        for attachment in message.attachments or ():
            path = attachment.get("stored_path")
            if path:
                await self._post.sender.file(where, str(path), name=attachment.get("name"))
