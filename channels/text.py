"""Splitting long texts into the pieces a platform accepts, at the most readable boundary.

Telegram counts a message's length in UTF-16 code units (an emoji is two), so lengths are
measured that way everywhere: a piece that fits Telegram fits VK too.
"""

from __future__ import annotations

__all__ = ["split_text", "utf16_length"]

# Boundaries tried in order: a paragraph, a line, a sentence, a word.
_BOUNDARIES = ("\n\n", "\n", ". ", "! ", "? ", " ")


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int) -> list[str]:
    """Cut `text` into pieces of at most `limit` UTF-16 units, preferring paragraph
    boundaries, then lines, sentences and words; a single overlong word is cut hard.
    Whitespace at the cuts is dropped; an empty or blank text gives no pieces."""
    if limit < 2:
        raise ValueError("limit must be at least 2")
    pieces: list[str] = []
    rest = text.strip()
    while rest:
        if utf16_length(rest) <= limit:
            pieces.append(rest)
            break
        window = rest[: _fitting_prefix(rest, limit)]
        cut = _best_cut(window)
        piece, rest = rest[:cut].rstrip(), rest[cut:].lstrip()
        if piece:
            pieces.append(piece)
    return pieces


def _fitting_prefix(text: str, limit: int) -> int:
    """The number of characters of `text` that fit in `limit` UTF-16 units."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def _best_cut(window: str) -> int:
    for boundary in _BOUNDARIES:
        position = window.rfind(boundary)
        # A boundary in the first quarter would leave a tiny piece: look for a finer one.
        if position > len(window) // 4:
            return position + len(boundary.rstrip())  # keep a sentence's own full stop
    return len(window)
