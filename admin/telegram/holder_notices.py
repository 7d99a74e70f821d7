"""What happened to a conversation someone holds: transferred to them, a reply that was not
delivered or bounced, the client's rating, and (in forum mode) a closed conversation's
topic; and a colleague's note that names an operator with an @."""

from __future__ import annotations

import logging
from typing import Any

from admin.desk import Desk
from admin.telegram.audience import Posting, Reader
from admin.telegram.cards import conversation_text, resend_keyboard
from admin.telegram.state import ActiveConversations
from admin.telegram.texts import say
from core.contracts import DeliveryError, DeliveryFault
from core.db import SessionFactory
from core.models import Author, Conversation

__all__ = ["LOW_RATING", "HolderNotices"]

log = logging.getLogger(__name__)

LOW_RATING = 2
"""A rating this low (of 5) reaches the admins too: someone may want to call the client."""


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
        """Why, in the holder's words, with the platform's own error below it for the
        admin, and a button to send the message again once the cause is gone."""
        conversation_id = int(notice["conversation_id"])
        holder = await self._holder_of(conversation_id)
        if holder is None:
            return
        fault = _fault_of(notice.get("fault"))
        text = say(
            "undelivered",
            holder.language,
            id=conversation_id,
            reason=say(f"fault_{fault.value}", holder.language),
            error=str(notice.get("error", ""))[:300],
        )
        message_id = notice.get("message_id")
        markup = (
            resend_keyboard(message_id, holder.language)
            if isinstance(message_id, int) and notice.get("author") == Author.OPERATOR.value
            else None
        )
        await self._post.sender.text(holder.ref, text, markup=markup)

    async def bounced(self, notice: dict[str, Any]) -> None:
        conversation_id = int(notice["conversation_id"])
        holder = await self._holder_of(conversation_id)
        if holder is not None:
            await self._post.sender.text(
                holder.ref, say("bounced", holder.language, id=conversation_id)
            )

    async def closed(self, notice: dict[str, Any]) -> None:
        conversation_id = int(notice["conversation_id"])
        if self._post.topics is not None and await self._post.topics.thread_of(conversation_id):
            await self._post.topics.send(
                conversation_id,
                f"#{conversation_id}",
                say("card_closed", self._post.audience.language),
            )

    async def rated(self, notice: dict[str, Any]) -> None:
        """The operator who held the conversation hears the client's rating; a low one goes
        to every admin as well."""
        rating, held_by = int(notice["rating"]), notice.get("operator_id")
        operator_id = held_by if isinstance(held_by, int) else None
        holder = await self._post.readers.holder(operator_id)
        readers = {r.ref: r for r in [holder] if r is not None}
        if rating <= LOW_RATING:
            readers |= {a.ref: a for a in await self._post.readers.admins()}
        name = await self._post.readers.operator_name(operator_id)
        for reader in readers.values():
            text = say(
                "rated_low" if rating <= LOW_RATING else "rated",
                reader.language,
                id=notice["conversation_id"],
                rating=rating,
                operator=name if operator_id is not None else say("nothing", reader.language),
            )
            try:
                await self._post.sender.text(reader.ref, text)
            except DeliveryError as exc:  # one who blocked the bot must not stop the rest
                log.warning("rating notice not posted to %s: %s", reader.ref.key, exc)

    async def mentioned(self, notice: dict[str, Any]) -> None:
        """Each colleague a note named hears who wrote it, where, and what it says."""
        for operator_id in notice.get("operator_ids") or ():
            reader = await self._post.readers.holder(int(operator_id))
            if reader is None:
                continue
            text = say(
                "mentioned_you",
                reader.language,
                sender=notice.get("from_name", "?"),
                id=notice["conversation_id"],
                note=notice.get("note", ""),
            )
            try:
                await self._post.sender.text(reader.ref, text)
            except DeliveryError as exc:  # one who blocked the bot must not stop the rest
                log.warning("mention not posted to %s: %s", reader.ref.key, exc)

    async def _holder_of(self, conversation_id: int) -> Reader | None:
        async with self._sessions() as session:
            conversation = await session.get(Conversation, conversation_id)
        return await self._post.readers.holder(
            conversation.assigned_operator_id if conversation else None
        )


def _fault_of(value: object) -> DeliveryFault:
    """The notice's fault; one this process does not know (or none) reads as UNREACHABLE,
    the most general."""
    try:
        return DeliveryFault(value)
    except ValueError:
        return DeliveryFault.UNREACHABLE
