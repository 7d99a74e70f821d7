"""Sending what the engine and the operators decided to say.

An outbound message is first stored as PENDING in the same unit of work as the decision,
and only sent after the commit; a crash between the two leaves it PENDING, and
`resend_pending` sends it at the next start. Sends to one chat go out in order; sends to
different chats run side by side. Sent messages are marked SENT in batches: deliveries that
finish while one batch commits go into the next, so a busy gateway commits once per batch,
not once per message. A message the channel gives up on is marked FAILED, recorded on the
conversation and announced to the desk.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import weakref
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.contracts import (Action, Attachment, Button, ChannelAdapter, ChannelKind, DeliveryError,
                           DeliveryReceipt, OutboundMessage)
from core.db import SessionFactory, WriteLock
from core.events import DeskFeed, record
from core.models import Author, Conversation, Delivery, Direction, EventKind, Identity, Message

__all__ = ["Outbox"]

log = logging.getLogger(__name__)
THREAD_DEPTH = 10
LOAD_CHUNK = 500
"""Messages read per query (a long list of pending ones at start-up goes in parts)."""


class Outbox:
    def __init__(self, sessions: SessionFactory, adapters: Mapping[ChannelKind, ChannelAdapter],
                 feed: DeskFeed, clock: Callable[[], dt.datetime], *,
                 writes: WriteLock | None = None) -> None:
        self._sessions = sessions
        self._writes = writes or contextlib.nullcontext()
        self._adapters = adapters
        self._feed = feed
        self._clock = clock
        self._chat_locks: weakref.WeakValueDictionary[tuple[ChannelKind, str], asyncio.Lock] = \
            weakref.WeakValueDictionary()  # a chat's lock lives while a send holds or awaits it
        self._tasks: set[asyncio.Task[None]] = set()
        self._sent: list[dict[str, object]] = []
        self._marking: asyncio.Task[None] | None = None

    def submit(self, message_ids: Iterable[int]) -> None:
        """Send in the background, in the given order."""
        self.submit_each([list(message_ids)])

    def submit_each(self, sequences: Iterable[Sequence[int]]) -> None:
        """Send several sequences in the background, side by side, each in its own order;
        the messages of all of them are read in one query (a polled batch's replies)."""
        wanted = [list(ids) for ids in sequences if ids]
        if wanted:
            self._spawn(self._deliver_each(wanted))

    def _spawn(self, work: Coroutine[object, object, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self) -> None:
        """Wait until everything submitted so far has been tried."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def resend_pending(self) -> int:
        async with self._sessions() as session:
            ids = list(await session.scalars(
                select(Message.id).where(Message.delivery == Delivery.PENDING).order_by(Message.id)))
        if ids:
            log.info("resending %d messages left pending by the last run", len(ids))
            loaded = await self._load(ids, resent=True)
            await self._send_all([loaded[i] for i in ids if i in loaded])
        return len(ids)

    async def _deliver_each(self, sequences: list[list[int]]) -> None:
        loaded = await self._load([i for ids in sequences for i in ids])
        for ids in sequences:
            self._spawn(self._send_all([loaded[i] for i in ids if i in loaded]))

    async def _load(self, message_ids: list[int], *, resent: bool = False
                    ) -> dict[int, OutboundMessage]:
        """The PENDING ones among `message_ids`, ready to send; none when the database
        cannot be read (they stay PENDING and are resent at the next start). `resent`: left
        pending by an earlier run, which may have got them through."""
        loaded: dict[int, OutboundMessage] = {}
        try:
            async with self._sessions() as session:
                for start in range(0, len(message_ids), LOAD_CHUNK):
                    rows = await session.execute(
                        select(Message, Conversation, Identity)
                        .join(Conversation, Conversation.id == Message.conversation_id)
                        .join(Identity, Identity.id == Message.identity_id)
                        .where(Message.id.in_(message_ids[start:start + LOAD_CHUNK]),
                               Message.delivery == Delivery.PENDING))
                    for row in rows:
                        loaded[row[0].id] = await self._outbound(session, *row, resent=resent)
        except Exception:
            log.exception("reading %d messages to send failed; they stay pending", len(message_ids))
        return loaded

    async def _send_all(self, outbounds: list[OutboundMessage]) -> None:
        for outbound in outbounds:
            try:
                await self._send(outbound)
            except Exception:  # one broken message must not stop the others
                log.exception("delivery of message %s failed unexpectedly", outbound.outbound_id)

    async def _send(self, outbound: OutboundMessage) -> None:
        adapter = self._adapters.get(outbound.channel)
        lock = self._chat_locks.get((outbound.channel, outbound.chat_id))
        if lock is None:
            lock = self._chat_locks[(outbound.channel, outbound.chat_id)] = asyncio.Lock()
        async with lock:
            try:
                if adapter is None:
                    raise DeliveryError(f"the {outbound.channel.value} channel is not configured",
                                        permanent=True)
                receipt = await adapter.send(outbound)
            except DeliveryError as exc:
                await self._failed(outbound.outbound_id, str(exc))
                return
        self._mark_sent(outbound.outbound_id, receipt)

    def _mark_sent(self, message_id: int, receipt: DeliveryReceipt) -> None:
        self._sent.append({"id": message_id, "delivery": Delivery.SENT, "delivered_at": self._clock(),
                           "channel_message_id": receipt.platform_message_id})
        if self._marking is None:
            self._marking = self._spawn(self._write_sent())

    async def _write_sent(self) -> None:
        try:
            while self._sent:
                batch, self._sent = self._sent, []
                if not await self._write_batch(batch) and len(batch) > 1:
                    for row in batch:  # one bad row must not keep the others PENDING
                        await self._write_batch([row])
        finally:
            self._marking = None

    async def _write_batch(self, batch: list[dict[str, object]]) -> bool:
        try:
            async with self._writes, self._sessions() as session:
                await session.execute(update(Message), batch)
                await session.commit()
            return True
        except Exception:  # still PENDING: resent at the next start (channels dedupe)
            log.exception("marking %d sent messages failed", len(batch))
            return False

    async def _outbound(self, session: AsyncSession, message: Message, conversation: Conversation,
                        identity: Identity, *, resent: bool) -> OutboundMessage:
        buttons = tuple(Button.from_json(b) for b in message.buttons)
        subject = reply_to = answer_to = None
        if identity.channel is ChannelKind.EMAIL:
            answer_to = await session.scalar(  # the Reply-To of the letter this answers
                select(Message.reply_address)
                .where(Message.conversation_id == conversation.id,
                       Message.identity_id == identity.id, Message.direction == Direction.IN,
                       Message.id < message.id)
                .order_by(Message.id.desc()).limit(1))
            topic = conversation.subject or ""
            subject = f"Re: {topic} [#{conversation.id}]" if topic else f"[#{conversation.id}]"
            reply_to = tuple(await session.scalars(
                select(Message.channel_message_id)
                .where(Message.conversation_id == conversation.id, Message.channel == ChannelKind.EMAIL,
                       Message.channel_message_id.is_not(None), Message.id < message.id)
                .order_by(Message.id.desc()).limit(THREAD_DEPTH)))[::-1]
        return OutboundMessage(
            channel=identity.channel, chat_id=answer_to or identity.chat_id or identity.external_id,
            text=message.text, outbound_id=message.id, buttons=buttons,
            attachments=tuple(Attachment.from_json(a) for a in message.attachments),
            subject=subject, reply_to=tuple(x for x in (reply_to or ()) if x),
            conversation_id=conversation.id, auto_reply=message.author is Author.BOT,
            request_contact=any(b.action is Action.CONTACT for b in buttons), resent=resent,
        )

    async def _failed(self, message_id: int, error: str) -> None:
        log.warning("message %s undelivered: %s", message_id, error)
        async with self._sessions() as session:
            message = await session.get(Message, message_id)
            if message is None:
                return
            conversation = await session.get(Conversation, message.conversation_id)
            message.delivery = Delivery.FAILED
            message.delivery_error = error
            if conversation is not None:
                record(session, conversation, EventKind.UNDELIVERED, self._clock(),
                       operator_id=message.operator_id, message_id=message_id, error=error)
            await session.commit()
        await self._feed.publish("undelivered", message_id=message_id,
                                 conversation_id=message.conversation_id,
                                 operator_id=message.operator_id, error=error)
