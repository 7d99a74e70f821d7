"""An article of the knowledge base: one answer and the ways clients ask for it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["AnswerStyle", "Article"]

AnswerStyle = Literal["chat", "short", "email"]


@dataclass(frozen=True)
class Article:
    """`questions` are the variants the index matches against; `answer` is the full chat
    answer, `answer_short` a messenger-sized one and `answer_email` a plain-text letter body."""

    id: str
    title: str
    answer: str
    questions: tuple[str, ...]
    category: str | None = None
    tags: tuple[str, ...] = ()
    language: str = "ru"
    enabled: bool = True
    answer_short: str | None = None
    answer_email: str | None = None

    def answer_for(self, style: AnswerStyle) -> str:
        """The answer written for `style`, falling back to the full chat answer."""
        if style == "short" and self.answer_short:
            return self.answer_short
        if style == "email" and self.answer_email:
            return self.answer_email
        return self.answer
