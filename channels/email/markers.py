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
    "ATTRIBUTION_START",
    "DEVICE_LINE",
    "FIELD_LINE",
    "LANGUAGES",
    "OPENING_WORD",
    "SENDER_PREFIX",
    "SEPARATOR",
    "SIGNATURE_DELIMITER",
    "SIGNOFF_LINE",
    "TIME",
    "Attribution",
    "Field",
    "Separator",
    "attribution_of",
    "field_block",
    "field_of",
    "first_filled",
    "separator_of",
]

Field = Literal["from", "date", "to", "cc", "subject"]
Separator = Literal["original", "forward", "forward_end", "rule"]


@dataclass(frozen=True, slots=True)
class Language:
    """One language's words, by what they mark:

    - `wrote` ends an attribution line ("… wrote:"); `attribution_start` or a weekday
      opens one ("On Monday, …"); `sender_prefixes` stand before its author
      ("от Анна <…>:", «пользователь "Анна"»);
    - `fields` label a header block (Outlook, Samsung, forwarded letters);
    - `original` and `forwarded` sit in a dashed separator line, `forward_intro` is Apple
      Mail's line above a forwarded letter, `forward_end` Yandex's line below one;
    - `signoffs` open a signature, `devices` open a "Sent from my phone" line.
    """

    wrote: tuple[str, ...]
    attribution_start: tuple[str, ...]
    sender_prefixes: tuple[str, ...]
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
    sender_prefixes=("from",),
    weekdays=(
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
        "sat",
        "sun",
    ),
    fields={
        "from": "from",
        "sent": "date",
        "date": "date",
        "to": "to",
        "cc": "cc",
        "subject": "subject",
    },
    original=("original message",),
    forwarded=("forwarded message",),
    forward_intro=("begin forwarded message",),
    forward_end=("end of forwarded message",),
    signoffs=(
        "best regards",
        "kind regards",
        "warm regards",
        "regards",
        "best wishes",
        "sincerely",
        "yours sincerely",
        "yours truly",
        "many thanks",
        "cheers",
    ),
    devices=("sent from", "get outlook for"),
)
RUSSIAN = Language(
    wrote=(
        "написал",
        "написала",
        "написал(а)",
        "написал (а)",
        "пишет",
        "писал",
        "писала",
        "писал(а)",
    ),
    attribution_start=(),
    sender_prefixes=("от", "пользователь"),
    weekdays=(
        "понедельник",
        "вторник",
        "среда",
        "четверг",
        "пятница",
        "суббота",
        "воскресенье",
        "пн",
        "вт",
        "ср",
        "чт",
        "пт",
        "сб",
        "вс",
    ),
    fields={
        "от": "from",
        "от кого": "from",
        "отправитель": "from",
        "отправлено": "date",
        "дата": "date",
        "кому": "to",
        "копия": "cc",
        "тема": "subject",
    },
    original=("исходное сообщение", "исходное письмо", "оригинальное сообщение"),
    forwarded=(
        "пересылаемое сообщение",
        "пересланное сообщение",
        "перенаправленное сообщение",
        "переадресованное сообщение",
    ),
    forward_intro=("начало переадресованного сообщения", "начало пересылаемого сообщения"),
    forward_end=("конец пересылаемого сообщения",),
    signoffs=(
        "с уважением",
        "с наилучшими пожеланиями",
        "всего доброго",
        "всего хорошего",
        "с благодарностью",
        "спасибо заранее",
    ),
    devices=(
        "отправлено с",
        "отправлено из",
        "отправлено через",
        "получить outlook для",
        "загрузите outlook для",
    ),
)
LANGUAGES = (RUSSIAN, ENGLISH)


def _words(pick: str) -> str:
    """One alternation of a table entry over every language, longest first (so that
    "написал(а)" wins over "написал"), spaces matching any run of spaces."""
    words = {word for language in LANGUAGES for word in getattr(language, pick)}
    return "|".join(
        re.escape(word).replace(r"\ ", r"\s+") for word in sorted(words, key=len, reverse=True)
    )


_FIELD_ROLES: dict[str, Field] = {
    label: role for language in LANGUAGES for label, role in language.fields.items()
}
_ADDRESS = r"(?:<\s?[^<>\s@]+@[^<>\s]+>|\[mailto:[^\]\s]+\]|[\w.+-]+@[\w-]+(?:\.[\w-]+)+)"

