"""Hints: another client with the same email or phone, typed or proven, may be the same
person. A hint is shown to the operators and never acted on without proof.

Desk entry point: `client_hints(sessions, client_id) -> list[Hint]`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.contracts import ChannelKind
from core.db import SessionFactory
from core.models import Client, Identity
from core.texts import say
from identity.turn import Turn

__all__ = ["Hint", "client_hints", "hints_in", "note_others"]


@dataclass(frozen=True, slots=True)
class Hint:
    """Another client who may be the same person; never acted on without proof."""

    client_id: int
    reason: str  # "email" | "phone"
    value: str


async def _others_with(session: AsyncSession, client_id: int, reason: str, value: str) -> list[int]:
    """Other (unmerged) clients whose email or phone, typed or proven, is `value`."""
    by_client: ColumnElement[bool]
    by_identity: ColumnElement[bool]
    if reason == "email":
        by_client = func.lower(Client.email) == value
        by_identity = (Identity.channel == ChannelKind.EMAIL) & (
            func.lower(Identity.external_id) == value
        )
    else:
        by_client = Client.phone == value
        by_identity = Identity.phone == value
    found = await session.scalars(
        select(Client.id)
        .outerjoin(Identity, Identity.client_id == Client.id)
        .where(Client.id != client_id, Client.merged_into_id.is_(None), or_(by_client, by_identity))
        .distinct()
        .order_by(Client.id)
    )
    return list(found)


async def note_others(turn: Turn, reason: str, value: str) -> None:
    """A private note in the thread naming the other clients with this email or phone."""
    others = await _others_with(turn.session, turn.client.id, reason, value)
    if others:
        turn.note(
            "hint_note",
            client_ids=", ".join(f"#{c}" for c in others),
            reason=say(f"hint_{reason}", turn.desk_language),
            value=value,
        )


async def hints_in(session: AsyncSession, client_id: int) -> list[Hint]:
    """Who else may be this client: same email or phone, typed or proven, on either side."""
    client = await session.get(Client, client_id)
    if client is None:
        return []
    identities = list(
        await session.scalars(select(Identity).where(Identity.client_id == client_id))
    )
    emails = {
        e.lower()
        for e in [
            client.email,
            *(i.external_id for i in identities if i.channel is ChannelKind.EMAIL),
        ]
        if e
    }
    phones = {p for p in [client.phone, *(i.phone for i in identities)] if p}
    hints: dict[tuple[int, str, str], Hint] = {}
    for reason, values in (("email", sorted(emails)), ("phone", sorted(phones))):
        for value in values:
            for other in await _others_with(session, client_id, reason, value):
                hints[(other, reason, value)] = Hint(other, reason, value)
    return sorted(hints.values(), key=lambda h: (h.client_id, h.reason, h.value))


async def client_hints(sessions: SessionFactory, client_id: int) -> list[Hint]:
    """The desk's view: `hints_in` in its own session."""
    async with sessions() as session:
        return await hints_in(session, client_id)
