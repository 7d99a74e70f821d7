"""An operator writing a reply: the client sees it in the channel they last wrote from."""

from __future__ import annotations

from admin.desk.lookup import held_conversation
from bot.typing import TypingSignals
from core.db import SessionFactory
from core.models import Identity

__all__ = ["Typing"]


class Typing:
    def __init__(self, sessions: SessionFactory, signals: TypingSignals) -> None:
        self._sessions = sessions
        self._signals = signals

    async def started(self, operator_id: int, conversation_id: int) -> bool:
        """Show the client of a conversation the operator holds that they are writing."""
        async with self._sessions() as session:
            conversation = await held_conversation(session, operator_id, conversation_id)
            identity = await session.get(Identity, conversation.last_identity_id)
        if identity is None:
            return False
        return await self._signals.show(identity.channel, identity.chat_id or identity.external_id)
