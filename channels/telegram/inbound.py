"""Telegram updates as `InboundMessage`: text, media as attachment metadata, edits,
`/start` links, the sender's own shared contact, and inline button presses.

Only private chats with the bot are support conversations; group traffic is ignored.
"""

from __future__ import annotations

from aiogram.types import CallbackQuery, Message, Update

from channels.buttons import decode_button
from core.contracts import Action, Attachment, AttachmentKind, ChannelKind, InboundMessage
from core.numbers import ascii_digits

__all__ = ["ALLOWED_UPDATES", "to_inbound"]

ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]


def to_inbound(update: Update) -> InboundMessage | None:
    """The message an update carries, or None for updates that are not a client's."""
    if update.message is not None:
        return _from_message(update.message, edited=False)
    if update.edited_message is not None:
        return _from_message(update.edited_message, edited=True)
    if update.callback_query is not None:
        return _from_callback(update.callback_query)
    return None


def _from_message(message: Message, *, edited: bool) -> InboundMessage | None:
    sender = message.from_user
    if message.chat.type != "private" or sender is None or sender.is_bot:
        return None
    chat_id = str(message.chat.id)
    text = message.text or message.caption or ""
    action: Action | None = None
    payload: str | None = None
    command, _, argument = text.partition(" ")
    if command == "/start" or command.startswith("/start@"):
        action, payload, text = Action.START, argument.strip() or None, ""
    contact = message.contact
    if contact is not None and contact.user_id == sender.id:
        action, payload = Action.CONTACT, _phone(contact.phone_number)
    reply = message.reply_to_message
    return InboundMessage(
        channel=ChannelKind.TELEGRAM,
        external_user_id=str(sender.id),
        platform_message_id=f"{chat_id}:{message.message_id}",
        text=text,
        display_name=sender.full_name,
        chat_id=chat_id,
        attachments=_attachments(message),
        sent_at=message.date,
        locale=sender.language_code,
        action=action,
        payload=payload,
        edited=edited,
        reply_to=(f"{chat_id}:{reply.message_id}",) if reply is not None else (),
        meta=_meta(message),
    )


def _from_callback(query: CallbackQuery) -> InboundMessage | None:
    pressed = decode_button(query.data)
    chat = query.message.chat if query.message is not None else None
    if pressed is None or (chat is not None and chat.type != "private"):
        return None
    action, payload = pressed
    chat_id = str(chat.id if chat is not None else query.from_user.id)
    return InboundMessage(
        channel=ChannelKind.TELEGRAM,
        external_user_id=str(query.from_user.id),
        platform_message_id=f"cb:{query.id}",
        display_name=query.from_user.full_name,
        chat_id=chat_id,
        locale=query.from_user.language_code,
        action=action,
        payload=payload,
        reply_to=(f"{chat_id}:{query.message.message_id}",) if query.message is not None else (),
    )


_FILES = (
    ("document", AttachmentKind.DOCUMENT, None),
    ("voice", AttachmentKind.VOICE, None),
    ("audio", AttachmentKind.AUDIO, None),
    ("video", AttachmentKind.VIDEO, None),
    ("video_note", AttachmentKind.VIDEO, "video/mp4"),
)
"""Message fields that carry one file: (field, kind, MIME type when Telegram gives none).
A voice note has no file name and a round video note no MIME type of their own."""


def _attachments(message: Message) -> tuple[Attachment, ...]:
    found: list[Attachment] = []
    if message.photo:
        largest = max(message.photo, key=lambda size: size.width * size.height)
        found.append(
            Attachment(
                AttachmentKind.PHOTO,
                file_id=largest.file_id,
                size=largest.file_size,
                mime="image/jpeg",
            )
        )
    for attribute, kind, usual_mime in _FILES:
        media = getattr(message, attribute)
        if media is not None:
            found.append(
                Attachment(
                    kind,
                    file_id=media.file_id,
                    name=getattr(media, "file_name", None),
                    size=media.file_size,
                    mime=getattr(media, "mime_type", None) or usual_mime,
                )
            )
    if message.sticker is not None:
        found.append(
            Attachment(
                AttachmentKind.STICKER,
                file_id=message.sticker.file_id,
                name=message.sticker.emoji,
                size=message.sticker.file_size,
            )
        )
    if message.location is not None:
        where = message.location
        found.append(
            Attachment(AttachmentKind.LOCATION, url=f"geo:{where.latitude},{where.longitude}")
        )
    if message.contact is not None and not found:
        found.append(Attachment(AttachmentKind.OTHER, name="contact"))
    return tuple(found)


def _meta(message: Message) -> dict[str, str]:
    """Platform details an operator may want that have no field of their own."""
    meta: dict[str, str] = {}
    if message.sticker is not None and message.sticker.emoji:
        meta["sticker_emoji"] = message.sticker.emoji
    if message.contact is not None:
        meta["contact_phone"] = _phone(message.contact.phone_number)
        sender_id = message.from_user.id if message.from_user is not None else None
        if message.contact.user_id != sender_id:
            meta["contact_of_someone_else"] = "true"
    if message.forward_origin is not None:
        meta["forwarded"] = "true"
    return meta


def _phone(number: str) -> str:
    digits = ascii_digits(number)
    return f"+{digits}" if digits else number
