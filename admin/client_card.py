"""The client card beside the console's thread: who the client is, and on what proof.

Each identity says how it is known to be this person (`proof`):
- `platform`: a Telegram or VK account; the platform vouches for the sender;
- `cookie`: a web chat visitor; only this browser is known;
- `email_code`: an address that typed back the code mailed to it;
- `from_header`: an address known only from a letter's `From`, which proves nothing;
and, when it came from another client, the merge that brought it (`joined`: why, on what
proof, who). A phone number is `phone_proved` when Telegram reported it as the sender's
own contact. The client's own email and phone are what they typed or gave in the web
chat's pre-chat form: shown as not proved unless a proved identity carries the same.

Beside them: earlier conversations, the operators' private notes from all of them, the
merges this client took part in (admins undo them), and hints: other clients with the
same email or phone, never merged without proof.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.desk.views import client_name, is_anonymous
from core.contracts import ChannelKind
from core.db import SessionFactory
from core.models import (
    Author,
    Conversation,
    Identity,
    MergeRecord,
    Message,
    Operator,
)
from identity.hints import Hint, hints_in
from identity.person import accounts_of, current_client

__all__ = [
    "CardView",
    "ConversationLine",
    "IdentityLine",
    "Joined",
    "MergeLine",
    "NoteLine",
    "client_card",
]

CONVERSATIONS = 50
NOTES = 50
MERGES = 20
PREVIEW = 120


@dataclass(frozen=True, slots=True)
class Joined:
    """The merge that brought an identity to this client."""

    record_id: int
    reason: str  # link_code | email_code | phone | operator
    proof: str | None
    at: dt.datetime
    operator: str | None


@dataclass(frozen=True, slots=True)
class IdentityLine:
    id: int
    channel: str
    shown_id: str  # never a web visitor's cookie
    display_name: str | None
    proof: str  # platform | cookie | email_code | from_header
    phone: str | None
    phone_proved: bool
    last_seen_at: dt.datetime
    joined: Joined | None


@dataclass(frozen=True, slots=True)
class ConversationLine:
    id: int
    status: str
    channel: str
    created_at: dt.datetime
    resolved_at: dt.datetime | None
    rating: int | None
    subject: str | None
    preview: str  # the client's first words in it
    merged_into_id: int | None


@dataclass(frozen=True, slots=True)
class NoteLine:
    id: int
    conversation_id: int
    author: str  # operator | system
    operator: str | None
    text: str
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class MergeLine:
    record_id: int
    survivor_id: int
    merged_id: int
    reason: str
    proof: str | None
    at: dt.datetime
    operator: str | None
    undone_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class CardView:
    id: int
    asked_id: int  # the client asked for; another when it was merged into this one
    name: str
    anonymous: bool
    tier: str
    language: str | None
    email: str | None
    email_proved: bool
    phone: str | None
    phone_proved: bool
    since: dt.datetime
    identities: tuple[IdentityLine, ...]
    conversations: tuple[ConversationLine, ...]
    notes: tuple[NoteLine, ...]
    merges: tuple[MergeLine, ...]
    hints: tuple[Hint, ...]


async def client_card(sessions: SessionFactory, client_id: int) -> CardView | None:
    """The card of `client_id` (of the client it was merged into, if it was), or None."""
    async with sessions() as session:
        client = await current_client(session, client_id)
        if client is None:
            return None
        identities = await accounts_of(session, client.id)
        merges = list(
            await session.scalars(
                select(MergeRecord)
                .where(
                    or_(MergeRecord.survivor_id == client.id, MergeRecord.merged_id == client.id)
                )
                .order_by(MergeRecord.id.desc())
                .limit(MERGES)
            )
        )
        names = await _operator_names(
            session, {m.operator_id for m in merges if m.operator_id is not None}
        )
        proved_emails = {
            i.external_id.lower()
            for i in identities
            if i.channel is ChannelKind.EMAIL and i.verified
        }
        proved_phones = {i.phone for i in identities if i.phone and i.verified}
        return CardView(
            id=client.id,
            asked_id=client_id,
            name=client_name(client),
            anonymous=is_anonymous(client),
            tier=client.tier.value,
            language=client.language,
            email=client.email,
            email_proved=(client.email or "").lower() in proved_emails,
            phone=client.phone,
            phone_proved=client.phone in proved_phones,
            since=client.created_at,
            identities=tuple(_identity_line(i, merges, names) for i in identities),
            conversations=tuple(await _conversations(session, client.id)),
            notes=tuple(await _notes(session, client.id)),
            merges=tuple(
                MergeLine(
                    m.id,
                    m.survivor_id,
                    m.merged_id,
                    m.reason,
                    m.proof,
                    m.at,
                    names.get(m.operator_id) if m.operator_id else None,
                    m.undone_at,
                )
                for m in merges
            ),
            hints=tuple(await hints_in(session, client.id)),
        )


def _identity_line(
    identity: Identity, merges: list[MergeRecord], names: dict[int, str]
) -> IdentityLine:
    if identity.channel is ChannelKind.EMAIL:
        proof = "email_code" if identity.verified else "from_header"
    else:
        proof = "cookie" if identity.channel is ChannelKind.WEB else "platform"
    brought = next(
        (
            m
            for m in merges  # newest first: the merge that brought it last
            if m.undone_at is None
            and m.survivor_id == identity.client_id
            and identity.id in m.moved.get("identities", ())
        ),
        None,
    )
    return IdentityLine(
        id=identity.id,
        channel=identity.channel.value,
        shown_id=identity.shown_id,
        display_name=identity.display_name,
        proof=proof,
        phone=identity.phone,
        phone_proved=bool(identity.phone) and identity.verified,
        last_seen_at=identity.last_seen_at,
        joined=None
        if brought is None
        else Joined(
            brought.id,
            brought.reason,
            brought.proof,
            brought.at,
            names.get(brought.operator_id) if brought.operator_id else None,
        ),
    )


async def _conversations(session: AsyncSession, client_id: int) -> list[ConversationLine]:
    conversations = list(
        await session.scalars(
            select(Conversation)
            .where(Conversation.client_id == client_id)
            .order_by(Conversation.id.desc())
            .limit(CONVERSATIONS)
        )
    )
    first_words = (
        select(Message.conversation_id, func.min(Message.id).label("first"))
        .where(
            Message.conversation_id.in_([c.id for c in conversations]),
            Message.author == Author.CLIENT,
            Message.text != "",
        )
        .group_by(Message.conversation_id)
        .subquery()
    )
    previews = dict(
        (
            await session.execute(
                select(Message.conversation_id, Message.text).join(
                    first_words, Message.id == first_words.c.first
                )
            )
        ).all()
    )
    return [
        ConversationLine(
            id=c.id,
            status=c.status.value,
            channel=c.last_channel.value,
            created_at=c.created_at,
            resolved_at=c.resolved_at,
            rating=c.rating,
            subject=c.subject,
            preview=" ".join(previews.get(c.id, "").split())[:PREVIEW],
            merged_into_id=c.merged_into_id,
        )
        for c in conversations
    ]


async def _notes(session: AsyncSession, client_id: int) -> list[NoteLine]:
    rows = await session.execute(
        select(Message, Operator.name)
        .join(Conversation, Message.conversation_id == Conversation.id)
        .outerjoin(Operator, Message.operator_id == Operator.id)
        .where(Conversation.client_id == client_id, Message.private.is_(True))
        .order_by(Message.id.desc())
        .limit(NOTES)
    )
    return [
        NoteLine(
            message.id,
            message.conversation_id,
            message.author.value,
            name,
            message.text,
            message.created_at,
        )
        for message, name in rows
    ]


async def _operator_names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(
        (
            await session.execute(select(Operator.id, Operator.name).where(Operator.id.in_(ids)))
        ).all()
    )
