"""/away and /online: whether new cards come to this operator."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message

from admin.desk import Desk
from admin.telegram.sender import AdminSender, where
from admin.telegram.texts import say
from core.models import Operator
from routing.presence import PresenceState

__all__ = ["build_router"]


async def away(message: Message, operator: Operator, desk: Desk, sender: AdminSender) -> None:
    await desk.presence.set(operator.id, PresenceState.AWAY)
    await sender.text(where(message), say("away", operator.language))


async def online(message: Message, operator: Operator, desk: Desk, sender: AdminSender) -> None:
    await desk.presence.set(operator.id, PresenceState.ONLINE)
    await sender.text(where(message), say("online", operator.language))


def build_router() -> Router:
    router = Router(name="presence")
    router.message.register(away, Command("away"))
    router.message.register(online, Command("online"))
    return router
