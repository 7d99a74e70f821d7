"""Reading the rows a desk request is about, refusing with a `DeskError` when it cannot be."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.desk.errors import DeskError
from core.contracts import ChannelKind
from core.db import SessionFactory
from core.models import Conversation, ConversationStatus, Identity, Message, Operator
from core.unit_of_work import AppendedRow

__all__ = ["active_operator", "find_conversation", "held_conversation", "identity_via", "stored"]


async def active_operator(sessions: SessionFactory, operator_id: int) -> Operator:
    """The operator asking; a disabled or unknown one is refused (`PermissionError`: the
    transports close their console or answer "refused")."""
    async with sessions() as session:
        operator = await session.get(Operator, operator_id)
    if operator is None or not operator.active:
        raise PermissionError(f"operator {operator_id} is unknown or disabled")
    return operator


async def find_conversation(session: AsyncSession, conversation_id: int) -> Conversation:
    found = await session.get(Conversation, conversation_id)
    if found is None:
        raise DeskError("desk_not_found", conversation_id=conversation_id)
    return found


async def held_conversation(
    session: AsyncSession, operator_id: int, conversation_id: int
) -> Conversation:
    """A conversation the operator holds: only its holder answers, closes or transfers it."""
    found = await find_conversation(session, conversation_id)
    if found.status is ConversationStatus.CLOSED:
        raise DeskError("desk_closed", conversation_id=conversation_id)
    if found.assigned_operator_id != operator_id:
        raise DeskError("desk_not_yours", conversation_id=conversation_id)
    return found


async def identity_via(
    session: AsyncSession, conversation: Conversation, channel: ChannelKind
) -> Identity:
    """The client's most recently seen identity in `channel` (an answer sent there)."""
    identity = await session.scalar(
        select(Identity)
        .where(Identity.client_id == conversation.client_id, Identity.channel == channel)
        .order_by(Identity.last_seen_at.desc())
        .limit(1)
    )
    if identity is None:
        raise DeskError("desk_no_channel", channel=channel.value)
    return identity


async def stored(session: AsyncSession, row: AppendedRow) -> Message:
    """A message written as a row (`add_message`), read back for its view."""
    message = await session.get(Message, row.id)
    assert message is not None, "read back in the session that wrote it"
    return message
