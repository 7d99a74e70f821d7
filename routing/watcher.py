"""The SLA watcher: a background task that keeps the desk's promises visible.

Every `interval` seconds it returns expired leases to the head of their group, warns about
waiting conversations that will breach within `warn_before`, and records breaches. Each
finding becomes a `ConversationEvent` (LEASE_EXPIRED / SLA_WARNING / SLA_BREACHED) and a
call on the `DeskNotifier` that `admin/` implements. A warning or a breach is recorded and
reported once per conversation: Redis marks it atomically, and the database is checked as
well, so a rebuilt queue does not repeat itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select

from core.contracts import ChannelKind
from core.db import SessionFactory
from core.lifecycle import guarded_update
from core.models import Conversation, ConversationEvent, ConversationStatus, EventKind
from routing.queue import OperatorQueue, QueueEntry, Reclaimed

__all__ = ["DeskNotifier", "SlaWatcher", "WatchReport"]

log = logging.getLogger(__name__)


class DeskNotifier(Protocol):
    """How the watcher tells the operators' side; implemented in `admin/`."""

    async def sla_warning(self, entry: QueueEntry) -> None: ...

    async def sla_breached(self, entry: QueueEntry) -> None: ...

    async def lease_expired(self, entry: QueueEntry, operator_id: int | None) -> None: ...


@dataclass(frozen=True)
class WatchReport:
    """What one pass found and recorded (warnings and breaches: only those new to the DB)."""

    warnings: list[QueueEntry]
    breaches: list[QueueEntry]
    expired: list[Reclaimed]


def _channel(value: str) -> ChannelKind | None:
    try:
        return ChannelKind(value)
    except ValueError:
        return None


class SlaWatcher:
    def __init__(
        self,
        queue: OperatorQueue,
        sessions: SessionFactory,
        notifier: DeskNotifier,
        *,
        warn_before: dt.timedelta = dt.timedelta(minutes=15),
        interval: float = 15.0,
        late: Callable[[QueueEntry], Awaitable[None]] | None = None,
    ) -> None:
        """`late` hears of each breach after the desk (the bot's apology to the client)."""
        self.queue = queue
        self.sessions = sessions
        self.notifier = notifier
        self.late = late
        self.warn_before = warn_before
        self.interval = interval
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self.running:
            return
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="sla-watcher")

    async def stop(self, timeout: float = 10.0) -> None:
        """Finish the pass under way (its records are written whole), then stop."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if not done:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.run_once()
            except Exception:  # a Redis or database hiccup must not end the watch
                log.exception("SLA watcher pass failed; retrying in %.0f s", self.interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)

    async def run_once(self, now: dt.datetime | None = None) -> WatchReport:
        """One pass: reclaim expired leases, scan deadlines, record, then notify."""
        now = now or self.queue.clock()
        expired = await self.queue.reclaim_expired(now)
        found = await self.queue.scan_sla(now, self.warn_before)
        # The queue has already moved; the records must be written whole even if cancelled.
        report = await asyncio.shield(self._record(now, expired, found.warnings, found.breaches))
        for reclaimed in report.expired:
            await self._notify(self.notifier.lease_expired, reclaimed.entry, reclaimed.operator_id)
        for entry in report.warnings:
            await self._notify(self.notifier.sla_warning, entry)
        for entry in report.breaches:
            await self._notify(self.notifier.sla_breached, entry)
            if self.late is not None:
                await self._notify(self.late, entry)
        return report

    async def _record(
        self,
        now: dt.datetime,
        expired: list[Reclaimed],
        warnings: list[QueueEntry],
        breaches: list[QueueEntry],
    ) -> WatchReport:
        ids = {r.entry.conversation_id for r in expired}
        ids |= {e.conversation_id for e in warnings + breaches}
        if not ids:
            return WatchReport([], [], [])
        async with self.sessions() as session, session.begin():
            known = set(
                (
                    await session.scalars(select(Conversation.id).where(Conversation.id.in_(ids)))
                ).all()
            )
            recorded = {
                (row.conversation_id, row.kind)
                for row in (
                    await session.execute(
                        select(ConversationEvent.conversation_id, ConversationEvent.kind).where(
                            ConversationEvent.conversation_id.in_(ids),
                            ConversationEvent.kind.in_(
                                [EventKind.SLA_WARNING, EventKind.SLA_BREACHED]
                            ),
                        )
                    )
                ).all()
            }
            for gone in ids - known:
                log.warning(
                    "conversation %s is in the queue but not in the database; "
                    "run `switchboard queue rebuild`",
                    gone,
                )
            for reclaimed in expired:
                entry, holder = reclaimed.entry, reclaimed.operator_id
                if entry.conversation_id not in known:
                    continue
                back = guarded_update(
                    ConversationStatus.QUEUED,
                    EventKind.LEASE_EXPIRED,
                    assigned_operator_id=None,
                    updated_at=now,
                ).where(Conversation.id == entry.conversation_id)
                if holder is not None:
                    back = back.where(Conversation.assigned_operator_id == holder)
                await session.execute(back)
                session.add(self._event(entry, EventKind.LEASE_EXPIRED, now, holder, head=True))
            fresh: dict[EventKind, list[QueueEntry]] = {}
            for kind, entries in (
                (EventKind.SLA_WARNING, warnings),
                (EventKind.SLA_BREACHED, breaches),
            ):
                fresh[kind] = self._new(entries, kind, known, recorded)
                for entry in fresh[kind]:
                    session.add(
                        self._event(entry, kind, now, None, deadline=entry.deadline.isoformat())
                    )
        return WatchReport(
            fresh[EventKind.SLA_WARNING],
            fresh[EventKind.SLA_BREACHED],
            [r for r in expired if r.entry.conversation_id in known],
        )

    @staticmethod
    def _new(
        entries: Sequence[QueueEntry],
        kind: EventKind,
        known: set[int],
        recorded: set[tuple[int, EventKind]],
    ) -> list[QueueEntry]:
        return [
            e
            for e in entries
            if e.conversation_id in known and (e.conversation_id, kind) not in recorded
        ]

    @staticmethod
    def _event(
        entry: QueueEntry,
        kind: EventKind,
        now: dt.datetime,
        operator_id: int | None,
        **data: object,
    ) -> ConversationEvent:
        return ConversationEvent(
            conversation_id=entry.conversation_id,
            kind=kind,
            at=now,
            operator_id=operator_id,
            channel=_channel(entry.channel),
            category=entry.category,
            group=entry.group,
            data=data,
        )

    @staticmethod
    async def _notify(call: Callable[..., Awaitable[None]], *args: object) -> None:
        try:
            await call(*args)
        except Exception:  # the desk's notification failing must not stop the watch
            log.exception("desk notification %s failed", getattr(call, "__name__", call))
