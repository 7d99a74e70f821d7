"""Telegram through aiogram 3: long polling or webhook, sending within Telegram's limits."""

from channels.telegram.channel import (
    API_ERRORS,
    IN_FLIGHT,
    SECRET_HEADER,
    TEXT_LIMIT,
    TelegramChannel,
    classify_failure,
    poller_name,
    retry_after_of,
)
from channels.telegram.client_files import DOWNLOAD_LIMIT

__all__ = [
    "API_ERRORS",
    "DOWNLOAD_LIMIT",
    "IN_FLIGHT",
    "SECRET_HEADER",
    "TEXT_LIMIT",
    "TelegramChannel",
    "classify_failure",
    "poller_name",
    "retry_after_of",
]
