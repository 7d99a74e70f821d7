"""What mail programs write around a quoted or forwarded letter, one table per language.

The tables hold words, not regular expressions: the patterns the reply reader matches
are built once from every language's table, so a client whose program writes Russian
field names over an English date (Gmail's forward header does) is still read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ATTRIBUTION_BY_ADDRESS", "ATTRIBUTION_BY_VERB", "ATTRIBUTION_START", "DEVICE_LINE", "FIELD_LINE", "LANGUAGES",
    "SEPARATOR", "SIGNATURE_DELIMITER", "SIGNOFF_LINE", "TIME", "Field", "Separator",
    "field_block", "field_of", "first_filled", "separator_of",
]

Field = Literal["from", "date", "to", "cc", "subject"]
Separator = Literal["original", "forward", "forward_end", "rule"]


@dataclass(frozen=True, slots=True)
class Language:
    """One language's words: `wrote` closes an attribution line ("… wrote:") and
    `attribution_start` or a weekday may open one ("On Monday, Ann wrote:"), `fields`
    label a header block (Outlook, Samsung, forwards), `original` and `forwarded` sit in a
    dashed separator line, `forward_intro` is Apple's line before a forwarded letter,
    `signoffs` open a signature, `devices` open a "Sent from my phone" line."""

    wrote: tuple[str, ...]
    attribution_start: tuple[str, ...]
    weekdays: tuple[str, ...]
    fields: Mapping[str, Field]
    original: tuple[str, ...]
    forwarded: tuple[str, ...]
    forward_intro: tuple[str, ...]
    forward_end: tuple[str, ...]
    signoffs: tuple[str, ...]
    devices: tuple[str, ...]


ENGLISH = Language(
    wrote=("wrote", "writes"),
    attribution_start=("on",),
    weekdays=("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
              "mon", "tue", "wed", "thu", "fri", "sat", "sun"),
    fields={"from": "from", "sent": "date", "date": "date", "to": "to", "cc": "cc",
            "subject": "subject"},
    original=("original message",),
    forwarded=("forwarded message",),
    forward_intro=("begin forwarded message",),
    forward_end=("end of forwarded message",),
    signoffs=("best regards", "kind regards", "warm regards", "regards", "best wishes",
              "sincerely", "yours sincerely", "yours truly", "many thanks", "cheers"),
    devices=("sent from", "get outlook for"),
)
RUSSIAN = Language(
    wrote=("написал", "написала", "написал(а)", "написал (а)", "пишет", "писал", "писала",
           "писал(а)"),
    attribution_start=(),
    weekdays=("понедельник", "вторник", "среда", "четверг", "пятница", "суббота",
              "воскресенье", "пн", "вт", "ср", "чт", "пт", "сб", "вс"),
    fields={"от": "from", "от кого": "from", "отправитель": "from", "отправлено": "date",
            "дата": "date", "кому": "to", "копия": "cc", "тема": "subject"},
    original=("исходное сообщение", "исходное письмо", "оригинальное сообщение"),
    forwarded=("пересылаемое сообщение", "пересланное сообщение", "перенаправленное сообщение",
               "переадресованное сообщение"),
    forward_intro=("начало переадресованного сообщения", "начало пересылаемого сообщения"),
    forward_end=("конец пересылаемого сообщения",),
    signoffs=("с уважением", "с наилучшими пожеланиями", "всего доброго", "всего хорошего",
              "с благодарностью", "спасибо заранее"),
    devices=("отправлено с", "отправлено из", "отправлено через", "получить outlook для",
             "загрузите outlook для"),
)
LANGUAGES = (RUSSIAN, ENGLISH)


def _words(pick: str) -> str:
    """One alternation of a table entry over every language, longest first (so that
    "написал(а)" wins over "написал"), spaces matching any run of spaces."""
    words = {word for language in LANGUAGES for word in getattr(language, pick)}
    return "|".join(re.escape(word).replace(r"\ ", r"\s+")
                    for word in sorted(words, key=len, reverse=True))


_FIELD_ROLES: dict[str, Field] = {
    label: role for language in LANGUAGES for label, role in language.fields.items()}
_ADDRESS = r"(?:<\s?[^<>\s@]+@[^<>\s]+>|\[mailto:[^\]\s]+\]|[\w.+-]+@[\w-]+(?:\.[\w-]+)+)"

TIME = re.compile(r"\d{1,2}:\d{2}(?::\d{2})?(?:\s?[AaPp]\.?[Mm]\.?)?")
# "On Mon, Apr 2, 2012 at 2:20 PM, Ann <ann@x.com> wrote:", "02.04.2012 14:20, Анна пишет:",
# «02.04.2012 14:20 пользователь "Анна" <ann@x.ru> написал:»
ATTRIBUTION_BY_VERB = re.compile(
    rf"^(?P<intro>.{{1,300}}?)[\s,]+(?:{_words('wrote')})\s?:$", re.IGNORECASE)
# How an attribution line opens: "On …", a date ("02.04.2012", "2 апр.") or a weekday.
ATTRIBUTION_START = re.compile(
    rf"^(?:(?:{_words('attribution_start')})\s|\d|(?:{_words('weekdays')})\b)", re.IGNORECASE)
# Gmail: "пн, 2 апр. 2012 г. в 14:20, Анна <ann@x.ru>:", Yandex: "02.04.2012, 14:20, "Анна"
# <ann@x.ru>:", Mail.ru: "Понедельник, 2 апреля 2012, 14:20 +04:00 от Анна <ann@x.ru>:"
ATTRIBUTION_BY_ADDRESS = re.compile(
    rf"^(?P<intro>.{{0,200}}?{TIME.pattern}.{{0,200}}?{_ADDRESS})\)?\s?:$", re.IGNORECASE)
FIELD_LINE = re.compile(
    r"^\*{0,2}(?P<label>" + "|".join(re.escape(label).replace(r"\ ", r"\s")
                                     for label in sorted(_FIELD_ROLES, key=len, reverse=True))
    + r")\s?:\*{0,2}(?:\s+(?P<value>.*))?$", re.IGNORECASE)
SEPARATOR = re.compile(
    rf"^(?:-{{2,}}\s?(?P<original>{_words('original')})\s?-{{2,}}"
    rf"|-{{2,}}\s?(?P<forward>{_words('forwarded')})\s?-{{2,}}"
    rf"|(?P<intro>{_words('forward_intro')})\s?:"
    rf"|-{{2,}}\s?(?P<forward_end>{_words('forward_end')})\s?-{{2,}}"
    r"|(?P<rule>_{10,}))$", re.IGNORECASE)
SIGNATURE_DELIMITER = re.compile(r"^--\s?$")
# "С уважением," / "Best regards, Ann" — a name may follow a comma, nothing else.
SIGNOFF_LINE = re.compile(
    rf"^(?:{_words('signoffs')})(?:[,.!]?|,\s*[^\W\d][\w .'-]{{0,40}})$", re.IGNORECASE)
DEVICE_LINE = re.compile(rf"^(?:{_words('devices')})\s.{{1,60}}$", re.IGNORECASE)


def field_of(line: str) -> tuple[Field, str] | None:
    """A header-block line's role and value ("От: Анна <ann@x.ru>" → from, "Анна …")."""
    match = FIELD_LINE.match(line)
    if match is None:
        return None
    label = re.sub(r"\s+", " ", match.group("label").lower())
    return _FIELD_ROLES[label], (match.group("value") or "").strip().strip("*").strip()


def field_block(lines: Sequence[str], start: int) -> tuple[int, dict[Field, str]]:
    """The header block starting at `start` (blank lines may sit between its fields): the
    index after it and its fields, first value of each kind; no fields when none is there."""
    fields: dict[Field, str] = {}
    index = start
    while index < len(lines) and (found := field_of(lines[index].strip())) is not None:
        fields.setdefault(*found)
        following = first_filled(lines, index + 1)
        index = following if following < len(lines) and field_of(
            lines[following].strip()) else index + 1
    return index, fields


def first_filled(lines: Sequence[str], index: int) -> int:
    """The first non-blank line at or after `index` (len(lines) when there is none)."""
    while index < len(lines) and not lines[index].strip():
        index += 1
    return index


def separator_of(line: str) -> Separator | None:
    """What a separator line announces: a quoted original, a forwarded letter, a forwarded
    letter's end, or an Outlook rule (a header block follows it when it is one)."""
    match = SEPARATOR.match(line)
    if match is None:
        return None
    if match.group("original"):
        return "original"
    if match.group("forward") or match.group("intro"):
        return "forward"
    return "forward_end" if match.group("forward_end") else "rule"