TIME = re.compile(r"\d{1,2}:\d{2}(?::\d{2})?(?:\s?[AaPp]\.?[Mm]\.?)?")
# How an attribution line opens: "On …", a date ("02.04.2012", "2 апр.") or a weekday.
ATTRIBUTION_START = re.compile(
    rf"^(?:(?:{_words('attribution_start')})\s|\d|(?:{_words('weekdays')})\b)", re.IGNORECASE
)
OPENING_WORD = re.compile(rf"^(?:{_words('attribution_start')})\s+", re.IGNORECASE)
SENDER_PREFIX = re.compile(rf"^(?:{_words('sender_prefixes')})\s+", re.IGNORECASE)
# Gmail: "пн, 2 апр. 2012 г. в 14:20, Анна <ann@x.ru>:", Yandex: "02.04.2012, 14:20, "Анна"
# <ann@x.ru>:", Mail.ru: "Понедельник, 2 апреля 2012, 14:20 +04:00 от Анна <ann@x.ru>:"
_ADDRESS_AT_END = re.compile(rf"(?P<address>{_ADDRESS})\)?\s?:$", re.IGNORECASE)
# "On Mon, Apr 2, 2012 at 2:20 PM, Ann <ann@x.com> wrote:", "02.04.2012 14:20, Анна пишет:",
# «02.04.2012 14:20 пользователь "Анна" <ann@x.ru> написал:»
_VERB_AT_END = re.compile(rf"[\s,]+(?:{_words('wrote')})\s?:$", re.IGNORECASE)
_ATTRIBUTION_CHARS = 400
_ENDING_CHARS = 120  # the author's address or "wrote:" sit in the line's last characters
FIELD_LINE = re.compile(
    r"^\*{0,2}(?P<label>"
    + "|".join(
        re.escape(label).replace(r"\ ", r"\s")
        for label in sorted(_FIELD_ROLES, key=len, reverse=True)
    )
    + r")\s?:\*{0,2}(?:\s+(?P<value>.*))?$",
    re.IGNORECASE,
)
SEPARATOR = re.compile(
    rf"^(?:-{{2,}}\s?(?P<original>{_words('original')})\s?-{{2,}}"
    rf"|-{{2,}}\s?(?P<forward>{_words('forwarded')})\s?-{{2,}}"
    rf"|(?P<intro>{_words('forward_intro')})\s?:"
    rf"|-{{2,}}\s?(?P<forward_end>{_words('forward_end')})\s?-{{2,}}"
    r"|(?P<rule>_{10,}))$",
    re.IGNORECASE,
)
SIGNATURE_DELIMITER = re.compile(r"^--\s?$")
# "С уважением," / "Best regards, Ann Lee" — a capitalised name may follow, nothing else.
SIGNOFF_LINE = re.compile(
    rf"^(?i:{_words('signoffs')})(?:[,.!]?|,\s*[A-ZА-ЯЁ][\w.'-]*(?:\s+[A-ZА-ЯЁ][\w.'-]*){{0,3}})$"
)
# "Sent from my iPhone", "Отправлено из мобильной Почты Mail.ru": a few words, no sentence.
DEVICE_LINE = re.compile(rf"^(?:{_words('devices')})(?:\s+\S+){{1,5}}$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Attribution:
    """An attribution line's words before its ending: the quoted author's address after a
    time (`addressed`: Gmail, Yandex, Mail.ru) or "wrote:" (Apple, Thunderbird, Android)."""

    intro: str
    addressed: bool


def attribution_of(line: str) -> Attribution | None:
    """The line read as an attribution ("… <ann@x.ru>:", "… написал(а):"), else None.
    Endings are looked for in the line's tail only, so a long line costs little."""
    if not line.endswith(":") or len(line) > _ATTRIBUTION_CHARS:
        return None
    tail = max(len(line) - _ENDING_CHARS, 0)
    address = _ADDRESS_AT_END.search(line, tail)
    if address is not None and TIME.search(line, 0, address.start()):
        return Attribution(intro=line[: address.end("address")], addressed=True)
    verb = _VERB_AT_END.search(line, tail)
    if verb is not None and verb.start() > 0:
        return Attribution(intro=line[: verb.start()], addressed=False)
    return None


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
        index = (
            following
            if following < len(lines) and field_of(lines[following].strip())
            else index + 1
        )
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
