"""The knowledge base at the desk: searching it, answering with an article, teaching it
from an operator's reply."""

from __future__ import annotations

from sqlalchemy import select

from admin.desk.conversation_actions import ConversationActions
from admin.desk.errors import DeskError
from admin.desk.lookup import find_conversation
from admin.desk.views import MessageView, SavedReply
from bot.knowledge import ArticleNotFound, KnowledgeBase
from bot.replies import article_answer
from core.db import SessionFactory
from core.models import Author, Client, Message
from kb.articles import Article
from kb.index import Hit

__all__ = ["Teaching"]

QUESTION_CHARS = 500
TITLE_CHARS = 120


class Teaching:
    def __init__(
        self, sessions: SessionFactory, knowledge: KnowledgeBase, actions: ConversationActions
    ) -> None:
        self._sessions = sessions
        self._knowledge = knowledge
        self._actions = actions

    def search(self, query: str, limit: int = 5, *, evidence: float = 0.0) -> list[Hit]:
        """The enabled articles that answer `query` best (see KnowledgeIndex.search)."""
        return [
            hit
            for hit in self._knowledge.index.search(query, limit=limit, evidence=evidence)
            if hit.article.enabled
        ]

    async def send_article(
        self, operator_id: int, conversation_id: int, article_id: str
    ) -> MessageView:
        """Answer the client with a KB article, in the style of their channel."""
        article = self._knowledge.index.article(article_id)
        if article is None:
            raise DeskError("desk_article_unknown", article_id=article_id)
        async with self._sessions() as session:
            conversation = await find_conversation(session, conversation_id)
            answer = article_answer(article, conversation)
        return await self._actions.reply(
            operator_id, conversation_id, answer, kb_article_id=article.id
        )

    async def save_reply(
        self, operator_id: int, conversation_id: int, *, article_id: str | None = None
    ) -> SavedReply:
        """Teach the KB from the operator's last reply here: the client's question before it
        becomes a new article answered by that reply, or (`article_id`) a new way of asking
        an existing article."""
        async with self._sessions() as session:
            conversation = await find_conversation(session, conversation_id)
            reply = await session.scalar(
                select(Message)
                .where(
                    Message.conversation_id == conversation_id,
                    Message.author == Author.OPERATOR,
                    Message.operator_id == operator_id,
                    Message.private.is_(False),
                    Message.text != "",
                )
                .order_by(Message.id.desc())
                .limit(1)
            )
            if reply is None:
                raise DeskError("desk_no_reply_to_save", conversation_id=conversation_id)
            question = (
                await session.scalar(
                    select(Message.text)
                    .where(
                        Message.conversation_id == conversation_id,
                        Message.author == Author.CLIENT,
                        Message.id < reply.id,
                        Message.text != "",
                    )
                    .order_by(Message.id.desc())
                    .limit(1)
                )
                or ""
            )
            client = await session.get(Client, conversation.client_id)
            category = conversation.category
        question = " ".join(question.split())[:QUESTION_CHARS]
        if article_id is not None:
            if not question:
                raise DeskError("desk_no_reply_to_save", conversation_id=conversation_id)
            try:
                await self._knowledge.add_variant(article_id, question)
            except ArticleNotFound:
                raise DeskError("desk_article_unknown", article_id=article_id) from None
            return SavedReply(article_id, question, created=False)
        new_id = f"operator-{reply.id}"
        await self._knowledge.save_article(
            Article(
                id=new_id,
                title=(question or reply.text)[:TITLE_CHARS],
                answer=reply.text,
                questions=(question,) if question else (),
                category=category,
                language=(client.language if client else None) or "ru",
            )
        )
        return SavedReply(new_id, question, created=True)
