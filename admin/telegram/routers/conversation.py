"""Working the active conversation: plain messages, photos and documents go to the client;
/via, /close, /transfer, /category, /note, /client, /history; an undelivered reply's Send again.
Works in a private chat (the active conversation) and in a forum topic (the topic's
conversation)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from admin.desk import Desk
from admin.telegram.cards import NO_BUTTONS, ResendButton, client_card_text, history_text
from admin.telegram.focus import Focus, OperatorFiles
from admin.telegram.sender import AdminSender, where
from admin.telegram.state import ActiveConversations
from admin.telegram.texts import say
from core.contracts import ChannelKind
from core.models import Operator
from core.numbers import whole_number

__all__ = ["build_router"]

HISTORY_SHOWN = 30


async def _focused(
    message: Message, operator: Operator, focus: Focus, sender: AdminSender
) -> int | None:
    conversation_id = await focus.of(message, operator)
    if conversation_id is None:
        await sender.text(
            where(message),
            say(
                "topic_not_conversation" if focus.in_topic(message) else "no_active",
                operator.language,
            ),
        )
    return conversation_id


async def close(
    message: Message,
    operator: Operator,
    desk: Desk,
    focus: Focus,
    active: ActiveConversations,
    sender: AdminSender,
    zone: ZoneInfo,
) -> None:
    conversation_id = await _focused(message, operator, focus, sender)
    if conversation_id is None:
        return
    await desk.actions.close(operator.id, conversation_id)
    await active.clear(operator.id, conversation_id)
    await sender.text(where(message), say("closed", operator.language, id=conversation_id))
    if focus.in_topic(message):
        return
    mine = await desk.queue.rows(operator.id, "mine")
    if mine:
        await active.set(operator.id, mine[0].conversation_id)
        await sender.text(
            where(message),
            say(
                "switched",
                operator.language,
                id=mine[0].conversation_id,
                client=mine[0].client_name,
            ),
        )


async def transfer(
    message: Message,
    command: CommandObject,
    operator: Operator,
    desk: Desk,
    focus: Focus,
    active: ActiveConversations,
    sender: AdminSender,
) -> None:
    target, _, note = (command.args or "").strip().partition(" ")
    if not target:
        await sender.text(where(message), say("usage_transfer", operator.language))
        return
    conversation_id = await _focused(message, operator, focus, sender)
    if conversation_id is None:
        return
    if target in await desk.operators.known_groups():
        await desk.transfers.transfer(operator.id, conversation_id, group=target, note=note.strip())
        text = say("transferred_group", operator.language, id=conversation_id, group=target)
    else:
        colleague = await desk.operators.find(target)
        await desk.transfers.transfer(
            operator.id, conversation_id, to_operator=str(colleague.id), note=note.strip()
        )
        text = say(
            "transferred_operator", operator.language, id=conversation_id, name=colleague.name
        )
    await active.clear(operator.id, conversation_id)
    await sender.text(where(message), text)


async def category(
    message: Message,
    command: CommandObject,
    operator: Operator,
    desk: Desk,
    focus: Focus,
    sender: AdminSender,
) -> None:
    name = (command.args or "").strip()
    if not name:
        choice = "\n".join(
            f"{known} — {desk.categories.title(known, operator.language)}"
            for known in desk.categories.names
        )
        await sender.text(where(message), say("usage_category", operator.language, names=choice))
        return
    conversation_id = await _focused(message, operator, focus, sender)
    if conversation_id is None:
        return
    await desk.categories.set_category(operator.id, conversation_id, name)
    title = desk.categories.title(name, operator.language)
    text = say("category_set", operator.language, id=conversation_id, category=title)
    await sender.text(where(message), text)


async def note(
    message: Message,
    command: CommandObject,
    operator: Operator,
    desk: Desk,
    focus: Focus,
    sender: AdminSender,
) -> None:
    text = (command.args or "").strip()
    if not text:
        await sender.text(where(message), say("usage_note", operator.language))
        return
    conversation_id = await _focused(message, operator, focus, sender)
    if conversation_id is None:
        return
    await desk.actions.note(operator.id, conversation_id, text)
    await sender.text(where(message), say("note_saved", operator.language, id=conversation_id))


async def client(
    message: Message,
    operator: Operator,
    desk: Desk,
    focus: Focus,
    sender: AdminSender,
    zone: ZoneInfo,
) -> None:
    conversation_id = await _focused(message, operator, focus, sender)
    if conversation_id is not None:
        card = await desk.clients.card(operator.id, conversation_id)
        await sender.text(where(message), client_card_text(card, operator.language, zone))


async def history(
    message: Message,
    operator: Operator,
    desk: Desk,
    focus: Focus,
    sender: AdminSender,
    zone: ZoneInfo,
) -> None:
    conversation_id = await _focused(message, operator, focus, sender)
    if conversation_id is not None:
        messages = await desk.conversations.history(
            operator.id, conversation_id, limit=HISTORY_SHOWN
        )
        await sender.text(where(message), history_text(messages, operator.language, zone))


async def merge(
    message: Message,
    command: CommandObject,
    operator: Operator,
    desk: Desk,
    focus: Focus,
    sender: AdminSender,
) -> None:
    typed, _, note = (command.args or "").strip().lstrip("#").partition(" ")
    number = whole_number(typed)
    if number is None:
        await sender.text(where(message), say("usage_merge", operator.language))
        return
    conversation_id = await _focused(message, operator, focus, sender)
    if conversation_id is None:
        return
    done = await desk.merging.merge(operator.id, conversation_id, number, note.strip() or None)
    await sender.text(
        where(message),
        say(
            "merged",
            operator.language,
            record=done.record_id,
            merged=done.merged_id,
            survivor=done.survivor_id,
        ),
    )


async def unmerge(
    message: Message,
    command: CommandObject,
    operator: Operator,
    desk: Desk,
    sender: AdminSender,
) -> None:
    number = whole_number((command.args or "").strip().lstrip("#"))
    if number is None:
        await sender.text(where(message), say("usage_unmerge", operator.language))
        return
    done = await desk.merging.unmerge(operator.id, number)
    await sender.text(
        where(message),
        say("unmerged", operator.language, record=done.record_id, merged=done.merged_id),
    )


async def via(
    message: Message,
    command: CommandObject,
    operator: Operator,
    desk: Desk,
    focus: Focus,
    sender: AdminSender,
) -> None:
    channel_name, _, text = (command.args or "").strip().partition(" ")
    channel = next((c for c in ChannelKind if c.value == channel_name.lower()), None)
    if channel is None or not text.strip():
        await sender.text(where(message), say("usage_via", operator.language))
        return
    conversation_id = await focus.to_answer(message, operator)
    if conversation_id is None:
        await sender.text(where(message), say("no_active", operator.language))
        return
    await desk.actions.reply(operator.id, conversation_id, text.strip(), via=channel)


async def unknown_command(message: Message, operator: Operator, sender: AdminSender) -> None:
    if message.chat.type == "private":
        await sender.text(where(message), say("unknown_command", operator.language))


async def to_client(
    message: Message,
    operator: Operator,
    desk: Desk,
    focus: Focus,
    files: OperatorFiles,
    sender: AdminSender,
    zone: ZoneInfo,
) -> None:
    """Anything an operator writes in their chat (or in a conversation's topic) goes to the
    client; chatter in a plain operators' group does not."""
    if message.chat.type != "private" and not focus.in_topic(message):
        return
    conversation_id = await focus.to_answer(message, operator)
    if conversation_id is None:
        await sender.text(
            where(message),
            say(
                "topic_not_conversation" if focus.in_topic(message) else "no_active",
                operator.language,
            ),
        )
        return
    attachments = await files.attachments(message)
    await desk.actions.reply(
        operator.id, conversation_id, message.text or message.caption or "", attachments
    )


async def resend(
    query: CallbackQuery,
    callback_data: ResendButton,
    operator: Operator,
    desk: Desk,
    sender: AdminSender,
) -> None:
    """Send the undelivered reply again; the notice loses its button and says so."""
    conversation_id = await desk.resending.resend(operator.id, callback_data.message_id)
    resent = say("resent", operator.language, id=conversation_id)
    await query.answer(resent)
    notice = query.message
    if isinstance(notice, Message) and notice.text:
        await sender.edit(
            where(notice), notice.message_id, f"{notice.text}\n\n🔁 {resent}", markup=NO_BUTTONS
        )


def build_router() -> Router:
    router = Router(name="conversation")
    router.message.register(close, Command("close"))
    router.message.register(transfer, Command("transfer"))
    router.message.register(category, Command("category"))
    router.message.register(note, Command("note"))
    router.message.register(client, Command("client"))
    router.message.register(history, Command("history"))
    router.message.register(merge, Command("merge"))
    router.message.register(unmerge, Command("unmerge"))
    router.message.register(via, Command("via"))
    router.callback_query.register(resend, ResendButton.filter())
    router.message.register(unknown_command, F.text.startswith("/"))
    router.message.register(to_client, F.text | F.photo | F.document)
    return router
