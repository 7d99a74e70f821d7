"""Splitting long answers for Telegram and VK."""

from __future__ import annotations

import pytest

from channels.text import split_text, utf16_length


def test_short_text_is_one_piece() -> None:
    assert split_text("  Здравствуйте!  ", 4096) == ["Здравствуйте!"]
    assert split_text("   ", 4096) == []


def test_splits_on_paragraph_boundaries() -> None:
    paragraphs = [f"Абзац {i}. " + "слово " * 150 for i in range(12)]
    text = "\n\n".join(p.strip() for p in paragraphs)
    pieces = split_text(text, 4096)
    assert len(pieces) > 1
    assert all(utf16_length(p) <= 4096 for p in pieces)
    # every piece is made of whole paragraphs, nothing lost, order kept
    assert "\n\n".join(pieces) == text
    assert all(p.startswith("Абзац") for p in pieces)


def test_falls_back_to_lines_sentences_words_then_hard_cut() -> None:
    assert split_text("aaaa\nbbbb", 6) == ["aaaa", "bbbb"]
    assert split_text("One two. Three four.", 12) == ["One two.", "Three four."]
    assert split_text("alpha beta gamma", 11) == ["alpha beta", "gamma"]
    assert split_text("x" * 10, 4) == ["xxxx", "xxxx", "xx"]


def test_counts_emoji_as_two_units() -> None:
    pieces = split_text("😀" * 5, 4)
    assert pieces == ["😀😀", "😀😀", "😀"]


def test_rejects_a_useless_limit() -> None:
    with pytest.raises(ValueError):
        split_text("abc", 1)
