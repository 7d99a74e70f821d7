"""Bank card numbers a client types are masked as they arrive, before anything stores,
shows, searches or answers them, and any message row's text is kept so (an operator's
reply or note too): a desk must not keep or send a full card number (PCI DSS), and
operators never need one. A number is a card's when it has 13–19 digits, written whole or
in groups split by spaces or dashes, starts as the schemes' numbers do (2–6: Mir, Visa,
Mastercard, Maestro, UnionPay) and passes the Luhn check; a 20-digit account number, an
11-digit phone number or a grouped number longer than a card's is left alone. The last
four digits stay, so the client and the operator can still tell which card: «•••• 1234».
"""

from __future__ import annotations

import re
from dataclasses import replace

from core.contracts import InboundMessage

__all__ = ["mask_card_numbers", "masked"]

_NUMBER = re.compile(r"(?<!\d)(?<!\d[ -])\d(?:[ -]?\d){12,18}(?![ -]?\d)")
"""13–19 digits, whole or grouped, with no digit just before or after (a longer number)."""
_SCHEMES = frozenset("23456")


def mask_card_numbers(text: str) -> str:
    """`text` with each card number as «•••• 1234»."""
    return _NUMBER.sub(_masked_number, text)


def masked(inbound: InboundMessage) -> InboundMessage:
    """The message with card numbers masked in its text and subject (`masked` set when
    there were any)."""
    text = mask_card_numbers(inbound.text)
    subject = mask_card_numbers(inbound.subject) if inbound.subject else inbound.subject
    if text == inbound.text and subject == inbound.subject:
        return inbound
    return replace(inbound, text=text, subject=subject, masked=True)


def _masked_number(found: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", found.group())
    if digits[0] not in _SCHEMES or not _luhn(digits):
        return found.group()
    return f"•••• {digits[-4:]}"


def _luhn(digits: str) -> bool:
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0
