"""Our buttons as Telegram keyboards: inline buttons carry the action back as callback
data; a contact request is a reply keyboard with Telegram's "share my phone" button."""

from __future__ import annotations

import functools
import logging

from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)

from channels.buttons import encode_button
from core.contracts import Action, Button, OutboundMessage

__all__ = ["SHARE_PHONE_LABEL", "reply_markup"]

log = logging.getLogger(__name__)

SHARE_PHONE_LABEL = "📱 Отправить номер / Share phone number"

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup


def reply_markup(message: OutboundMessage) -> Markup | None:
    return _markup(message.buttons, message.request_contact)


@functools.lru_cache(maxsize=512)
def _markup(buttons: tuple[Button, ...], request_contact: bool) -> Markup | None:
    """Built once per set of buttons: most replies carry the same one or two, and building
    aiogram's validated models costs more than sending them."""
    if request_contact:
        label = next((b.label for b in buttons if b.action is Action.CONTACT), SHARE_PHONE_LABEL)
        return ReplyKeyboardMarkup(
            keyboard=[[KeyboardButton(text=label, request_contact=True)]],
            resize_keyboard=True,
            one_time_keyboard=True,
        )
    rows = _rows([b for b in buttons if b.action is not Action.CONTACT])
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


def _rows(buttons: list[Button]) -> list[list[InlineKeyboardButton]]:
    """One button per row, except that rating buttons share one row."""
    rows: list[list[InlineKeyboardButton]] = []
    rating: list[InlineKeyboardButton] = []
    for button in buttons:
        data = encode_button(button)
        if data is None:
            log.warning("button %r dropped: its payload is too long for Telegram", button.label)
            continue
        inline = InlineKeyboardButton(text=button.label, callback_data=data)
        if button.action is Action.RATE:
            if not rating:
                rows.append(rating)
            rating.append(inline)
        else:
            rows.append([inline])
    return rows
