"""What happened to a conversation someone holds: transferred to them, a reply that was not
delivered or bounced, and (in forum mode) a closed conversation's topic."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from admin.desk import Desk
from admin.telegram.audience import Posting
from admin.telegram.cards import conversation_text
from admin.telegram.state import ActiveConversations
from admin.telegram.texts import say
from core.contracts import DeliveryFault
from core.db import SessionFactory
from core.models import Conversation

__all__ = ["HolderNotices"]


class HolderNotices:
    def __init__(
        self,
        *,
        posting: Posting,
        desk: Desk,
        sessions: SessionFactory,
        active: ActiveConversations,
    ) -> None:
        self._post = posting
        self._desk = desk
        self._sessions = sessions
        self._active = active

    async def transferred(self, notice: dict[str, Any]) -> None:
        target = notice.get("operator_id")
        if target is None:
            return
        reader = await self._post.readers.holder(int(target))
        if reader is None:
            return
        conversation_id = int(notice["conversation_id"])
        sender = await self._post.readers.operator_name(notice.get("from_operator_id"))
        view = await self._desk.conversations.view(conversation_id)
        if await self._active.get(int(target)) is None:
            await self._active.set(int(target), conversation_id)
        await self._post.sender.text(
            reader.ref,
            "\n\n".join(
                [
                    say(
                        "transferred_to_you",
                        reader.language,
                        id=conversation_id,
                        sender=sender,
                        note=notice.get("note") or say("nothing", reader.language),
                    ),
                    conversation_text(view, reader.language, self._post.audience.zone),
                ]
            ),
        )

    async def undelivered(self, notice: dict[str, Any]) -> None:
        """Why, in the holder's words; the platform's own error below it, for the admin."""
        conversation_id = int(notice["conversation_id"])
        fault = _fault_of(notice.get("fault"))
        error = str(notice.get("error", ""))[:300]
        await self._tell_holder(
            conversation_id,
            lambda language: say(
                "undelivered",
                language,
                id=conversation_id,
                reason=say(f"fault_{fault.value}", language),
                error=error,
            ),
        )

    async def bounced(self, notice: dict[str, Any]) -> None:
        conversation_id = int(notice["conversation_id"])
        await self._tell_holder(
            conversation_id, lambda language: say("bounced", language, id=conversation_id)
        )

    async def closed(self, notice: dict[str, Any]) -> None:
        conversation_id = int(notice["conversation_id"])
        if self._post.topics is not None and await self._post.topics.thread_of(conversation_id):
            await self._post.topics.send(
                conversation_id,
                f"#{conversation_id}",
                say("card_closed", self._post.audience.language),
            )

    async def _tell_holder(self, conversation_id: int, text: Callable[[str | None], str]) -> None:
        async with self._sessions() as session:
            conversation = await session.get(Conversation, conversation_id)
        holder = await self._post.readers.holder(
            conversation.assigned_operator_id if conversation else None
        )
        if holder is not None:
            await self._post.sender.text(holder.ref, text(holder.language))


def _fault_of(value: object) -> DeliveryFault:
    """The notice's fault; one this process does not know (or none) reads as UNREACHABLE,
    the most general."""
    try:
        return DeliveryFault(value)
    except ValueError:
        return DeliveryFault.UNREACHABLE
