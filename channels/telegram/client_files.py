"""The files a client sends the bot, fetched from Telegram so the desk keeps them.

A Telegram file id is valid only for the bot that received it: an operator in the web
console, or in the admin bot (another bot), could not open a client's screenshot by it.
So each photo, document, voice note, audio or video within the store's size limit is
downloaded as its message arrives and travels on as bytes (`channels.attachment_store`),
written once the engine knows the message is new. A file that cannot be fetched keeps its
metadata and id, and never holds up or fails its message.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiohttp import ClientError

from channels.attachment_store import AttachmentStore
from core.contracts import Attachment, AttachmentKind, InboundMessage

__all__ = ["FETCHED_KINDS", "ClientFiles"]

log = logging.getLogger(__name__)

FETCHED_KINDS = frozenset(
    {
        AttachmentKind.PHOTO,
        AttachmentKind.DOCUMENT,
        AttachmentKind.VOICE,
        AttachmentKind.AUDIO,
        AttachmentKind.VIDEO,
    }
)
"""Stickers are decoration; a location or a contact has no file."""

AT_ONCE = 4
"""Downloads in flight per channel: a batch of photos does not open a hundred."""


class ClientFiles:
    def __init__(self, bot: Bot, store: AttachmentStore, *, timeout: float = 30.0) -> None:
        self._bot = bot
        self._store = store
        self._timeout = timeout
        self._slots = asyncio.Semaphore(AT_ONCE)

    async def fetch(self, messages: Sequence[InboundMessage]) -> list[InboundMessage]:
        """`messages` with their files' bytes attached where they could be fetched."""
        return list(await asyncio.gather(*map(self._message, messages)))

    async def _message(self, message: InboundMessage) -> InboundMessage:
        if not any(map(self._wanted, message.attachments)):
            return message
        attachments = await asyncio.gather(*map(self._attachment, message.attachments))
        return dataclasses.replace(message, attachments=tuple(attachments))

    def _wanted(self, attachment: Attachment) -> bool:
        return (
            attachment.kind in FETCHED_KINDS
            and attachment.file_id is not None
            and self._store.wants(attachment.size)
        )

    async def _attachment(self, attachment: Attachment) -> Attachment:
        if not self._wanted(attachment):
            return attachment
        assert attachment.file_id is not None
        try:
            async with self._slots:
                data = await self._bot.download(attachment.file_id, timeout=int(self._timeout))
        except (TelegramAPIError, ClientError, TimeoutError, OSError) as error:
            log.warning("client file %s not fetched, kept as its id: %s", attachment.file_id, error)
            return attachment
        return self._store.keep(attachment, data.read() if data is not None else b"")
