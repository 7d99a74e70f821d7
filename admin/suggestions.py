"""The knowledge base's best articles for what the client asked last, offered beside the
reply box so the operator can insert one with a click instead of typing it again."""

from __future__ import annotations

from dataclasses import dataclass

from admin.desk import ConversationView, Teaching
from kb.articles import AnswerStyle
from kb.text import language_of

__all__ = ["Suggestion", "suggest"]

SUGGESTED = 3
EVIDENCE = 0.3
"""Articles are suggested when the KB's calibration puts the chance that the right one is
among its top three at least this high. On the sample KB: "I want to talk to an operator"
or an off-topic question 0.07-0.16, "yesterday, 1500 roubles" 0.21; questions that one of
its articles answers 0.49-0.93."""
MIN_SCORE = 0.2  # below this the article is about something else


@dataclass(frozen=True, slots=True)
class Suggestion:
    article_id: str
    title: str
    answer: str  # in the style of the conversation's channel (short for messengers)
    score: float


def suggest(
    teaching: Teaching, conversation: ConversationView, limit: int = SUGGESTED
) -> list[Suggestion]:
    """Articles for the client's last words in this conversation (none when there are none),
    in the client's language when the KB has them in it."""
    question = next(
        (
            m.text
            for m in reversed(conversation.messages)
            if m.author == "client" and not m.private and m.text.strip()
        ),
        "",
    )
    if not question:
        return []
    style: AnswerStyle = (
        "short"
        if conversation.channel in ("telegram", "vk")
        else "email"
        if conversation.channel == "email"
        else "chat"
    )
    hits = [
        hit
        for hit in teaching.search(question, limit=2 * limit, evidence=EVIDENCE)
        if hit.score >= MIN_SCORE
    ]
    # A desk with articles in both languages: the client's twins, not the other language's.
    language = language_of(question, "")
    if any(hit.article.language == language for hit in hits):
        hits = [hit for hit in hits if hit.article.language == language]
    return [
        Suggestion(
            hit.article.id,
            hit.article.title or hit.article.id,
            hit.article.answer_for(style),
            round(hit.score, 3),
        )
        for hit in hits[:limit]
    ]
