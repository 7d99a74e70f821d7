"""The operators' admin bot: the desk in a Telegram chat (aiogram 3)."""

from admin.telegram.audience import Audience
from admin.telegram.notifier import AdminNotifier
from admin.telegram.service import AdminBot, AdminBotOptions
from admin.telegram.state import Invites

__all__ = ["AdminBot", "AdminBotOptions", "AdminNotifier", "Audience", "Invites"]
