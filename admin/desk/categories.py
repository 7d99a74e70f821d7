"""Setting a conversation's category: the operator who holds it knows better than the
bot's guess (an off-topic hand-off under `general`, a «карта» that was really a fraud).

The category is the one reports split by and count a client's return on; the service
levels' categories are the choice. The holder sets it; an admin may set any
conversation's, a closed one's too (reports read afterwards). The conversation stays
where it is: its group, place and deadline were set at hand-off, and moving it to
another queue is a transfer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from admin.desk.conversations import Conversations
from admin.desk.errors import DeskError
from admin.desk.lookup import active_operator, find_conversation, held_conversation
from admin.desk.views import ConversationView
from core.db import SessionFactory
from core.events import DeskFeed, record
from core.models import EventKind, OperatorRole
from routing.service_levels import ServiceLevels

__all__ = ["Categories"]


class Categories:
    def __init__(
        self,
        *,
        sessions: SessionFactory,
        feed: DeskFeed,
        clock: Callable[[], dt.datetime],
        conversations: Conversations,
        levels: ServiceLevels,
    ) -> None:
        self._sessions = sessions
        self._feed = feed
        self._clock = clock
        self._conversations = conversations
        self._levels = levels
        self.names = tuple(sorted(levels.categories))

    def title(self, name: str | None, language: str) -> str:
        """What an operator reads for the category (— for none)."""
        return self._levels.title(name, language) if name else "—"

    async def set_category(
        self, operator_id: int, conversation_id: int, category: str
    ) -> ConversationView:
        """Put the conversation under `category`, one of the service levels'; the change
        is recorded with the category it replaced."""
        if category not in self.names:
            raise DeskError("desk_bad_category", category=category)
        admin = (await active_operator(self._sessions, operator_id)).role is OperatorRole.ADMIN
        now = self._clock()
        async with self._sessions() as session:
            conversation = await (
                find_conversation(session, conversation_id)
                if admin
                else held_conversation(session, operator_id, conversation_id)
            )
            previous = conversation.category
            changed = previous != category
            if changed:
                conversation.category = category
                conversation.updated_at = now
                record(
                    session,
                    conversation,
                    EventKind.RECATEGORIZED,
                    now,
                    operator_id=operator_id,
                    previous=previous,
                )
                await session.commit()
        if changed:
            await self._feed.publish(
                "recategorized",
                conversation_id=conversation_id,
                operator_id=operator_id,
                category=category,
            )
        return await self._conversations.view(conversation_id)  # the operator checked above
