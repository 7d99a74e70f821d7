"""Text as search compares it: case folded in Python, the same on every database.

SQLite's `lower()` and `LIKE` fold only ASCII letters, and PostgreSQL's `lower()` folds
Cyrillic only under a locale that knows it; so the words a search looks in are folded
here when they are written (`Message.folded_text`, `Client.folded_name`,
`Identity.folded_name`), and a query is folded the same way before it is compared.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["fold", "folded_from"]


def fold(text: str) -> str:
    """Case folded, «ё» as «е» (people type either), runs of whitespace as one space."""
    return " ".join(text.casefold().replace("ё", "е").split())


def folded_from(column: str, limit: int | None = None) -> Callable[[Any], str | None]:
    """A column default: the folded value of `column` in the same INSERT (None for none),
    cut to `limit` characters (folding may lengthen a word: «ß» is «ss»)."""

    def default(context: Any) -> str | None:
        value = context.get_current_parameters().get(column)
        return fold(value)[:limit] if value else None

    return default
