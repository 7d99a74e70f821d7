"""Text normalisation for matching: one place that turns a client's words into terms.

Case and `ё` are folded, punctuation dropped, Latin look-alike letters inside Cyrillic
words (and the reverse) repaired, stop words removed and every token stemmed with the
Snowball stemmer of its own script, so "Карту", "карты" and "kaрта" meet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

from kb.words import every

__all__ = [
    "CYRILLIC",
    "CYRILLIC_SCRIPT",
    "LATIN",
    "LATIN_SCRIPT",
    "MAX_QUERY_CHARS",
    "Prepared",
    "forget_tokens",
    "language_of",
    "prepare",
    "script",
    "stem",
    "tokens",
    "topic_stems",
    "words",
]

MAX_QUERY_CHARS = 2000
"""Longer text is cut: a question is never this long and a 10 kB paste must stay fast."""

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
"""A Cyrillic letter (the one pattern for it: language, script repair, meaning view)."""
LATIN = re.compile(r"[a-z]", re.IGNORECASE)

# Latin letters that look like Cyrillic ones, both ways (lower case only: we fold first).
_LATIN_TO_CYRILLIC = str.maketrans("aceopxyk", "асеорхук")
_CYRILLIC_TO_LATIN = str.maketrans("асеорхук", "aceopxyk")

# Politeness and filler only (`kb.words`): function words such as "not", "why", "my",
# "до", "без" tell intents apart ("why was I charged" / "how do I get charged"), and TF-IDF
# already weighs common words down (measured: removing all function words cost accuracy).
_STOP_WORDS = every("filler")

# Words that name no topic (`kb.words`): a question whose only other word is a topic is vague.
_GENERIC_WORDS = every("generic")

_STEMMERS = {
    "ru": snowballstemmer.stemmer("russian"),
    "en": snowballstemmer.stemmer("english"),
}


@dataclass(frozen=True, slots=True)
class Prepared:
    """A text ready for the vectorisers: stems for word n-grams, surface words for
    character n-grams (which catch typos the stemmer cannot)."""

    stems: str
    surface: str


def _fix_script(token: str) -> str:
    """Repair a token that mixes scripts by moving look-alikes to its majority script."""
    cyrillic = len(CYRILLIC.findall(token))
    latin = len(LATIN.findall(token))
    if not cyrillic or not latin:
        return token
    if cyrillic >= latin:
        return token.translate(_LATIN_TO_CYRILLIC)
    return token.translate(_CYRILLIC_TO_LATIN)


@lru_cache(maxsize=200_000)
def stem(token: str) -> str:
    """The Snowball stem of one lower-case token, by the token's script."""
    if CYRILLIC.search(token):
        return str(_STEMMERS["ru"].stemWord(token))
    if LATIN.search(token):
        return str(_STEMMERS["en"].stemWord(token))
    return token


@lru_cache(maxsize=200_000)
def _word_and_stem(token: str) -> tuple[str, str]:
    """A folded token, script-repaired, and its stem: one cached look-up per token."""
    word = _fix_script(token)
    return word, stem(word)


def forget_tokens() -> None:
    """Empty the per-token caches (a benchmark times a cold build)."""
    stem.cache_clear()
    _word_and_stem.cache_clear()


def _every_word_and_stem(text: str) -> list[tuple[str, str]]:
    folded = text[:MAX_QUERY_CHARS].lower().replace("ё", "е")
    return [_word_and_stem(t) for t in _TOKEN.findall(folded)]


def _words_and_stems(text: str) -> list[tuple[str, str]]:
    pairs = _every_word_and_stem(text)
    return [p for p in pairs if p[0] not in _STOP_WORDS] or pairs


def words(text: str) -> list[str]:
    """Every word of the text, lower-case, `ё`-folded and script-repaired: what the
    per-language word tables (`kb.words`) are matched against."""
    return [word for word, _ in _every_word_and_stem(text)]


def language_of(text: str, fallback: str) -> str:
    """'ru' when the text has Cyrillic letters, 'en' when it has only Latin ones."""
    if CYRILLIC.search(text):
        return "ru"
    if LATIN.search(text):
        return "en"
    return fallback


def tokens(text: str) -> list[str]:
    """Lower-case, `ё`-folded, script-repaired words without stop words."""
    return [word for word, _ in _words_and_stems(text)]


def topic_stems(text: str) -> list[str]:
    """The stems of the words that may name a topic (all but the generic ones)."""
    return [s for w, s in _words_and_stems(text) if w not in _GENERIC_WORDS]


CYRILLIC_SCRIPT, LATIN_SCRIPT = 1, 2
"""`script`'s answers (0: no letters of either)."""


def script(text: str) -> int:
    """The alphabet most of the text's letters are in: a question and an article in two
    alphabets share no term, so only their meaning can match them."""
    folded = text[:MAX_QUERY_CHARS].lower()
    cyrillic, latin = len(CYRILLIC.findall(folded)), len(LATIN.findall(folded))
    if not cyrillic and not latin:
        return 0
    return CYRILLIC_SCRIPT if cyrillic >= latin else LATIN_SCRIPT


def prepare(text: str) -> Prepared:
    pairs = _words_and_stems(text)
    return Prepared(stems=" ".join([s for _, s in pairs]), surface=" ".join([w for w, _ in pairs]))
