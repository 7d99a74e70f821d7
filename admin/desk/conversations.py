"""Reading conversations as operators see them: one thread, or a client's whole history."""

from __future__ import annotations

from sqlalchemy import func, select

from admin.desk.lookup import active_operator, find_conversation
from admin.desk.views import ConversationView, MessageView, client_name, is_anonymous, message_view
from core.db import SessionFactory
from core.models import (
    Client,
    Conversation,
    ConversationEvent,
    ConversationStatus,
    EventKind,
    Identity,
    Message,
)

__all__ = ["HISTORY_LIMIT", "Conversations"]

HISTORY_LIMIT = 200


class Conversations:
    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    async def for_operator(self, operator_id: int, conversation_id: int) -> ConversationView:
        """A conversation an operator opens (a disabled operator is refused)."""
        await active_operator(self._sessions, operator_id)
        return await self.view(conversation_id)

    async def view(self, conversation_id: int) -> ConversationView:
        """A conversation as operators see it (for notifications: no operator is asking)."""
        async with self._sessions() as session:
            conversation = await find_conversation(session, conversation_id)
            client = await session.get(Client, conversation.client_id)
            messages = await session.scalars(
                select(Message)
                .where(Message.conversation_id == conversation.id)
                .order_by(Message.id.desc())
                .limit(HISTORY_LIMIT)
            )
            closed = (
                await session.scalar(
                    select(ConversationEvent.data)
                    .where(
                        ConversationEvent.conversation_id == conversation.id,
                        ConversationEvent.kind == EventKind.CLOSED,
                    )
                    .order_by(ConversationEvent.id.desc())
                    .limit(1)
                )
                if conversation.status is ConversationStatus.CLOSED
                else None
            )
            reachable = await session.scalars(
                select(Identity.channel)
                .where(Identity.client_id == conversation.client_id)
                .group_by(Identity.channel)
                .order_by(func.max(Identity.last_seen_at).desc(), func.max(Identity.id).desc())
            )
            return ConversationView(
                id=conversation.id,
                status=conversation.status.value,
                client_id=conversation.client_id,
                client_name=client_name(client),
                channel=conversation.last_channel.value,
                category=conversation.category,
                group=conversation.group,
                priority=conversation.priority,
                deadline=conversation.sla_deadline,
                operator_id=conversation.assigned_operator_id,
                subject=conversation.subject,
                messages=tuple(message_view(m) for m in reversed(list(messages))),
                rating=conversation.rating,
                resolved_at=conversation.resolved_at,
                closed_by=str(closed["by"]) if closed and closed.get("by") else None,
                anonymous=is_anonymous(client),
                erased_at=conversation.erased_at,
                reachable=tuple(channel.value for channel in reachable),
            )

    async def history(
        self, operator_id: int, conversation_id: int, limit: int = HISTORY_LIMIT
    ) -> list[MessageView]:
        """The client's last `limit` messages across all their conversations and channels,
        oldest first (each carries its channel and conversation)."""
        await active_operator(self._sessions, operator_id)
        async with self._sessions() as session:
            conversation = await find_conversation(session, conversation_id)
            newest_first = await session.scalars(
                select(Message)
                .join(Conversation, Message.conversation_id == Conversation.id)
                .where(Conversation.client_id == conversation.client_id)
                .order_by(Message.id.desc())
                .limit(limit)
            )
            return [message_view(m) for m in reversed(list(newest_first))]
