"""Who the client is: the card an operator reads before answering, and look-alike hints."""

from __future__ import annotations

from sqlalchemy import select

from admin.desk.lookup import active_operator, find_conversation
from admin.desk.views import ClientCard, IdentityView, client_name
from core.db import SessionFactory
from core.models import Client, Conversation, ConversationStatus
from identity.hints import Hint, client_hints, hints_in
from identity.person import accounts_of

__all__ = ["Clients"]


class Clients:
    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    async def card(self, operator_id: int, conversation_id: int) -> ClientCard:
        await active_operator(self._sessions, operator_id)
        async with self._sessions() as session:
            conversation = await find_conversation(session, conversation_id)
            client = await session.get(Client, conversation.client_id)
            assert client is not None
            identities = await accounts_of(session, client.id)
            conversations = list(
                await session.execute(
                    select(Conversation.id, Conversation.status, Conversation.rating)
                    .where(Conversation.client_id == client.id)
                    .order_by(Conversation.id)
                )
            )
            return ClientCard(
                id=client.id,
                name=client_name(client),
                tier=client.tier.value,
                language=client.language,
                phone=client.phone,
                email=client.email,
                identities=tuple(
                    IdentityView(
                        i.id,
                        i.channel.value,
                        i.shown_id,
                        i.display_name,
                        i.verified,
                        i.last_seen_at,
                    )
                    for i in identities
                ),
                conversations=len(conversations),
                open_conversations=tuple(
                    c.id for c in conversations if c.status is not ConversationStatus.CLOSED
                ),
                ratings=tuple(c.rating for c in conversations if c.rating),
                since=client.created_at,
                hints=tuple(await hints_in(session, client.id)),
            )

    async def hints(self, operator_id: int, client_id: int) -> list[Hint]:
        """Clients who may be the same person as `client_id` (same email or phone): hints only."""
        await active_operator(self._sessions, operator_id)
        return await client_hints(self._sessions, client_id)
