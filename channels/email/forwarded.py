"""A forwarded letter inside a client's letter: its original sender, date and subject, read
from the header block mail programs put on top of it (Gmail, Outlook, Mail.ru, Apple Mail,
Thunderbird) or from Yandex's one-line "02.04.2012, 14:20, "Анна" <ann@x.ru>:"."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from channels.email.markers import (
    OPENING_WORD,
    SENDER_PREFIX,
    TIME,
    attribution_of,
    field_block,
    first_filled,
)

__all__ = ["Forwarded", "read_forwarded"]

_ZONE = re.compile(r"\s?(?:[+-]\d{2}:?\d{2}|\(?GMT[+-]?\d{0,2}:?\d{0,2}\)?)")


@dataclass(frozen=True, slots=True)
class Forwarded:
    """A letter the client passed on: context for the operator, with who wrote it and when
    as the forwarding program wrote them (dates are kept as text: each program and locale
    spells them differently)."""

    sender: str
    date: str
    subject: str
    text: str

    def as_json(self) -> dict[str, str]:
        return {"from": self.sender, "date": self.date, "subject": self.subject, "text": self.text}


def read_forwarded(lines: Sequence[str]) -> Forwarded:
    """The forwarded letter in `lines` (what follows the "Forwarded message" line)."""
    start = first_filled(lines, 0)
    index, fields = field_block(lines, start)
    if not fields and start < len(lines):
        sender, date = _attribution(lines[start].strip())
        if sender or date:
            fields = {"from": sender, "date": date}
            index = start + 1
    body = "\n".join(lines[index:]).strip("\n")
    return Forwarded(
        sender=fields.get("from", ""),
        date=fields.get("date", ""),
        subject=fields.get("subject", ""),
        text=body.strip(),
    )


def _attribution(line: str) -> tuple[str, str]:
    """(sender, date) of a one-line attribution, split after its time (and time zone);
    empty when the line is not one."""
    found = attribution_of(line)
    if found is None:
        return "", ""
    times = list(TIME.finditer(found.intro))
    cut = times[-1].end() if times else 0
    zone = _ZONE.match(found.intro, cut) if times else None
    cut = zone.end() if zone else cut
    sender = SENDER_PREFIX.sub("", found.intro[cut:].strip(" ,")).replace('"', "")
    date = OPENING_WORD.sub("", found.intro[:cut].strip(" ,"))
    return sender.strip(), date
