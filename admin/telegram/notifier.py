"""Desk events → operators' Telegram chats.

`follow()` turns the desk feed's notices into messages: a newly queued conversation posts
a card with Take / Later (to every online operator serving its group, to the operators'
group, or into the conversation's forum topic); once taken, every copy of the card is
edited to say who took it; a client's new message goes to the operator holding the
conversation. The SLA watcher calls the `DeskNotifier` methods directly. Only the process
holding the admin bot's poller lease follows the feed, so each notice is posted once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from aiogram.types import InlineKeyboardMarkup
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import select

from admin.desk import ConversationView, Desk, DeskError
from admin.telegram.cards import attachments_line, card_text, conversation_text, take_keyboard
from admin.telegram.forum import ForumTopics
from admin.telegram.sender import AdminSender, ChatRef
from admin.telegram.state import ActiveConversations
from admin.telegram.texts import say
from core import keys
from core.contracts import DeliveryError
from core.db import SessionFactory
from core.events import DeskFeed
from core.models import Client, Conversation, Message, Operator
from routing.presence import Presence, PresenceState
from routing.queue import QueueEntry, as_text

__all__ = ["AdminNotifier", "Audience"]

log = logging.getLogger(__name__)

CARD_TTL = 7 * 24 * 3600
NO_BUTTONS = InlineKeyboardMarkup(inline_keyboard=[])
FEED_RETRY = 2.0


@dataclass(frozen=True, slots=True)
class Audience:
    """Where notifications go: the operators' group (`chat_id`, a forum when `forum`), or
    else each online operator's private chat; `language` is the group's."""

    chat_id: int | None
    forum: bool
    language: str
    zone: ZoneInfo


@dataclass(frozen=True, slots=True)
class _Reader:
    ref: ChatRef
    language: str


class AdminNotifier:
    def __init__(
        self,
        *,
        desk: Desk,
        feed: DeskFeed,
        sender: AdminSender,
        sessions: SessionFactory,
        redis: Redis,
        presence: Presence,
        active: ActiveConversations,
        audience: Audience,
        topics: ForumTopics | None,
    ) -> None:
        self._desk = desk
        self._feed = feed
        self._sender = sender
        self._sessions = sessions
        self._redis = redis
        self._presence = presence
        self._active = active
        self._audience = audience
        self._topics = topics
        self._handlers: dict[str, Callable[[dict[str, Any]], Awaitable[None]]] = {
            "queued": self._queued,
            "taken": self._taken,
            "client_message": self._client_message,
            "transferred": self._transferred,
            "undelivered": self._undelivered,
            "bounced": self._bounced,
            "closed": self._closed,
            "sla_warning": self._sla_notice,
            "sla_breached": self._sla_notice,
            "lease_expired": self._lease_notice,
        }

    # -- the feed -------------------------------------------------------------------------

    async def follow(self) -> None:
        """Post every desk notice; resubscribe when Redis drops the feed. Runs until cancelled."""
        while True:
            try:
                async for notice in self._feed.listen():
                    await self.handle(notice)
            except (RedisError, OSError) as exc:
                log.warning("admin bot lost the desk feed (%s); resubscribing", exc)
            await asyncio.sleep(FEED_RETRY)

    async def handle(self, notice: dict[str, Any]) -> None:
        handler = self._handlers.get(str(notice.get("kind")))
        if handler is None:
            return
        try:
            await handler(notice)
        except (DeskError, DeliveryError) as exc:
            log.warning("admin bot notice %s not posted: %s", notice.get("kind"), exc)
        except Exception:  # one bad notice must not stop the feed
            log.exception("admin bot notice %r failed", notice)

    async def _queued(self, notice: dict[str, Any]) -> None:
        await self.post_card(int(notice["conversation_id"]))

    async def post_card(self, conversation_id: int) -> None:
        view = await self._desk.conversations.view(conversation_id)
        if view.status != "queued":
            return
        for reader in await self._readers(view.group or ""):
            await self._card(view, reader)
        if self._topics is not None:
            language = self._audience.language
            where, sent = await self._topics.send(
                view.id,
                self._topic_name(view),
                card_text(view, language, self._audience.zone),
                markup=take_keyboard(view.id, language),
            )
            await self._remember_card(view.id, where, sent.message_id, language)

    async def _card(self, view: ConversationView, reader: _Reader) -> None:
        try:
            sent = await self._sender.text(
                reader.ref,
                card_text(view, reader.language, self._audience.zone),
                markup=take_keyboard(view.id, reader.language),
            )
        except DeliveryError as exc:  # one operator who blocked the bot must not stop the rest
            log.warning("card of #%s not posted to %s: %s", view.id, reader.ref.key, exc)
            return
        await self._remember_card(view.id, reader.ref, sent.message_id, reader.language)

    async def _remember_card(
        self, conversation_id: int, where: ChatRef, message_id: int, language: str
    ) -> None:
        key = keys.admin_cards(conversation_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, where.key, json.dumps([message_id, language]))
            pipe.expire(key, CARD_TTL)
            await pipe.execute()

    async def _taken(self, notice: dict[str, Any]) -> None:
        conversation_id = int(notice["conversation_id"])
        cards = await self._redis.hgetall(keys.admin_cards(conversation_id))
        await self._redis.delete(keys.admin_cards(conversation_id))
        if not cards:
            return
        view = await self._desk.conversations.view(conversation_id)
        for where, stored in cards.items():
            message_id, language = json.loads(as_text(stored))
            text = (
                f"{card_text(view, language, self._audience.zone)}\n\n"
                f"{say('card_taken', language, operator=notice.get('operator', '?'))}"
            )
            try:
                await self._sender.edit(
                    ChatRef.from_key(as_text(where)), int(message_id), text, markup=NO_BUTTONS
                )
            except DeliveryError as exc:  # deleted by the operator, too old to edit…
                log.info("card of #%s in %s not edited: %s", conversation_id, as_text(where), exc)

    async def _client_message(self, notice: dict[str, Any]) -> None:
        conversation_id = int(notice["conversation_id"])
        async with self._sessions() as session:
            message = await session.get(Message, int(notice["message_id"]))
            conversation = await session.get(Conversation, conversation_id)
            client = await session.get(Client, conversation.client_id) if conversation else None
        if message is None or conversation is None:
            return
        name = (client.display_name if client else None) or f"#{conversation.client_id}"
        key = "client_edited" if notice.get("edited") else "client_message"
        holder = await self._holder(conversation.assigned_operator_id)
        readers = [holder] if holder is not None and self._topics is None else []
        for reader in readers:
            text = say(
                key,
                reader.language,
                id=conversation_id,
                client=name,
                channel=message.channel.value,
                text=message.text,
            )
            if message.attachments:
                text = f"{text}\n{attachments_line(message.attachments, reader.language)}"
            await self._sender.text(reader.ref, text)
            await self._files(reader.ref, message)
        if self._topics is not None:
            language = self._audience.language
            text = say(
                key,
                language,
                id=conversation_id,
                client=name,
                channel=message.channel.value,
                text=message.text,
            )
            if message.attachments:
                text = f"{text}\n{attachments_line(message.attachments, language)}"
            where, _ = await self._topics.send(
                conversation_id,
                self._topic_name_of(conversation_id, name, message.channel.value),
                text,
            )
            await self._files(where, message)

    async def _files(self, where: ChatRef, message: Message) -> None:
        """Client files kept on disk (email attachments, Telegram and VK clients' files, web
        uploads) are passed on as documents; others (over the size limit) are only named."""
        for attachment in message.attachments or ():
            path = attachment.get("stored_path")
            if path:
                await self._sender.file(where, str(path), name=attachment.get("name"))

    async def _transferred(self, notice: dict[str, Any]) -> None:
        target = notice.get("operator_id")
        if target is None:
            return
        reader = await self._holder(int(target))
        if reader is None:
            return
        conversation_id = int(notice["conversation_id"])
        sender = await self._operator_name(notice.get("from_operator_id"))
        view = await self._desk.conversations.view(conversation_id)
        if await self._active.get(int(target)) is None:
            await self._active.set(int(target), conversation_id)
        await self._sender.text(
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
                    conversation_text(view, reader.language, self._audience.zone),
                ]
            ),
        )

    async def _undelivered(self, notice: dict[str, Any]) -> None:
        await self._tell_holder(
            int(notice["conversation_id"]), "undelivered", error=str(notice.get("error", ""))[:300]
        )

    async def _bounced(self, notice: dict[str, Any]) -> None:
        await self._tell_holder(int(notice["conversation_id"]), "bounced")

    async def _closed(self, notice: dict[str, Any]) -> None:
        conversation_id = int(notice["conversation_id"])
        if self._topics is not None and await self._topics.thread_of(conversation_id):
            await self._topics.send(
                conversation_id, f"#{conversation_id}", say("card_closed", self._audience.language)
            )

    async def _tell_holder(self, conversation_id: int, key: str, **values: object) -> None:
        async with self._sessions() as session:
            conversation = await session.get(Conversation, conversation_id)
        holder = await self._holder(conversation.assigned_operator_id if conversation else None)
        if holder is not None:
            await self._sender.text(
                holder.ref, say(key, holder.language, id=conversation_id, **values)
            )

    # -- the SLA watcher (routing.watcher.DeskNotifier) -----------------------------------

    async def sla_warning(self, entry: QueueEntry) -> None:
        await self._broadcast("sla_warning", entry.conversation_id, entry.group, entry.deadline)

    async def sla_breached(self, entry: QueueEntry) -> None:
        await self._broadcast("sla_breached", entry.conversation_id, entry.group, entry.deadline)

    async def lease_expired(self, entry: QueueEntry, operator_id: int | None) -> None:
        await self._lease_lost(entry.conversation_id, operator_id)

    async def _sla_notice(self, notice: dict[str, Any]) -> None:
        """The same alerts when the watcher runs in another process (published on the feed)."""
        await self._broadcast(
            str(notice["kind"]),
            int(notice["conversation_id"]),
            str(notice["group"]),
            dt.datetime.fromisoformat(str(notice["deadline"])),
        )

    async def _lease_notice(self, notice: dict[str, Any]) -> None:
        operator_id = notice.get("operator_id")
        await self._lease_lost(
            int(notice["conversation_id"]), int(operator_id) if operator_id is not None else None
        )

    async def _lease_lost(self, conversation_id: int, operator_id: int | None) -> None:
        holder = await self._holder(operator_id)
        if holder is not None:
            await self._active.clear(operator_id or 0, conversation_id)
            await self._sender.text(
                holder.ref, say("lease_expired", holder.language, id=conversation_id)
            )
        await self.post_card(conversation_id)

    async def _broadcast(
        self, key: str, conversation_id: int, group: str, deadline_at: dt.datetime
    ) -> None:
        deadline = deadline_at.astimezone(self._audience.zone).strftime("%d.%m %H:%M")
        for reader in await self._readers(group):
            try:
                await self._sender.text(
                    reader.ref,
                    say(key, reader.language, id=conversation_id, group=group, deadline=deadline),
                )
            except DeliveryError as exc:
                log.warning(
                    "%s of #%s not posted to %s: %s", key, conversation_id, reader.ref.key, exc
                )
        if self._topics is not None:
            language = self._audience.language
            await self._topics.send(
                conversation_id,
                f"#{conversation_id}",
                say(key, language, id=conversation_id, group=group, deadline=deadline),
            )

    # -- who reads ------------------------------------------------------------------------

    async def _readers(self, group: str) -> list[_Reader]:
        """Outside forum mode: the operators' group, or every online operator serving
        `group` in their private chat. In forum mode the topic is the place (see callers)."""
        audience = self._audience
        if audience.chat_id is not None:
            return [] if audience.forum else [_Reader(ChatRef(audience.chat_id), audience.language)]
        online = {
            p.operator_id for p in await self._presence.all() if p.state is PresenceState.ONLINE
        }
        async with self._sessions() as session:
            operators = await session.scalars(
                select(Operator)
                .where(Operator.active.is_(True), Operator.telegram_user_id.is_not(None))
                .order_by(Operator.id)
            )
            return [
                _Reader(ChatRef(int(o.telegram_user_id or 0)), o.language)
                for o in operators
                if o.id in online and group in o.group_names
            ]

    async def _holder(self, operator_id: int | None) -> _Reader | None:
        """The operator's private chat, when they use the admin bot."""
        if operator_id is None:
            return None
        async with self._sessions() as session:
            operator = await session.get(Operator, operator_id)
        if operator is None or operator.telegram_user_id is None:
            return None
        return _Reader(ChatRef(operator.telegram_user_id), operator.language)

    async def _operator_name(self, operator_id: object) -> str:
        if not isinstance(operator_id, int):
            return "?"
        async with self._sessions() as session:
            operator = await session.get(Operator, operator_id)
        return operator.name if operator else "?"

    def _topic_name(self, view: ConversationView) -> str:
        return self._topic_name_of(view.id, view.client_name, view.channel)

    def _topic_name_of(self, conversation_id: int, client: str, channel: str) -> str:
        return say(
            "topic_name",
            self._audience.language,
            id=conversation_id,
            client=client,
            channel=channel,
        )
