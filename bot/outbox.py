"""Sending what the engine and the operators decided to say, until it is delivered.

An outbound message is first stored as PENDING in the same unit of work as the decision,
and sent right after the commit. Sends to one chat go out in order; sends to different
chats run side by side. Sent messages are marked SENT in batches: deliveries that finish
while one batch commits go into the next, so a busy gateway commits once per batch, not
once per message.

A send the channel could not make now (network, 5xx, 429, VK 6/9) stays PENDING: its
attempt is counted and its next attempt time set on the project's backoff (`core.retry`),
never sooner than the platform asked. Later replies to the same chat wait behind it, so
the client reads them in order. The sweeper (`sweep`, every few seconds) takes replies
whose time has come — retries, and new ones nobody marked sent within `SEND_LEASE` (the
process died mid-send) — chat by chat in order. Each process renews the lease of the
replies it is sending (`hold_claims`), so a live process's sends are never taken. A permanent failure (blocked bot,
rejected address), or a retry that would fall after the reply's deadline, marks the
message FAILED, records it on the conversation and announces it to the desk.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import enum
import logging
import weakref
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence

from sqlalchemy import bindparam, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.contracts import (
    Action,
    Attachment,
    Button,
    ChannelAdapter,
    ChannelKind,
    DeliveryError,
    DeliveryReceipt,
    OutboundMessage,
)
from core.db import SessionFactory, WriteLock
from core.events import DeskFeed, record
from core.messages import SEND_LEASE
from core.models import Author, Conversation, Delivery, Direction, EventKind, Identity, Message
from core.retry import REPLY_SCHEDULE, Backoff

__all__ = ["DEFAULT_DEADLINE", "Outbox", "claim_due"]

log = logging.getLogger(__name__)
THREAD_DEPTH = 10
LOAD_CHUNK = 500
"""Messages read per query (a long list of pending ones at start-up goes in parts)."""
_PENDING_TO_SEND = (
    select(Message, Conversation, Identity)
    .join(Conversation, Conversation.id == Message.conversation_id)
    .join(Identity, Identity.id == Message.identity_id)
    .where(
        Message.id.in_(bindparam("message_ids", expanding=True)),
        Message.delivery == Delivery.PENDING,
    )
)
"""Built once: every committed run's replies are read back with it (a statement built per
call with an IN list left its bound parameters as cyclic garbage)."""
SWEEP_LIMIT = 1000
"""PENDING messages one sweep looks at (the oldest first)."""
DEFAULT_DEADLINE = dt.timedelta(hours=24)

_Chat = tuple[ChannelKind, str]


class _Outcome(enum.Enum):
    SENT = "sent"
    FAILED = "failed"  # permanent, or past the deadline: the desk was told
    DEFERRED = "deferred"  # a later attempt is scheduled
    WAITING = "waiting"  # an earlier reply to the chat waits for its retry


async def claim_due(
    session: AsyncSession, now: dt.datetime, *, exclude: set[int], limit: int = SWEEP_LIMIT
) -> list[int]:
    """Take the PENDING replies to send now, in order: every pending reply of each chat
    (identity) whose earliest pending reply is due, up to `limit` chats, leaving chats
    this process is sending to (`exclude`). Taking one moves its next attempt
    `SEND_LEASE` ahead, so that nobody else takes it meanwhile; the caller commits.

    On PostgreSQL the rows are locked `FOR UPDATE SKIP LOCKED`: two processes claiming at
    once take disjoint chats, the one whose earliest reply the other holds waits for the
    next sweep."""
    locked = session.get_bind().dialect.name == "postgresql"
    earlier = aliased(Message)
    heads = (
        select(Message.id, Message.identity_id)
        .where(
            Message.delivery == Delivery.PENDING,
            Message.identity_id.is_not(None),  # a reply always has one; without, nowhere to send
            or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now),
            ~exists().where(
                earlier.identity_id == Message.identity_id,
                earlier.delivery == Delivery.PENDING,
                earlier.id < Message.id,
            ),
        )
        .order_by(Message.id)
        .limit(limit)
    )
    if locked:
        heads = heads.with_for_update(skip_locked=True)
    identity_ids = [identity_id for _, identity_id in await session.execute(heads)]
    rows: list[tuple[int, int | None]] = []
    for start in range(0, len(identity_ids), LOAD_CHUNK):
        query = (
            select(Message.id, Message.identity_id)
            .where(
                Message.delivery == Delivery.PENDING,
                Message.identity_id.in_(identity_ids[start : start + LOAD_CHUNK]),
            )
            .order_by(Message.id)
        )
        if locked:
            query = query.with_for_update(skip_locked=True)
        rows += [
            (message_id, identity_id) for message_id, identity_id in await session.execute(query)
        ]
    pending: dict[int | None, list[int]] = {}
    for message_id, identity_id in rows:
        pending.setdefault(identity_id, []).append(message_id)
    taken = sorted(
        message_id
        for ids in pending.values()
        if not any(message_id in exclude for message_id in ids)
        for message_id in ids
    )
    for start in range(0, len(taken), LOAD_CHUNK):
        await session.execute(
            update(Message)
            .where(Message.id.in_(taken[start : start + LOAD_CHUNK]))
            .values(next_attempt_at=now + SEND_LEASE)
        )
    return taken


class Outbox:
    def __init__(
        self,
        sessions: SessionFactory,
        adapters: Mapping[ChannelKind, ChannelAdapter],
        feed: DeskFeed,
        clock: Callable[[], dt.datetime],
        *,
        writes: WriteLock | None = None,
        deadline: dt.timedelta = DEFAULT_DEADLINE,
        schedule: Backoff = REPLY_SCHEDULE,
    ) -> None:
        self._sessions = sessions
        self._writes = writes or contextlib.nullcontext()
        self._adapters = adapters
        self._feed = feed
        self._clock = clock
        self._deadline = deadline
        self._schedule = schedule
        self._chat_locks: weakref.WeakValueDictionary[_Chat, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )  # a chat's lock lives while a send holds or awaits it
        self._held: set[_Chat] = set()
        """Chats with a reply waiting for its retry: new replies to them wait behind it."""
        self._in_flight: set[int] = set()
        """Messages this process is sending now: the sweeper leaves their chats alone."""
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
            self._in_flight.update(i for ids in wanted for i in ids)
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
        """At start-up: send what is due (a dead process's replies once their send lease
        ran out); chats with a reply waiting for its retry keep new replies behind it.
        Replies still within their lease may be another live process's to send: they are
        left to it, or to the sweeper once the lease runs out."""
        self._held.update(await self._waiting_chats())
        sent = await self.sweep()
        if sent:
            log.info("resent %d messages left pending", sent)
        return sent

    async def sweep(self) -> int:
        """One pass of the sweeper: take the replies due (`claim_due`) and send them, chat
        by chat in order; returns how many were taken."""
        try:
            async with self._writes, self._sessions() as session:
                ids = await claim_due(session, self._clock(), exclude=self._in_flight)
                await session.commit()
            self._held.intersection_update(await self._waiting_chats())  # sent elsewhere
        except Exception:
            log.exception("looking for replies to resend failed; trying again at the next sweep")
            return 0
        if not ids:
            return 0
        self._in_flight.update(ids)
        try:
            loaded = await self._load(ids, resent=True)
            chats: dict[_Chat, list[OutboundMessage]] = {}
            for message_id in ids:
                if message_id in loaded:
                    outbound = loaded[message_id]
                    chats.setdefault((outbound.channel, outbound.chat_id), []).append(outbound)
            await asyncio.gather(
                *(self._send_all(outbounds, retrying=True) for outbounds in chats.values())
            )
        finally:
            self._in_flight.difference_update(ids)
        return len(ids)

    async def _waiting_chats(self) -> set[_Chat]:
        """The chats with a reply waiting for its retry, as the database has them."""
        async with self._sessions() as session:
            return {
                (channel, chat)
                for channel, chat in await session.execute(
                    select(Identity.channel, func.coalesce(Identity.chat_id, Identity.external_id))
                    .join(Message, Message.identity_id == Identity.id)
                    .where(Message.delivery == Delivery.PENDING, Message.attempts > 0)
                    .distinct()
                )
            }

    async def run_sweeper(self, every: float) -> None:
        """Sweep every `every` seconds until cancelled."""
        while True:
            await asyncio.sleep(every)
            await self.sweep()

    async def hold_claims(self) -> None:
        """Renew the send lease of every reply this process is sending, every third of
        `SEND_LEASE`, until cancelled (in every process; the sweeper runs in one)."""
        while True:
            await asyncio.sleep(SEND_LEASE.total_seconds() / 3)
            await self.renew_claims()

    async def renew_claims(self) -> int:
        """Move the send lease of the replies this process is sending (waiting for a rate
        limit, retrying in process) `SEND_LEASE` ahead, so that no sweeper takes them while
        this process lives; a later retry time is left as it is. Returns how many."""
        ids = sorted(self._in_flight)
        if not ids:
            return 0
        until = self._clock() + SEND_LEASE
        renewed = 0
        try:
            async with self._writes, self._sessions() as session:
                for start in range(0, len(ids), LOAD_CHUNK):
                    result = await session.execute(
                        update(Message)
                        .where(
                            Message.id.in_(ids[start : start + LOAD_CHUNK]),
                            Message.delivery == Delivery.PENDING,
                            Message.next_attempt_at < until,
                        )
                        .values(next_attempt_at=until)
                        .execution_options(synchronize_session=False)
                    )
                    renewed += int(getattr(result, "rowcount", 0) or 0)
                await session.commit()
        except Exception:  # the lease runs out meanwhile: at worst a sweeper resends
            log.exception("renewing the send lease of %d replies failed", len(ids))
            return 0
        return renewed

    async def _deliver_each(self, sequences: list[list[int]]) -> None:
        ids = [i for seq in sequences for i in seq]
        try:
            loaded = await self._load(ids)
        except BaseException:
            self._in_flight.difference_update(ids)
            raise
        self._in_flight.difference_update(i for i in ids if i not in loaded)
        for seq in sequences:
            self._spawn(self._send_all([loaded[i] for i in seq if i in loaded]))

    async def _load(
        self, message_ids: list[int], *, resent: bool = False
    ) -> dict[int, OutboundMessage]:
        """The PENDING ones among `message_ids`, ready to send; none when the database
        cannot be read (they stay PENDING and the sweeper takes them later). `resent`: tried
        before, maybe got through (the channel skips pieces its ledger knows)."""
        loaded: dict[int, OutboundMessage] = {}
        try:
            async with self._sessions() as session:
                for start in range(0, len(message_ids), LOAD_CHUNK):
                    rows = await session.execute(
                        _PENDING_TO_SEND, {"message_ids": message_ids[start : start + LOAD_CHUNK]}
                    )
                    for row in rows:
                        loaded[row[0].id] = await self._outbound(session, *row, resent=resent)
        except Exception:
            log.exception("reading %d messages to send failed; they stay pending", len(message_ids))
        return loaded

    async def _send_all(self, outbounds: list[OutboundMessage], *, retrying: bool = False) -> None:
        """Send in order. A sweep (`retrying`) stops at a reply that must wait again (the
        rest wait behind it) and frees its chat once everything went out."""
        for index, outbound in enumerate(outbounds):
            try:
                outcome = await self._send(outbound, retrying=retrying)
            except Exception:  # one broken message must not stop the others
                log.exception("delivery of message %s failed unexpectedly", outbound.outbound_id)
                outcome = _Outcome.DEFERRED
            finally:
                self._in_flight.discard(outbound.outbound_id)
            if retrying and outcome is _Outcome.DEFERRED:
                self._in_flight.difference_update(o.outbound_id for o in outbounds[index + 1 :])
                return
        if retrying and outbounds:
            self._held.discard((outbounds[0].channel, outbounds[0].chat_id))

    async def _send(self, outbound: OutboundMessage, *, retrying: bool) -> _Outcome:
        chat = (outbound.channel, outbound.chat_id)
        adapter = self._adapters.get(outbound.channel)
        lock = self._chat_locks.get(chat)
        if lock is None:
            lock = self._chat_locks[chat] = asyncio.Lock()
        async with lock:
            if chat in self._held and not retrying:
                return _Outcome.WAITING  # stays PENDING; the sweeper sends it after the earlier one
            try:
                if adapter is None:
                    raise DeliveryError(
                        f"the {outbound.channel.value} channel is not configured", permanent=True
                    )
                receipt = await adapter.send(outbound)
            except DeliveryError as exc:
                if exc.permanent:
                    await self._failed(outbound.outbound_id, str(exc))
                    return _Outcome.FAILED
                outcome = await self._reschedule(outbound.outbound_id, exc)
                if outcome is _Outcome.DEFERRED:
                    self._held.add(chat)
                return outcome
        self._mark_sent(outbound.outbound_id, receipt)
        return _Outcome.SENT

    async def _reschedule(self, message_id: int, exc: DeliveryError) -> _Outcome:
        """Count the failed attempt and set the next one, on the backoff and never sooner
        than the platform asked; past the reply's deadline it is undelivered."""
        now = self._clock()
        async with self._writes, self._sessions() as session:
            message = await session.get(Message, message_id)
            if message is None:
                return _Outcome.FAILED
            attempts = message.attempts + 1
            wait = max(self._schedule.delay(attempts), exc.retry_after or 0.0)
            next_at = now + dt.timedelta(seconds=wait)
            if next_at > message.created_at + self._deadline:
                hours = self._deadline.total_seconds() / 3600
                error = f"not delivered within {hours:g} h ({attempts} attempts): {exc}"
            else:
                message.attempts, message.next_attempt_at = attempts, next_at
                message.delivery_error = str(exc)
                await session.commit()
                log.warning(
                    "message %s not delivered (%s); attempt %d in %.0f s",
                    message_id,
                    exc,
                    attempts + 1,
                    wait,
                )
                return _Outcome.DEFERRED
        await self._failed(message_id, error)
        return _Outcome.FAILED

    def _mark_sent(self, message_id: int, receipt: DeliveryReceipt) -> None:
        self._sent.append(
            {
                "id": message_id,
                "delivery": Delivery.SENT,
                "delivered_at": self._clock(),
                "channel_message_id": receipt.platform_message_id,
                "next_attempt_at": None,
            }
        )
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
        except Exception:  # still PENDING: the sweeper resends it (the channels dedupe)
            log.exception("marking %d sent messages failed", len(batch))
            return False

    async def _outbound(
        self,
        session: AsyncSession,
        message: Message,
        conversation: Conversation,
        identity: Identity,
        *,
        resent: bool,
    ) -> OutboundMessage:
        buttons = tuple(Button.from_json(b) for b in message.buttons)
        subject = reply_to = answer_to = None
        if identity.channel is ChannelKind.EMAIL:
            answer_to = await session.scalar(  # the Reply-To of the letter this answers
                select(Message.reply_address)
                .where(
                    Message.conversation_id == conversation.id,
                    Message.identity_id == identity.id,
                    Message.direction == Direction.IN,
                    Message.id < message.id,
                )
                .order_by(Message.id.desc())
                .limit(1)
            )
            topic = conversation.subject or ""
            subject = f"Re: {topic} [#{conversation.id}]" if topic else f"[#{conversation.id}]"
            reply_to = tuple(
                await session.scalars(
                    select(Message.channel_message_id)
                    .where(
                        Message.conversation_id == conversation.id,
                        Message.channel == ChannelKind.EMAIL,
                        Message.channel_message_id.is_not(None),
                        Message.id < message.id,
                    )
                    .order_by(Message.id.desc())
                    .limit(THREAD_DEPTH)
                )
            )[::-1]
        return OutboundMessage(
            channel=identity.channel,
            chat_id=answer_to or identity.chat_id or identity.external_id,
            text=message.text,
            outbound_id=message.id,
            buttons=buttons,
            attachments=tuple(Attachment.from_json(a) for a in message.attachments),
            subject=subject,
            reply_to=tuple(x for x in (reply_to or ()) if x),
            conversation_id=conversation.id,
            auto_reply=message.author is Author.BOT,
            request_contact=any(b.action is Action.CONTACT for b in buttons),
            resent=resent,
        )

    async def _failed(self, message_id: int, error: str) -> None:
        log.warning("message %s undelivered: %s", message_id, error)
        async with self._writes, self._sessions() as session:
            message = await session.get(Message, message_id)
            if message is None:
                return
            conversation = await session.get(Conversation, message.conversation_id)
            message.delivery = Delivery.FAILED
            message.delivery_error = error
            message.next_attempt_at = None
            if conversation is not None:
                record(
                    session,
                    conversation,
                    EventKind.UNDELIVERED,
                    self._clock(),
                    operator_id=message.operator_id,
                    message_id=message_id,
                    error=error,
                )
            await session.commit()
        try:
            await self._feed.publish(
                "undelivered",
                message_id=message_id,
                conversation_id=message.conversation_id,
                operator_id=message.operator_id,
                error=error,
            )
        except Exception:  # the event is stored: the desk sees it on its next refresh
            log.exception("telling the desk about undelivered message %s failed", message_id)
