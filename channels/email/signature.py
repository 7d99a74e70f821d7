"""Where a client's signature starts in what they wrote: the "-- " delimiter, or a sign-off
("С уважением,") or device line ("Отправлено с iPhone", "Sent from my Galaxy") followed
only by a few short lines (a name, a phone number, a company).

The signature is split off, not thrown away: the operator may need the phone number.
"""

from __future__ import annotations

from collections.abc import Sequence

from channels.email.markers import DEVICE_LINE, SIGNATURE_DELIMITER, SIGNOFF_LINE

__all__ = ["split_signature"]

_SIGNATURE_LINES = 6  # a sign-off with more lines below is the client's text
_SIGNATURE_WIDTH = 80


def split_signature(lines: Sequence[str]) -> tuple[list[str], list[str]]:
    """(what the client wrote, their signature), each as lines."""
    for index, line in enumerate(lines):
        text = line.strip()
        if SIGNATURE_DELIMITER.match(text) or (
            (SIGNOFF_LINE.match(text) or DEVICE_LINE.match(text))
            and _short_tail(lines[index + 1 :])
        ):
            return list(lines[:index]), list(lines[index:])
    return list(lines), []


def _short_tail(lines: Sequence[str]) -> bool:
    filled = [line for line in lines if line.strip()]
    return len(filled) <= _SIGNATURE_LINES and all(
        len(line.strip()) <= _SIGNATURE_WIDTH for line in filled
    )
