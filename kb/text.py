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

__all__ = ["CYRILLIC", "LATIN", "MAX_QUERY_CHARS", "Prepared", "forget_tokens", "prepare",
           "script", "stem", "tokens", "topic_stems"]

MAX_QUERY_CHARS = 2000
"""Longer text is cut: a question is never this long and a 10 kB paste must stay fast."""

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_CYRILLIC = re.compile(r"[а-я]")
_LATIN = re.compile(r"[a-z]")

# Latin letters that look like Cyrillic ones, both ways (lower case only: we fold first).
_LATIN_TO_CYRILLIC = str.maketrans("aceopxyk", "асеорхук")
_CYRILLIC_TO_LATIN = str.maketrans("асеорхук", "aceopxyk")

# Politeness and filler only: function words such as "not", "why", "my", "до", "без"
# tell intents apart ("why was I charged" / "how do I get charged"), and TF-IDF already
# weighs common words down (measured: removing all function words cost accuracy).
_STOP_WORDS = frozenset(
    """
    здравствуйте здравствуй привет добрый доброе день утро вечер пожалуйста спасибо
    подскажите скажите будьте добры уважаемые ну вот
    hi hello hey dear please thanks thank thx a an the
    """.split()
)

# Words that name no topic: pronouns, prepositions and "problem / question / help". A
# question whose only other word is a topic ("у меня проблема с картой", "card") is vague.
_GENERIC_WORDS = frozenset(
    """
    у меня мне я мой моя моё мое мои мы нас нам с со по про о об в во на и а но или не это
    есть был была было что как где вопрос вопросы проблема проблемы проблемой проблему
    помощь помогите помочь нужна нужно нужен хочу хотел хотела можно ли
    i me my mine we our us have has had a an the with about on in of for to and or not is are
    it this that problem problems issue issues question questions help need want can
    what how where
    """.split()
)

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
    cyrillic = len(_CYRILLIC.findall(token))
    latin = len(_LATIN.findall(token))
    if not cyrillic or not latin:
        return token
    if cyrillic >= latin:
        return token.translate(_LATIN_TO_CYRILLIC)
    return token.translate(_CYRILLIC_TO_LATIN)


@lru_cache(maxsize=200_000)
def stem(token: str) -> str:
    """The Snowball stem of one lower-case token, by the token's script."""
    if _CYRILLIC.search(token):
        return str(_STEMMERS["ru"].stemWord(token))
    if _LATIN.search(token):
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


def _words_and_stems(text: str) -> list[tuple[str, str]]:
    folded = text[:MAX_QUERY_CHARS].lower().replace("ё", "е")
    pairs = [_word_and_stem(t) for t in _TOKEN.findall(folded)]
    return [p for p in pairs if p[0] not in _STOP_WORDS] or pairs


def tokens(text: str) -> list[str]:
    """Lower-case, `ё`-folded, script-repaired words without stop words."""
    return [word for word, _ in _words_and_stems(text)]


def topic_stems(text: str) -> list[str]:
    """The stems of the words that may name a topic (all but the generic ones)."""
    return [s for w, s in _words_and_stems(text) if w not in _GENERIC_WORDS]


CYRILLIC, LATIN = 1, 2
"""`script`'s answers (0: no letters of either)."""


def script(text: str) -> int:
    """The alphabet most of the text's letters are in: a question and an article in two
    alphabets share no term, so only their meaning can match them."""
    folded = text[:MAX_QUERY_CHARS].lower()
    cyrillic, latin = len(_CYRILLIC.findall(folded)), len(_LATIN.findall(folded))
    if not cyrillic and not latin:
        return 0
    return CYRILLIC if cyrillic >= latin else LATIN


def prepare(text: str) -> Prepared:
    pairs = _words_and_stems(text)
    return Prepared(stems=" ".join([s for _, s in pairs]),
                    surface=" ".join([w for w, _ in pairs]))
