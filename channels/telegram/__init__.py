"""Telegram through aiogram 3: long polling or webhook, sending within Telegram's limits."""

from channels.telegram.channel import (IN_FLIGHT, SECRET_HEADER, TEXT_LIMIT, TelegramChannel,
                                       classify_failure, poller_name)

__all__ = ["IN_FLIGHT", "SECRET_HEADER", "TEXT_LIMIT", "TelegramChannel", "classify_failure",
           "poller_name"]
