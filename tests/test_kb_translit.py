"""Russian typed in Latin letters, read back into Cyrillic (kb/translit.py)."""

from __future__ import annotations

import pytest

from kb.translit import read_as_cyrillic, readings, reads_as_russian, russian_small_talk


@pytest.mark.parametrize(
    ("latin", "cyrillic"),
    [
        ("kak zablokirovat kartu", "как заблокироват карту"),
        ("Kakoy limit po kreditke?", "какой лимит по кредитке?"),
        ("zdravstvuyte, gde moya karta", "здравствуйте, где моя карта"),
        ("den'gi ne prishli", "деньги не пришли"),
        ("moy schet", "мой счет"),
        ("vy", "вы"),
    ],
)
def test_latin_spellings_of_russian_read_as_cyrillic(latin: str, cyrillic: str) -> None:
    assert read_as_cyrillic(latin) == cyrillic


@pytest.mark.parametrize(
    "text", ["I don't know", "What is the limit?", "карта", "12345", "👍", "kak dela, карта"]
)
def test_english_cyrillic_and_wordless_text_has_one_reading(text: str) -> None:
    assert readings(text) == (text,)


@pytest.mark.parametrize(
    ("text", "russian"),
    [
        ("privet", True),
        ("spasibo", True),
        ("dobryy den'", True),
        ("ok", False),
        ("hi", False),
        ("poteryal kartu", False),
        ("I lost my card", False),
    ],
)
def test_only_russian_small_talk_in_latin_letters_is_taken_for_russian(
    text: str, russian: bool
) -> None:
    assert russian_small_talk(text) is russian


@pytest.mark.parametrize(
    ("text", "russian"),
    [
        ("pozovite operatora", True),
        ("karta ne rabotaet", True),
        ("ok", False),  # «ок» too: either
        ("Thanks, solved", False),
        ("card", False),
        ("Visa card declined", False),
        ("I lost my card", False),
    ],
)
def test_a_russian_clients_latin_letters_read_as_russian_when_they_say_more_in_it(
    text: str, russian: bool
) -> None:
    """Words the bot knows in Russian in the Cyrillic reading, at least as many as words it
    knows in English as written: the bot's own texts then answer in Russian."""
    assert reads_as_russian(text) is russian
