"""One tokenizer and one word table per language (kb/text.py, kb/words.py), shared by the
engine's recognition of small talk and the knowledge base's terms."""

from __future__ import annotations

from kb.text import language_of, tokens, words
from kb.words import WORDS, every


def test_words_are_folded_and_script_repaired() -> None:
    assert words("Ёлки, ПРИВEТ! don't") == ["елки", "привет", "don", "t"]  # Latin E repaired
    assert words("") == []


def test_the_language_is_the_script() -> None:
    assert language_of("Hello, карта", "en") == "ru"
    assert language_of("Hello", "ru") == "en"
    assert language_of("12345 👍", "ru") == "ru"


def test_every_language_has_each_kind_of_word() -> None:
    for table in WORDS.values():
        assert table.greetings and table.thanks and table.person and table.filler
    assert {"привет", "hello"} <= every("greetings") and {"оператор", "human"} <= every("person")


def test_the_knowledge_base_drops_the_tables_filler_only() -> None:
    assert tokens("Здравствуйте, подскажите пожалуйста, почему не работает карта") == [
        "почему",
        "не",
        "работает",
        "карта",
    ]
    assert tokens("Please, why is the card blocked") == ["why", "is", "card", "blocked"]
    assert tokens("Спасибо") == ["спасибо"]  # nothing but filler: kept
