"""What a client's short message says, in words: thanks («Спасибо большое, всё отлично»);
and from a client waiting in the queue, that the answer settled the question («Спасибо,
помогло!», "thanks, solved") or that it is not needed any more («уже не надо», "never
mind"). Read by `recognise`; the word tables are `kb.words`, in every language at once.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from kb.words import every

__all__ = ["SETTLING_WORDS", "not_needed", "settles", "thanks"]

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


def thanks(said: Collection[str]) -> bool:
    """Thanks, an acknowledgement or a kind word, and nothing else («ок», «супер», «Спасибо
    большое, всё отлично, хорошего дня»)."""
    return bool(said) and set(said) <= _THANKS | _COURTESY


def settles(said: Sequence[str]) -> bool:
    """A short message saying it helped, with no negation, "but" or question in it."""
    words = set(said)
    return (
        len(said) <= SETTLING_WORDS
        and bool(words & _SOLVED)
        and not words & (_NEGATIONS | _RESERVATIONS)
    )


def not_needed(said: Sequence[str]) -> bool:
    """A short message of no topic saying the question is not needed any more: a dismissal,
    or a negation before «надо» / "need" («уже не надо», "I don't need it anymore")."""
    words = set(said)
    if len(said) > SETTLING_WORDS or not words <= _CALM or words & _RESERVATIONS:
        return False
    if words & _DISMISSALS:
        return True
    meant = [word for word in said if word not in _ASIDES]
    return any(
        first in _NEGATIONS and second in _NO_LONGER
        for first, second in zip(meant, meant[1:], strict=False)
    )
