"""Cards of queued conversations: posted with Take / Later, marked taken everywhere.

A newly queued conversation posts a card to every reader serving its group (or the
operators' group) and into its forum topic; each copy is remembered in Redis so that,
once the conversation is taken, every copy is edited to say who took it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from redis.asyncio import Redis

from admin.desk import ConversationView, Desk
from admin.telegram.audience import Posting, Reader, topic_name
from admin.telegram.cards import NO_BUTTONS, card_text, take_keyboard
from admin.telegram.sender import ChatRef
from admin.telegram.texts import say
from core import keys
from core.contracts import DeliveryError
from routing.queue import as_text

__all__ = ["QueueCards"]

log = logging.getLogger(__name__)

CARD_TTL = 7 * 24 * 3600


class QueueCards:
    def __init__(
        self,
        *,
        posting: Posting,
        desk: Desk,
        redis: Redis,
    ) -> None:
        self._post = posting
        self._desk = desk
        self._redis = redis

    async def post(self, conversation_id: int) -> None:
        """Post the card of a conversation still queued; nothing once it is not."""
        view = await self._desk.conversations.view(conversation_id)
        if view.status != "queued":
            return
        for reader in await self._post.readers.of_group(view.group or ""):
            await self._card(view, reader)
        if self._post.topics is not None:
            language = self._post.audience.language
            where, sent = await self._post.topics.send(
                view.id,
                topic_name(self._post.audience, view),
                self._text(view, language),
                markup=take_keyboard(view.id, language),
            )
            await self._remember(view.id, where, sent.message_id, language)

    async def taken(self, notice: dict[str, Any]) -> None:
        """Edit every remembered copy of the card to say who took the conversation."""
        conversation_id = int(notice["conversation_id"])
        cards = await self._redis.hgetall(keys.admin_cards(conversation_id))
        await self._redis.delete(keys.admin_cards(conversation_id))
        if not cards:
            return
        view = await self._desk.conversations.view(conversation_id)
        for where, stored in cards.items():
            message_id, language = json.loads(as_text(stored))
            text = (
                f"{self._text(view, language)}\n\n"
                f"{say('card_taken', language, operator=notice.get('operator', '?'))}"
            )
            try:
                await self._post.sender.edit(
                    ChatRef.from_key(as_text(where)), int(message_id), text, markup=NO_BUTTONS
                )
            except DeliveryError as exc:  # deleted by the operator, too old to edit…
                log.info("card of #%s in %s not edited: %s", conversation_id, as_text(where), exc)

    def _text(self, view: ConversationView, language: str) -> str:
        return card_text(view, language, self._post.audience.zone, self._desk.categories)

    async def _card(self, view: ConversationView, reader: Reader) -> None:
        try:
            sent = await self._post.sender.text(
                reader.ref,
                self._text(view, reader.language),
                markup=take_keyboard(view.id, reader.language),
            )
        except DeliveryError as exc:  # one operator who blocked the bot must not stop the rest
            log.warning("card of #%s not posted to %s: %s", view.id, reader.ref.key, exc)
            return
        await self._remember(view.id, reader.ref, sent.message_id, reader.language)

    async def _remember(
        self, conversation_id: int, where: ChatRef, message_id: int, language: str
    ) -> None:
        key = keys.admin_cards(conversation_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, where.key, json.dumps([message_id, language]))
            pipe.expire(key, CARD_TTL)
            await pipe.execute()
