"""The knowledge base from the chat: /kb query (a button sends an article to the client)
and /save [article] (keep my last reply as an article, or the client's question as a new
way of asking an existing one)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from admin.desk import Desk
from admin.telegram.cards import ArticleButton, article_keyboard
from admin.telegram.focus import Focus
from admin.telegram.sender import AdminSender, where
from admin.telegram.texts import say
from core.models import Operator

__all__ = ["build_router"]

SNIPPET = 160


async def search(
    message: Message,
    command: CommandObject,
    operator: Operator,
    desk: Desk,
    focus: Focus,
    sender: AdminSender,
) -> None:
    query = (command.args or "").strip()
    if not query:
        await sender.text(where(message), say("usage_kb", operator.language))
        return
    hits = desk.teaching.search(query)
    if not hits:
        await sender.text(where(message), say("kb_nothing", operator.language))
        return
    lines = [say("kb_hits", operator.language)]
    for number, hit in enumerate(hits, 1):
        answer = " ".join(hit.article.answer.split())
        lines.append(
            f"{number}. {hit.article.title or hit.article.id} [{hit.article.id}] "
            f"({hit.score:.2f})\n   {answer[:SNIPPET]}{'…' if len(answer) > SNIPPET else ''}"
        )
    conversation_id = await focus.of(message, operator)
    await sender.text(
        where(message),
        "\n".join(lines),
        markup=article_keyboard(
            conversation_id,
            [(hit.article.id, hit.article.title or hit.article.id) for hit in hits],
            operator.language,
        ),
    )


async def send_article(
    query: CallbackQuery, callback_data: ArticleButton, operator: Operator, desk: Desk
) -> None:
    await desk.teaching.send_article(
        operator.id, callback_data.conversation_id, callback_data.article_id
    )
    await query.answer(
        say(
            "kb_sent",
            operator.language,
            id=callback_data.conversation_id,
            title=callback_data.article_id,
        )
    )


async def save(
    message: Message,
    command: CommandObject,
    operator: Operator,
    desk: Desk,
    focus: Focus,
    sender: AdminSender,
) -> None:
    conversation_id = await focus.of(message, operator)
    if conversation_id is None:
        await sender.text(where(message), say("no_active", operator.language))
        return
    article_id = (command.args or "").strip() or None
    saved = await desk.teaching.save_reply(operator.id, conversation_id, article_id=article_id)
    key = "saved_article" if saved.created else "saved_variant"
    await sender.text(
        where(message),
        say(key, operator.language, article_id=saved.article_id, question=saved.question),
    )


def build_router() -> Router:
    router = Router(name="knowledge")
    router.message.register(search, Command("kb"))
    router.callback_query.register(send_article, ArticleButton.filter())
    router.message.register(save, Command("save"))
    return router
