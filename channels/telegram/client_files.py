"""A Telegram client's files, downloaded by their file id through the bot that received
them (`channels.client_files` says why and when)."""

from __future__ import annotations

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiohttp import ClientError

from channels.attachment_store import AttachmentStore
from channels.client_files import ClientFiles, FileUnavailable
from core.contracts import Attachment

__all__ = ["DOWNLOAD_LIMIT", "telegram_client_files"]

DOWNLOAD_LIMIT = 20 * 1024 * 1024
"""The Bot API gives a bot the files it received up to this size (`getFile`), no larger."""


def telegram_client_files(bot: Bot, store: AttachmentStore, *, timeout: float) -> ClientFiles:
    async def download(attachment: Attachment) -> bytes:
        assert attachment.file_id is not None
        try:
            data = await bot.download(attachment.file_id, timeout=int(timeout))
        except (TelegramAPIError, ClientError, TimeoutError, OSError) as error:
            raise FileUnavailable(str(error)) from error
        return data.read() if data is not None else b""

    return ClientFiles(download, lambda attachment: attachment.file_id is not None, store)
