"""A phone number as proof: the number Telegram reports for the sender's own shared
contact (`Action.CONTACT`) joins them with a client whose identity proved the same number
before. A number only typed in a chat proves nothing (`typed_phone`: a hint at most)."""

from __future__ import annotations

import re

from sqlalchemy import select

from core.models import Identity
from core.numbers import ascii_digits
from identity.hints import note_others
from identity.proof_merge import ProofMerge
from identity.turn import Turn

__all__ = ["normalise_phone", "shared_phone", "typed_phone"]

_PHONE = re.compile(r"(?<![\w+])\+?\d[\d\s()-]{8,16}\d(?!\w)")


def normalise_phone(text: str) -> str | None:
    """ "+79991234567" for the usual ways a number is written (8 999 123-45-67, +7 (999)…)."""
    digits = ascii_digits(text)
    if len(digits) == 11 and digits[0] == "8":
        digits = "7" + digits[1:]
    elif len(digits) == 10 and digits[0] == "9":
        digits = "7" + digits
    return f"+{digits}" if 10 <= len(digits) <= 15 else None


def typed_phone(text: str) -> str | None:
    """A number written the way phones are: "+…", or 11 digits from 7 or 8."""
    found = _PHONE.search(text)
    if found is None:
        return None
    digits = ascii_digits(found.group(0))
    if found.group(0).startswith("+") or (len(digits) == 11 and digits[0] in "78"):
        return normalise_phone(found.group(0))
    return None


async def shared_phone(turn: Turn, payload: str, proofs: ProofMerge) -> list[int]:
    """The sender shared their own contact: the number is proven for this identity, and
    joins this client with one whose identity proved it before."""
    phone = normalise_phone(payload)
    if phone is None:
        return [await turn.reply("phone_unreadable")]
    turn.identity.phone = phone
    turn.identity.verified = True
    proven = await turn.session.scalar(
        select(Identity)
        .where(
            Identity.phone == phone,
            Identity.verified.is_(True),
            Identity.client_id != turn.client.id,
        )
        .order_by(Identity.id)
        .limit(1)
    )
    if proven is None:
        turn.client.phone = phone
        await note_others(turn, "phone", phone)
        return [await turn.reply("phone_saved", phone=phone)]
    proof = (
        f"{phone} shared as their own contact by {turn.identity.channel.value}:"
        f"{turn.identity.shown_id}, proven before by {proven.channel.value}:"
        f"{proven.shown_id}"
    )
    return await proofs.merge(
        turn, proven, "phone", proof, "phone_recognised", phone=phone, phone_field=phone
    )
