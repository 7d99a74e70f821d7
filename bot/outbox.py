"""Sending what the engine and the operators decided to say, until it is delivered.

An outbound message is first stored as PENDING in the same unit of work as the decision,
and sent right after the commit. Sends to one chat go out in order; sends to different
chats run side by side. Sent messages are marked SENT in batches (`bot.sent_marks`).

A send the channel could not make now stays PENDING with its next attempt scheduled, and
a permanent failure or one past the reply's deadline is recorded and announced to the
desk (`bot.send_failures`). Later replies to a chat with a reply waiting for its retry
wait behind it, so the client reads them in order. The sweeper (`sweeper.sweep`, every few
seconds; `bot.outbox_sweeper`) takes replies whose time has come — retries, and new ones
nobody marked sent within `SEND_LEASE` — chat by chat in order. Each process renews the
lease of the replies it is sending (`claims.hold`; `bot.delivery_claims`, where
`claim_due` is), so a live process's sends are never taken.

`Outbox` is the one object the rest of the project holds: it delivers; the gateway runs its
`sweeper` and its `claims` as background jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import enum
import logging
import weakref
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence

from bot.delivery_claims import DeliveryClaims
from bot.outbox_sweeper import OutboxSweeper
from bot.pending_replies import Chat, read_pending
from bot.send_failures import SendFailures
from bot.sent_marks import SentMarks
from core.contracts import (
    ChannelAdapter,
    ChannelKind,
    DeliveryError,
    DeliveryFault,
    OutboundMessage,
)
from core.db import SessionFactory, WriteLock
from core.events import DeskFeed
from core.retry import REPLY_SCHEDULE, Backoff

__all__ = ["DEFAULT_DEADLINE", "Outbox"]

log = logging.getLogger(__name__)
DEFAULT_DEADLINE = dt.timedelta(hours=24)


class _Outcome(enum.Enum):
    SENT = "sent"
    FAILED = "failed"  # permanent, or past the deadline: the desk was told
    DEFERRED = "deferred"  # a later attempt is scheduled
    WAITING = "waiting"  # an earlier reply to the chat waits for its retry


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
        writes = writes or contextlib.nullcontext()
        self._sessions = sessions
        self._adapters = adapters
        self._chat_locks: weakref.WeakValueDictionary[Chat, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )  # a chat's lock lives while a send holds or awaits it
        self._held: set[Chat] = set()
        """Chats with a reply waiting for its retry: new replies to them wait behind it."""
        self._tasks: set[asyncio.Task[None]] = set()
        self.claims = DeliveryClaims(sessions, clock, writes=writes)
        """The messages this process is sending now (the sweeper leaves their chats alone),
        and their send leases."""
        self.sweeper = OutboxSweeper(sessions, self.claims, held=self._held, resend=self._resend)
        self._sent_marks = SentMarks(sessions, clock, writes=writes, spawn=self._spawn)
        self._failures = SendFailures(
            sessions, feed, clock, writes=writes, deadline=deadline, schedule=schedule
        )

    def submit(self, message_ids: Iterable[int]) -> None:
        """Send in the background, in the given order."""
        self.submit_each([list(message_ids)])

    def submit_each(self, sequences: Iterable[Sequence[int]]) -> None:
        """Send several sequences in the background, side by side, each in its own order;
        the messages of all of them are read in one query (a polled batch's replies)."""
        wanted = [list(ids) for ids in sequences if ids]
        if wanted:
            self.claims.add(i for ids in wanted for i in ids)
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

    async def _deliver_each(self, sequences: list[list[int]]) -> None:
        ids = [i for seq in sequences for i in seq]
        try:
            loaded = await read_pending(self._sessions, ids)
        except BaseException:
            self.claims.release(ids)
            raise
        self.claims.release(i for i in ids if i not in loaded)
        for seq in sequences:
            self._spawn(self._send_all([loaded[i] for i in seq if i in loaded]))

    async def _resend(self, message_ids: list[int]) -> None:
        """Send the replies the sweeper took, chat by chat in order, as resends."""
        self.claims.add(message_ids)
        try:
            loaded = await read_pending(self._sessions, message_ids, resent=True)
            chats: dict[Chat, list[OutboundMessage]] = {}
            for message_id in message_ids:
                if message_id in loaded:
                    outbound = loaded[message_id]
                    chats.setdefault((outbound.channel, outbound.chat_id), []).append(outbound)
            await asyncio.gather(
                *(self._send_all(outbounds, retrying=True) for outbounds in chats.values())
            )
        finally:
            self.claims.release(message_ids)

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
                self.claims.release([outbound.outbound_id])
            if retrying and outcome is _Outcome.DEFERRED:
                self.claims.release(o.outbound_id for o in outbounds[index + 1 :])
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
                        f"the {outbound.channel.value} channel is not configured",
                        permanent=True,
                        fault=DeliveryFault.CONFIGURATION,
                    )
                receipt = await adapter.send(outbound)
            except DeliveryError as exc:
                if exc.permanent:
                    await self._failures.mark_failed(outbound.outbound_id, exc)
                    return _Outcome.FAILED
                if not await self._failures.reschedule(outbound.outbound_id, exc):
                    return _Outcome.FAILED
                self._held.add(chat)
                return _Outcome.DEFERRED
        self._sent_marks.mark(outbound.outbound_id, receipt)
        return _Outcome.SENT
