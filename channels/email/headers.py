"""Reading headers of real-world mail without ever raising.

`email` with `policy.default` parses header values lazily and, for some malformed input,
raises on access instead of recording a defect; every header the channel reads goes
through here so one broken header cannot drop a letter.
"""

from __future__ import annotations

from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parseaddr

from channels.email.body import decode_bytes

__all__ = ["header", "header_all", "normalise_address", "reply_address", "sender"]


def header(message: Message, name: str) -> str:
    """The decoded value of the first `name` header, or "" when absent or unreadable.
    Raw 8-bit headers (no encoded words) are decoded like an 8-bit body."""
    try:
        value = message.get(name)
    except (ValueError, IndexError, TypeError, LookupError, AttributeError):
        value = _raw(message, name)
    text = _text(value)
    if "\ufffd" in text:
        raw = _raw(message, name)
        try:
            text = _text(decode_bytes(raw.encode("ascii", "surrogateescape"), None))
        except UnicodeError:
            pass
    return text


def header_all(message: Message, name: str) -> list[str]:
    try:
        values = message.get_all(name) or []
    except (ValueError, IndexError, TypeError, LookupError, AttributeError):
        values = [_raw(message, name)]
    return [_text(value) for value in values if value is not None]


def normalise_address(address: str) -> str:
    """The identity form of an address: trimmed, lower-case, `+tag` kept as is."""
    return address.strip().strip("<>").strip().lower()


def sender(message: Message) -> tuple[str, str | None]:
    """(normalised address, display name) of the author: From, else Sender, else
    Return-Path; ("", None) when none of them holds an address."""
    for name in ("From", "Sender", "Return-Path"):
        value = header(message, name)
        if not value:
            continue
        pairs = [(n, a) for n, a in getaddresses([value]) if "@" in a]
        if not pairs:
            display, address = parseaddr(value)
            pairs = [(display, address)] if "@" in address else []
        if pairs:
            display, address = pairs[0]
            return normalise_address(address), (display.strip() or None)
    return "", None


def reply_address(message: Message) -> str | None:
    """Where the author wants answers to go (`Reply-To`), if it names one address."""
    pairs = [a for _, a in getaddresses([header(message, "Reply-To")]) if "@" in a]
    return normalise_address(pairs[0]) if len(pairs) == 1 else None


def _raw(message: Message, name: str) -> str:
    for key, value in message.raw_items():
        if key.lower() == name.lower():
            return str(value)
    return ""


def _text(value: object) -> str:
    if value is None:
        return ""
    text = str(value)
    if "=?" in text:  # an encoded word the header parser gave up on
        try:
            text = str(make_header(decode_header(text)))
        except (ValueError, LookupError, UnicodeError):
            pass
    return " ".join(text.split())
