"""Cross-cutting rules of the admin bot, as aiogram middlewares.

`OperatorAccess` runs before every message and button press: it finds the operator behind
the Telegram account and hands it to the handler as `operator` (an operator who is
offline, after a Redis restart or a lease that ran out, is announced online by acting). A
stranger gets a polite refusal in their language (and the attempt is logged) — they never
see a queue, a name or a message; the one thing they may do is redeem an invite code (`/start CODE`), which the
start handler checks. `DeskErrors` turns a refused desk request into a reply in the
operator's language.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Message, TelegramObject

from admin.desk import Desk, DeskError
from admin.telegram.sender import AdminSender, ChatRef, where
from admin.telegram.texts import say
from core.contracts import DeliveryError
from core.models import Operator

__all__ = ["DeskErrors", "OperatorAccess"]

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class OperatorAccess(BaseMiddleware):
    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        desk: Desk = data["desk"]
        user = data.get("event_from_user")
        if user is None or user.is_bot:
            return None
        operator = await desk.operators.by_telegram(user.id)
        data["operator"] = operator
        if operator is not None:
            await desk.presence.used_admin_bot(operator.id)
            return await handler(event, data)
        if _redeems_invite(event):
            return await handler(event, data)
        log.warning(
            "admin bot refused Telegram user %s (@%s, %s): not an operator",
            user.id,
            user.username or "-",
            user.full_name,
        )
        language = "en" if (user.language_code or "ru")[:2] != "ru" else "ru"
        if isinstance(event, CallbackQuery):
            await event.answer(say("refused", language), show_alert=True)
        elif isinstance(event, Message) and event.chat.type == "private":
            sender: AdminSender = data["sender"]
            await sender.text(ChatRef(event.chat.id), say("refused", language))
        return None


class DeskErrors(BaseMiddleware):
    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        try:
            return await handler(event, data)
        except DeskError as refused:
            operator: Operator | None = data.get("operator")
            await _tell(event, data, refused.text(operator.language if operator else "ru"))
        except PermissionError:  # disabled in the middle of a command
            await _tell(event, data, say("refused", "ru"))
        except DeliveryError as exc:
            log.warning("admin bot could not answer: %s", exc)
        except Exception:
            log.exception("admin bot handler failed")
            operator = data.get("operator")
            await _tell(event, data, say("failed", operator.language if operator else "ru"))
        return None


async def _tell(event: TelegramObject, data: dict[str, Any], text: str) -> None:
    if isinstance(event, CallbackQuery):
        await event.answer(text, show_alert=True)
        if isinstance(event.message, Message):
            sender: AdminSender = data["sender"]
            await sender.text(where(event.message), text)
    elif isinstance(event, Message):
        sender = data["sender"]
        await sender.text(where(event), text)


def _redeems_invite(event: TelegramObject) -> bool:
    return (
        isinstance(event, Message)
        and event.chat.type == "private"
        and (event.text or "").startswith("/start ")
        and len((event.text or "").split()) == 2
    )
