"""The queue: /queue, /next, /take N, the Take / Later buttons of a card, /switch N."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from admin.desk import ConversationView, Desk, QueueView
from admin.suggestions import suggest
from admin.telegram.cards import (
    LaterButton,
    TakeButton,
    article_keyboard,
    conversation_text,
    queue_text,
)
from admin.telegram.focus import Focus
from admin.telegram.sender import AdminSender, ChatRef, where
from admin.telegram.state import ActiveConversations
from admin.telegram.texts import say
from core.models import Operator
from core.numbers import whole_number

__all__ = ["build_router"]


VIEWS: dict[str, QueueView] = {
    "": "waiting",
    "waiting": "waiting",
    "ждут": "waiting",
    "очередь": "waiting",
    "mine": "mine",
    "my": "mine",
    "мои": "mine",
    "breaching": "breaching",
    "due": "breaching",
    "срочные": "breaching",
    "горят": "breaching",
}


async def show_queue(
    message: Message,
    command: CommandObject,
    operator: Operator,
    desk: Desk,
    sender: AdminSender,
    zone: ZoneInfo,
) -> None:
    view = VIEWS.get((command.args or "").strip().lower(), "waiting")
    rows = await desk.queue.rows(operator.id, view)
    await sender.text(
        where(message), queue_text(rows, view, operator.language, zone, desk.categories)
    )


async def take_next(
    message: Message,
    operator: Operator,
    desk: Desk,
    active: ActiveConversations,
    sender: AdminSender,
    zone: ZoneInfo,
) -> None:
    view = await desk.actions.take_next(operator.id)
    await _opened(view, operator, desk, active, sender, zone, where(message))


async def take(
    message: Message,
    command: CommandObject,
    operator: Operator,
    desk: Desk,
    active: ActiveConversations,
    sender: AdminSender,
    zone: ZoneInfo,
) -> None:
    number = _number(command.args)
    if number is None:
        await sender.text(where(message), say("usage_take", operator.language))
        return
    view = await desk.actions.take(operator.id, number)
    await _opened(view, operator, desk, active, sender, zone, where(message))


async def take_button(
    query: CallbackQuery,
    callback_data: TakeButton,
    operator: Operator,
    desk: Desk,
    active: ActiveConversations,
    sender: AdminSender,
    focus: Focus,
    zone: ZoneInfo,
) -> None:
    view = await desk.actions.take(operator.id, callback_data.conversation_id)
    await query.answer()
    card = query.message if isinstance(query.message, Message) else None
    if card is not None and focus.in_topic(card):
        return  # forum mode: the work goes on in the topic; the card is edited for everyone
    await _opened(view, operator, desk, active, sender, zone, ChatRef(query.from_user.id))


async def later_button(
    query: CallbackQuery, callback_data: LaterButton, operator: Operator
) -> None:
    await query.answer(say("later", operator.language, id=callback_data.conversation_id))


async def switch(
    message: Message,
    command: CommandObject,
    operator: Operator,
    desk: Desk,
    active: ActiveConversations,
    sender: AdminSender,
    zone: ZoneInfo,
) -> None:
    mine = await desk.queue.rows(operator.id, "mine")
    number = _number(command.args)
    if number is None or number not in {row.conversation_id for row in mine}:
        current = await active.get(operator.id)
        rows = "\n".join(
            f"{'▶' if row.conversation_id == current else '•'} #{row.conversation_id} "
            f"{row.client_name} ({row.channel})"
            for row in mine
        )
        await sender.text(
            where(message),
            say("mine_list", operator.language, rows=rows or say("nothing", operator.language)),
        )
        return
    view = await desk.conversations.for_operator(operator.id, number)
    await _opened(view, operator, desk, active, sender, zone, where(message))


async def _opened(
    view: ConversationView,
    operator: Operator,
    desk: Desk,
    active: ActiveConversations,
    sender: AdminSender,
    zone: ZoneInfo,
    to: ChatRef,
) -> None:
    """The conversation made active, shown with a button per article the KB suggests for
    it (as the console offers them beside its reply box)."""
    await active.set(operator.id, view.id)
    suggested = [(s.article_id, s.title) for s in suggest(desk.teaching, view)]
    await sender.text(
        to,
        conversation_text(view, operator.language, zone),
        markup=article_keyboard(view.id, suggested, operator.language),
    )


def _number(text: str | None) -> int | None:
    value = whole_number((text or "").strip().lstrip("#"))
    return value if value else None


def build_router() -> Router:
    router = Router(name="queue")
    router.message.register(show_queue, Command("queue"))
    router.message.register(take_next, Command("next"))
    router.message.register(take, Command("take"))
    router.callback_query.register(take_button, TakeButton.filter())
    router.callback_query.register(later_button, LaterButton.filter())
    router.message.register(switch, Command("switch"))
    return router
