"""An article's answer in the form the conversation's channel takes."""

from __future__ import annotations

from core.contracts import ChannelKind
from core.models import Conversation
from kb.articles import Article

__all__ = ["article_answer"]


def article_answer(article: Article, conversation: Conversation) -> str:
    """The article's answer as the conversation's channel takes it: a letter's body by
    email, the chat answer elsewhere."""
    return article.answer_for("email" if conversation.last_channel is ChannelKind.EMAIL else "chat")
