"""The knowledge base's best articles for what the client asked last, offered beside the
reply box so the operator can insert one with a click instead of typing it again."""

from __future__ import annotations

from dataclasses import dataclass

from admin.desk import ConversationView, Teaching
from kb.articles import AnswerStyle
from kb.text import language_of

__all__ = ["Suggestion", "look_up", "suggest"]

SUGGESTED = 3
LOOKED_UP = 5
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
    return _articles(teaching, question, conversation.channel, limit, evidence=EVIDENCE)


def look_up(
    teaching: Teaching, query: str, channel: str, limit: int = LOOKED_UP
) -> list[Suggestion]:
    """What an operator searching the KB by hand finds: the best articles whatever the
    calibration makes of the words (a few keywords are not a client's question)."""
    return _articles(teaching, query, channel, limit, evidence=0.0)


def _articles(
    teaching: Teaching, text: str, channel: str, limit: int, *, evidence: float
) -> list[Suggestion]:
    style: AnswerStyle = (
        "short" if channel in ("telegram", "vk") else "email" if channel == "email" else "chat"
    )
    hits = [
        hit
        for hit in teaching.search(text, limit=2 * limit, evidence=evidence)
        if hit.score >= MIN_SCORE
    ]
    # A desk with articles in both languages: the client's twins, not the other language's.
    language = language_of(text, "")
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
