"""What the admin bot shows: conversation cards, queue lists, client cards and histories
as text, and the inline buttons under them. Pure functions over the desk's views."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from admin.desk import Categories, ClientCard, ConversationView, MessageView, QueueRow, QueueView
from admin.telegram.texts import say

__all__ = [
    "NO_BUTTONS",
    "ArticleButton",
    "LaterButton",
    "ResendButton",
    "TakeButton",
    "article_keyboard",
    "attachments_line",
    "card_text",
    "client_card_text",
    "conversation_text",
    "history_text",
    "queue_text",
    "resend_keyboard",
    "take_keyboard",
]

LAST_SHOWN = 5
NO_BUTTONS = InlineKeyboardMarkup(inline_keyboard=[])
"""What an edited message's keyboard becomes once its buttons are spent."""
LINE_LIMIT = 300


class TakeButton(CallbackData, prefix="take"):
    conversation_id: int


class LaterButton(CallbackData, prefix="later"):
    conversation_id: int


class ArticleButton(CallbackData, prefix="article"):
    conversation_id: int
    article_id: str


class ResendButton(CallbackData, prefix="resend"):
    message_id: int


def take_keyboard(conversation_id: int, language: str) -> InlineKeyboardMarkup:
    return _one_row(
        (say("button_take", language), TakeButton(conversation_id=conversation_id)),
        (say("button_later", language), LaterButton(conversation_id=conversation_id)),
    )


def resend_keyboard(message_id: int, language: str) -> InlineKeyboardMarkup:
    return _one_row((say("button_resend", language), ResendButton(message_id=message_id)))


def _one_row(*buttons: tuple[str, CallbackData]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=text, callback_data=data.pack()) for text, data in buttons]
        ]
    )


def article_keyboard(
    conversation_id: int | None, articles: Sequence[tuple[str, str]], language: str
) -> InlineKeyboardMarkup | None:
    """One "send to the client" button per article, given as (id, title) (only with an
    active conversation; articles whose id does not fit Telegram's 64-byte callback data
    get none)."""
    if conversation_id is None:
        return None
    rows = []
    for article_id, full_title in articles:
        try:
            data = ArticleButton(conversation_id=conversation_id, article_id=article_id).pack()
        except ValueError:
            continue
        title = full_title[:40]
        rows.append(
            [
                InlineKeyboardButton(
                    text=say("button_send", language, title=title), callback_data=data
                )
            ]
        )
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


def card_text(view: ConversationView, language: str, zone: ZoneInfo, categories: Categories) -> str:
    """The card of a newly queued conversation: who, where, what about, by when, and the
    client's last messages."""
    return say(
        "card",
        language,
        id=view.id,
        client=view.client_name,
        channel=view.channel,
        category=categories.title(view.category, language),
        group=view.group or "—",
        priority=view.priority,
        deadline=_when(view.deadline, zone),
        last=_last_messages(view.messages, language, zone),
    )


def conversation_text(view: ConversationView, language: str, zone: ZoneInfo) -> str:
    return say(
        "opened",
        language,
        id=view.id,
        client=view.client_name,
        channel=view.channel,
        last=_last_messages(view.messages, language, zone),
    )


def queue_text(
    rows: Sequence[QueueRow],
    view: QueueView,
    language: str,
    zone: ZoneInfo,
    categories: Categories,
) -> str:
    lines = [say("queue_title", language, view=say(f"view_{view}", language), count=len(rows))]
    for row in rows:
        lines.append(
            say(
                "queue_row",
                language,
                id=row.conversation_id,
                client=row.client_name,
                channel=row.channel,
                category=categories.title(row.category, language),
                waited=int(row.waited.total_seconds() // 60),
                deadline=_when(row.deadline, zone),
                preview=_short(row.preview, 120),
            )
        )
    return "\n".join(lines)


def client_card_text(card: ClientCard, language: str, zone: ZoneInfo) -> str:
    nothing = say("nothing", language)
    identities = "\n".join(
        f"  • {i.channel}: {i.display_name or i.external_id}"
        + (f" ({say('verified', language)})" if i.verified else "")
        for i in card.identities
    )
    text = say(
        "client_card",
        language,
        id=card.id,
        name=card.name,
        tier=card.tier,
        client_language=card.language or nothing,
        phone=card.phone or nothing,
        email=card.email or nothing,
        identities=identities or nothing,
        count=card.conversations,
        open=", ".join(f"#{c}" for c in card.open_conversations) or nothing,
        ratings=", ".join(map(str, card.ratings)) or nothing,
        since=card.since.astimezone(zone).strftime("%d.%m.%Y"),
    )
    if card.hints:
        items = ", ".join(f"#{h.client_id} ({h.reason} {h.value})" for h in card.hints)
        text = f"{text}\n\n{say('hints', language, items=items)}"
    return text


def history_text(messages: Sequence[MessageView], language: str, zone: ZoneInfo) -> str:
    lines = [say("history_title", language, count=len(messages))]
    lines += [_line(m, language, zone, with_conversation=True) for m in messages]
    return "\n".join(lines)


def attachments_line(attachments: Sequence[dict[str, object]], language: str) -> str:
    items = ", ".join(str(a.get("name") or a.get("kind") or "file") for a in attachments)
    return say("attachments", language, items=items)


def _last_messages(messages: Sequence[MessageView], language: str, zone: ZoneInfo) -> str:
    shown = [m for m in messages if m.author != "system"][-LAST_SHOWN:]
    if not shown:
        return say("no_messages", language)
    return "\n".join(_line(m, language, zone) for m in shown)


def _line(
    message: MessageView, language: str, zone: ZoneInfo, *, with_conversation: bool = False
) -> str:
    who = say("author_note" if message.private else f"author_{message.author}", language)
    where = f"#{message.conversation_id} " if with_conversation else ""
    text = _short(message.text, LINE_LIMIT)
    if message.attachments:
        text = f"{text} {attachments_line(message.attachments, language)}".strip()
    at = message.at.astimezone(zone).strftime("%d.%m %H:%M")
    return f"[{where}{at} {message.channel}] {who}: {text}"


def _when(moment: dt.datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%d.%m %H:%M") if moment else "—"


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
