"""Numbers typed by people: only the digits 0-9 count.

`str.isdigit()` also accepts «²», «①» or «𝟓», which `int()` refuses, and `int()` refuses
a string of more than 4300 digits: a check and a conversion that disagree let one odd
message raise where a choice, a rating or a command is read. Every such reading goes
through here.
"""

from __future__ import annotations

__all__ = ["MAX_DIGITS", "MAX_ROW_ID", "ascii_digits", "row_id", "whole_number"]

MAX_DIGITS = 18
"""Longer is not a number anyone means here (and fits a 64-bit column either way)."""


def whole_number(text: str) -> int | None:
    """The number `text` is (surrounding spaces allowed), or None unless it is 1 to
    `MAX_DIGITS` of the digits 0-9."""
    text = text.strip()
    if not 0 < len(text) <= MAX_DIGITS or not all("0" <= c <= "9" for c in text):
        return None
    return int(text)


MAX_ROW_ID = 2**31 - 1
"""The largest id an integer primary key holds on every database we run on."""


def row_id(text: str) -> int | None:
    """A row id typed or carried in a button (a conversation number), or None when `text`
    is not one any table could hold (a bigger number would make PostgreSQL refuse the
    look-up itself)."""
    value = whole_number(text)
    return value if value is not None and 0 < value <= MAX_ROW_ID else None


def ascii_digits(text: str) -> str:
    """The digits 0-9 of `text`, in order (a phone number written any way)."""
    return "".join(c for c in text if "0" <= c <= "9")
