"""The operators' admin bot: the desk in a Telegram chat (aiogram 3)."""

from admin.bot.notifier import AdminNotifier, Audience
from admin.bot.service import AdminBot, AdminBotOptions
from admin.bot.state import Invites

__all__ = ["AdminBot", "AdminBotOptions", "AdminNotifier", "Audience", "Invites"]
