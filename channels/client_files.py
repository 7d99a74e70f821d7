"""The files clients send a bot, fetched from their platform so the desk keeps them.

What a platform gives the bot is a reference only it honours, for a while: a Telegram file
id is valid only for the bot that received it, a VK link expires. An operator in the web
console or the admin bot (another bot) could not open a client's screenshot by it. So
each photo, document, voice note, audio or video within the store's size limit is
downloaded as its message arrives and travels on as bytes (`channels.attachment_store`),
written once the engine knows the message is new. A file that cannot be fetched keeps its
metadata and reference, and never holds up or fails its message.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence

from channels.attachment_store import AttachmentStore
from core.contracts import Attachment, AttachmentKind, InboundMessage

__all__ = ["AT_ONCE", "FETCHED_KINDS", "ClientFiles", "FileUnavailable"]

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


class FileUnavailable(Exception):
    """The platform would not give a file's bytes (gone, refused, too large, unreachable)."""


Download = Callable[[Attachment], Awaitable[bytes]]
"""A file's bytes by its platform reference, at most the store's limit; `FileUnavailable`."""


class ClientFiles:
    def __init__(
        self, download: Download, reachable: Callable[[Attachment], bool], store: AttachmentStore
    ) -> None:
        """`reachable`: whether an attachment carries what `download` fetches it by."""
        self._download = download
        self._reachable = reachable
        self._store = store
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
            and self._reachable(attachment)
            and self._store.wants(attachment.size)
        )

    async def _attachment(self, attachment: Attachment) -> Attachment:
        if not self._wanted(attachment):
            return attachment
        try:
            async with self._slots:
                data = await self._download(attachment)
        except FileUnavailable as error:
            log.warning(
                "client file %s not fetched, kept as its reference: %s",
                attachment.file_id or attachment.url,
                error,
            )
            return attachment
        return self._store.keep(attachment, data)
