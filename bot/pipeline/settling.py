"""What a client's short message says, in words: thanks («Спасибо большое, всё отлично», 👍);
a rating typed after the bot asked for one («5, спасибо», «4 из 5», ⭐⭐⭐⭐⭐); and from a
client waiting in the queue, that the answer settled the question («Спасибо, помогло!»,
"thanks, solved"), that it is not needed any more («уже не надо», "never mind"), or how
long the wait is («сколько ждать?», «ау, есть кто?»); and an opener that names no topic
yet («Здравствуйте, у меня вопрос»). Read by `recognise`; the word tables are `kb.words`,
in every language at once.
"""

from __future__ import annotations

from core.numbers import whole_number
from kb.text import words
from kb.translit import readings
from kb.words import every

__all__ = [
    "SETTLING_WORDS",
    "asks_about_wait",
    "names_no_topic",
    "not_needed",
    "settles",
    "thanks",
    "typed_rating",
]

SETTLING_WORDS = 8
"""Such a message is short: «Спасибо большое, всё получилось, вопрос решён»."""

_THANKS = every("thanks")
_COURTESY = every("courtesy")
_SOLVED = every("solved")
_NEGATIONS = every("negations")
_RESERVATIONS = every("reservations")
_NO_LONGER = every("no_longer")
_DISMISSALS = every("dismissals")
_ASIDES = every("asides")
_RATING = every("rating")
_CALM = (
    _THANKS
    | _COURTESY
    | every("generic")
    | every("filler")
    | _SOLVED
    | _NEGATIONS
    | _NO_LONGER
    | _DISMISSALS
    | _ASIDES
)
"""The words of a message that names no topic: «нет, уже не нужно, спасибо»."""
_WAITING = every("waiting")
_ABOUT_WAITING = _CALM | _WAITING | _RESERVATIONS | every("greetings") | every("person")
"""The words of a question about the wait that names no topic: «ну что там, долго ещё?»."""
_NO_TOPIC = every("generic") | every("filler") | every("greetings") | every("person")
"""The words of an opener that says nothing yet: «Здравствуйте, у меня вопрос»."""
_KIND_EMOJI = frozenset("👍🙏❤♥😊🙂☺👌🤝👏💯✅🔥🥰😍😀😃😄😁🤗💐🌹")
_STAR = "⭐"
_EMOJI_MODIFIERS = frozenset("\ufe0f\u200d") | frozenset(map(chr, range(0x1F3FB, 0x1F400)))
"""A variation selector, the joiner and skin tones: parts of an emoji, not emoji."""


def thanks(text: str) -> bool:
    """Thanks, an acknowledgement or kind words, and nothing else («ок», «супер», «Спасибо
    большое, всё отлично, хорошего дня», «spasibo»), or kind emoji alone (👍, 🙏, ❤️)."""
    return any(map(_thanks, readings(text)))


def _thanks(text: str) -> bool:
    said = set(words(text))
    if said:
        return said <= _THANKS | _COURTESY
    marks = {c for c in text if not c.isspace() and c not in _EMOJI_MODIFIERS}
    return bool(marks & _KIND_EMOJI) and not any(c.isalnum() for c in marks)


def typed_rating(text: str) -> int | None:
    """A score of 1–5 typed as a short message: «5», «5, спасибо», «на 4», «4 из 5», «5/5»,
    «5 звёзд», «5 zvezd», ⭐⭐⭐⭐ (its first number; nothing else but thanks and rating
    words)."""
    stars = text.strip().replace("\ufe0f", "")
    if stars and set(stars) == {_STAR}:
        score: int | None = len(stars)
    else:
        score = next(filter(None, map(_score, readings(text))), None)
    return score if score is not None and 1 <= score <= 5 else None


def _score(text: str) -> int | None:
    said = words(text)
    read = [(word, whole_number(word)) for word in said]
    numbers = [number for _, number in read if number is not None]
    others = {word for word, number in read if number is None}
    if not numbers or len(said) > SETTLING_WORDS or not others <= _RATING | _THANKS | _COURTESY:
        return None
    return numbers[0]


def settles(text: str) -> bool:
    """A short message saying it helped, with no negation, "but" or question in it
    («помогло?» asks)."""
    return "?" not in text and any(map(_settles, readings(text)))


def _settles(text: str) -> bool:
    said = words(text)
    heard = set(said)
    return (
        len(said) <= SETTLING_WORDS
        and bool(heard & _SOLVED)
        and not heard & (_NEGATIONS | _RESERVATIONS)
    )


def not_needed(text: str) -> bool:
    """A short message of no topic saying the question is not needed any more: a dismissal,
    or a negation before «надо» / "need" («уже не надо», "I don't need it anymore"); not a
    question («не надо?»)."""
    return "?" not in text and any(map(_not_needed, readings(text)))


def _not_needed(text: str) -> bool:
    said = words(text)
    heard = set(said)
    if len(said) > SETTLING_WORDS or not heard <= _CALM or heard & _RESERVATIONS:
        return False
    if heard & _DISMISSALS:
        return True
    meant = [word for word in said if word not in _ASIDES]
    return any(
        first in _NEGATIONS and second in _NO_LONGER
        for first, second in zip(meant, meant[1:], strict=False)
    )


def asks_about_wait(text: str) -> bool:
    """A short message of no topic asking how long the wait is or whether anyone is there
    («сколько ждать?», «ау, есть кто?», «жду уже 20 минут», "how long will it take?",
    «???»); not an acknowledgement with no question in it («ок, жду»)."""
    marks = text.strip()
    if marks and set(marks) <= {"?"}:
        return True
    return any(_asks_about_wait(reading, asked="?" in text) for reading in readings(text))


def _asks_about_wait(text: str, *, asked: bool) -> bool:
    said = [word for word in words(text) if not word.isdigit()]
    heard = set(said)
    return (
        len(said) <= SETTLING_WORDS
        and bool(heard & _WAITING)
        and heard <= _ABOUT_WAITING
        and (asked or not heard & _THANKS)
    )


def names_no_topic(text: str) -> bool:
    """Words that name no topic, or none at all: «Здравствуйте, у меня вопрос», «помогите»,
    "hi, I need help", «?». A number is something («12345»)."""
    return any(set(words(reading)) <= _NO_TOPIC for reading in readings(text))
