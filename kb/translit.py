"""Russian typed in Latin letters («kak zablokirovat kartu»), read back into Cyrillic so
that a KB's Russian articles can match it. A phone without a Cyrillic keyboard, or habit,
makes it common enough on a Russian desk. A question in English read so comes out as
nonsense that matches nothing well, and `KnowledgeIndex` tries this reading only for a
question with no word only English has, most of whose words its English articles do not
use, and keeps it only when it decides more surely; the bot's small talk («spasibo»,
«privet», «chelovek») is read both ways (`readings`).
"""

from __future__ import annotations

import re

from kb.text import CYRILLIC, words
from kb.words import WORDS

__all__ = [
    "may_be_russian",
    "read_as_cyrillic",
    "readings",
    "reads_as_russian",
    "russian_small_talk",
]

_ENGLISH = frozenset(
    "the is are was were be been am you your what how why when where which who whose can"
    " could would should will there this that these those have has had does did for of with"
    " from at an and it its me we they them their if or about any some get please want need"
    " not don didn doesn isn aren wasn haven hasn won im ive".split()
)
"""English words no Russian word is spelt as in Latin letters (not "i", "a", "no", "to",
"on", "my", "do", "so": «и», «а», «но», «то», «он», «мы», «до», «со»)."""

_SMALL_TALK = {
    language: table.greetings | table.thanks | table.courtesy for language, table in WORDS.items()
}
_TABLED = {
    language: frozenset().union(*(getattr(table, f) for f in table.__dataclass_fields__))
    for language, table in WORDS.items()
}
"""Every word of each language's tables: the words the bot knows in it."""
_SOUNDS = (
    ("shch", "щ"),
    ("sch", "сч"),
    ("zh", "ж"),
    ("kh", "х"),
    ("ts", "ц"),
    ("ch", "ч"),
    ("sh", "ш"),
    ("yu", "ю"),
    ("ju", "ю"),
    ("ya", "я"),
    ("ja", "я"),
    ("yo", "е"),
    ("jo", "е"),
    ("ye", "е"),
    ("a", "а"),
    ("b", "б"),
    ("v", "в"),
    ("w", "в"),
    ("g", "г"),
    ("d", "д"),
    ("e", "е"),
    ("z", "з"),
    ("i", "и"),
    ("j", "й"),
    ("k", "к"),
    ("q", "к"),
    ("l", "л"),
    ("m", "м"),
    ("n", "н"),
    ("o", "о"),
    ("p", "п"),
    ("r", "р"),
    ("s", "с"),
    ("t", "т"),
    ("u", "у"),
    ("f", "ф"),
    ("h", "х"),
    ("c", "ц"),
    ("x", "кс"),
    ("'", "ь"),
)
"""Latin spellings of Russian sounds, longest first; `y` is read by `_y`."""
_SOUND = re.compile("|".join(re.escape(latin) for latin, _ in _SOUNDS) + "|y", re.IGNORECASE)
_CYRILLIC_OF = dict(_SOUNDS)
_VOWELS = frozenset("аеиоуыэюя")
_LATIN_WORD = re.compile(r"[a-z']+", re.IGNORECASE)
"""A word as read into Cyrillic: «'» is a soft sign («den'»)."""
_LATIN_LETTERS = re.compile(r"[a-z]+", re.IGNORECASE)
"""A word as English spells it: "don't" is "don" and "t"."""


def may_be_russian(text: str) -> bool:
    """Latin letters, no Cyrillic ones and no word only English has ("is", "the", "you",
    "what"...): a question that may be Russian typed in Latin letters."""
    return (
        not CYRILLIC.search(text)
        and _LATIN_LETTERS.search(text) is not None
        and not any(word.lower() in _ENGLISH for word in _LATIN_LETTERS.findall(text))
    )


def read_as_cyrillic(text: str) -> str:
    """`text` with each Latin word spelt in Cyrillic: «kak zablokirovat kartu» → «как
    заблокироват карту», «moy schet» → «мой счет», «vy» → «вы»."""
    return _LATIN_WORD.sub(lambda word: _word(word.group().lower()), text)


def readings(text: str) -> tuple[str, ...]:
    """The text, and its Cyrillic reading when it may be Russian typed in Latin letters:
    «spasibo» is thanks, «chelovek» a request for a person."""
    if may_be_russian(text):
        return text, read_as_cyrillic(text)
    return (text,)


def russian_small_talk(text: str) -> bool:
    """Russian greetings or thanks in Latin letters, and nothing else («privet», «spasibo»,
    «dobryy den'»), none of its words English small talk ("ok", "hi" stay English): the
    client writes Russian, and the bot's own texts may answer in it."""
    if not may_be_russian(text):
        return False
    read = set(words(read_as_cyrillic(text)))
    return bool(read) and read <= _SMALL_TALK["ru"] and not set(words(text)) & _SMALL_TALK["en"]


def reads_as_russian(text: str) -> bool:
    """Latin letters that may be Russian and whose Cyrillic reading has words the bot
    knows in Russian, more than the letters have words it knows in English (a word known
    both ways, "my" and «мы», counts for neither): «pozovite operatora», «karta ne
    rabotaet»; not "thanks, solved", "card" or "I lost my card"."""
    if not may_be_russian(text):
        return False
    russian = english = 0
    for word in words(text):
        in_russian, in_english = _word(word) in _TABLED["ru"], word in _TABLED["en"]
        if in_russian != in_english:
            russian, english = russian + in_russian, english + in_english
    return russian > english


def _word(word: str) -> str:
    letters: list[str] = []
    for sound in _SOUND.finditer(word):
        latin = sound.group()
        letters.append(_y(letters) if latin == "y" else _CYRILLIC_OF[latin])
    return "".join(letters)


def _y(before: list[str]) -> str:
    """`y` after a vowel is «й» («moy», «kakoy»), elsewhere «ы» («vy», «my»)."""
    return "й" if before and before[-1] in _VOWELS else "ы"
