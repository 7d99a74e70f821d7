"""Prometheus `/metrics`: live desk figures, computed from the database and the queue at
scrape time, never kept in process memory (so every gateway process reports the same).

The registry belongs to one `DeskMetrics` (one per app instance, never the global
default). Counters are counts of stored facts — messages by channel and direction, bot
answers, hand-offs, SLA breaches, replies given up as undelivered by fault — so they
survive restarts and agree across processes. Gauges: queue length and oldest waiting age
per group (the Redis queue when given, otherwise the conversations queued in the
database), conversations by status, replies waiting for a retry by channel.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from redis.exceptions import RedisError
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from core.contracts import ChannelKind
from core.db import SessionFactory
from core.models import (
    Conversation,
    ConversationEvent,
    ConversationStatus,
    Delivery,
    EventKind,
    Message,
    OperatorGroup,
    utcnow,
)

__all__ = ["DeskMetrics", "MetricsSnapshot", "RepairCounts", "WaitingQueue", "metrics_handler"]

log = logging.getLogger(__name__)


class WaitingEntry(Protocol):
    @property
    def group(self) -> str: ...

    @property
    def enqueued_at(self) -> dt.datetime: ...


class WaitingQueue(Protocol):
    """The part of routing's OperatorQueue the metrics read."""

    async def waiting(self, group: str | None = None) -> Sequence[WaitingEntry]: ...


@dataclass(frozen=True, slots=True)
class _Waiting:
    group: str
    enqueued_at: dt.datetime


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    queue_length: dict[str, int] = field(default_factory=dict)
    oldest_wait_seconds: dict[str, float] = field(default_factory=dict)
    conversations: dict[str, int] = field(default_factory=dict)
    messages: dict[tuple[str, str], int] = field(default_factory=dict)
    bot_answers: int = 0
    handoffs: dict[str, int] = field(default_factory=dict)
    sla_breaches: dict[str, int] = field(default_factory=dict)
    queue_repairs: dict[str, int] = field(default_factory=dict)
    undelivered: dict[str, int] = field(default_factory=dict)
    awaiting_retry: dict[str, int] = field(default_factory=dict)


class _SnapshotCollector:
    """Hands the registry the snapshot taken just before `generate_latest`."""

    def __init__(self) -> None:
        self.snapshot = MetricsSnapshot()

    def collect(self) -> Iterator[Metric]:
        s = self.snapshot
        yield _family(
            GaugeMetricFamily,
            "switchboard_queue_length",
            "Conversations waiting in the operator queue",
            "group",
            s.queue_length,
        )
        yield _family(
            GaugeMetricFamily,
            "switchboard_queue_oldest_wait_seconds",
            "How long the longest-waiting conversation has waited",
            "group",
            s.oldest_wait_seconds,
            every=s.queue_length,
        )
        yield _family(
            GaugeMetricFamily,
            "switchboard_conversations",
            "Conversations by status",
            "status",
            s.conversations,
            every=[status.value for status in ConversationStatus],
        )
        messages = CounterMetricFamily(
            "switchboard_messages",
            "Messages stored, by channel and direction",
            labels=["channel", "direction"],
        )
        for (channel, direction), n in sorted(s.messages.items()):
            messages.add_metric([channel, direction], n)
        yield messages
        answers = CounterMetricFamily(
            "switchboard_bot_answers", "Answers the bot gave from the knowledge base"
        )
        answers.add_metric([], s.bot_answers)
        yield answers
        yield _family(
            CounterMetricFamily,
            "switchboard_handoffs",
            "Conversations handed to operators, by reason",
            "reason",
            s.handoffs,
        )
        yield _family(
            CounterMetricFamily,
            "switchboard_sla_breaches",
            "First responses that missed the SLA",
            "group",
            s.sla_breaches,
        )
        yield _family(
            CounterMetricFamily,
            "switchboard_queue_repairs",
            "Differences between the live queue and the database "
            "that the reconciler repaired, by kind (added, removed)",
            "kind",
            s.queue_repairs,
        )
        yield _family(
            CounterMetricFamily,
            "switchboard_undelivered",
            "Replies given up as undelivered, by fault (recipient, content, file, "
            "configuration, unreachable)",
            "fault",
            s.undelivered,
        )
        yield _family(
            GaugeMetricFamily,
            "switchboard_replies_awaiting_retry",
            "Replies a send failed for a passing reason, waiting for their next attempt",
            "channel",
            s.awaiting_retry,
            every=[channel.value for channel in ChannelKind],
        )


async def _events_by(session: AsyncSession, kind: EventKind, key: str) -> dict[str, int]:
    """Events of `kind` counted by the value of their `key` ("unknown" where it is none)."""
    value = ConversationEvent.data[key].as_string()
    return {
        str(found or "unknown"): n
        for found, n in await session.execute(
            select(value, func.count()).where(ConversationEvent.kind == kind).group_by(value)
        )
    }


def _family(
    kind: type[CounterMetricFamily] | type[GaugeMetricFamily],
    name: str,
    documentation: str,
    label: str,
    values: Mapping[str, float],
    *,
    every: Iterable[str] | None = None,
) -> Metric:
    """One metric with one label, a sample per value in the label's order; with `every`,
    a sample for each of those labels (0 where `values` has none) and only those."""
    family = kind(name, documentation, labels=[label])
    shown = values if every is None else {key: values.get(key, 0) for key in every}
    for key, value in sorted(shown.items()):
        family.add_metric([key], value)
    return family


RepairCounts = Callable[[], Awaitable[Mapping[str, int]]]
"""The queue reconciler's repairs so far, by kind (kept in Redis, shared by the processes)."""


class DeskMetrics:
    def __init__(
        self,
        sessions: SessionFactory,
        *,
        queue: WaitingQueue | None = None,
        repairs: RepairCounts | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._queue = queue
        self._repairs = repairs
        self._clock = clock
        self._collector = _SnapshotCollector()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self._collector)

    async def snapshot(self) -> MetricsSnapshot:
        now = self._clock()
        async with self._sessions() as session:
            groups = set(await session.scalars(select(OperatorGroup.group).distinct()))
            statuses = {
                status.value: n
                for status, n in await session.execute(
                    select(Conversation.status, func.count()).group_by(Conversation.status)
                )
            }
            messages = {
                (channel.value, direction.value): n
                for channel, direction, n in await session.execute(
                    select(Message.channel, Message.direction, func.count())
                    .where(Message.private.is_(False))
                    .group_by(Message.channel, Message.direction)
                )
            }
            answers = (
                await session.scalar(
                    select(func.count()).where(ConversationEvent.kind == EventKind.BOT_ANSWERED)
                )
                or 0
            )
            handoffs = await _events_by(session, EventKind.HANDED_OFF, "reason")
            breaches = {
                group or "": n
                for group, n in await session.execute(
                    select(ConversationEvent.group, func.count())
                    .where(ConversationEvent.kind == EventKind.SLA_BREACHED)
                    .group_by(ConversationEvent.group)
                )
            }
            undelivered = await _events_by(session, EventKind.UNDELIVERED, "fault")
            awaiting_retry = {
                channel.value: n
                for channel, n in await session.execute(
                    select(Message.channel, func.count())
                    .where(Message.delivery == Delivery.PENDING, Message.attempts > 0)
                    .group_by(Message.channel)
                )
            }
            if self._queue is None:
                waiting: Sequence[WaitingEntry] = [
                    _Waiting(group or "", queued_at or now)
                    for group, queued_at in await session.execute(
                        select(Conversation.group, Conversation.queued_at).where(
                            Conversation.status == ConversationStatus.QUEUED
                        )
                    )
                ]
        if self._queue is not None:
            waiting = await self._queue.waiting()
        repairs = dict(await self._repairs()) if self._repairs is not None else {}
        length: Counter[str] = Counter(dict.fromkeys(groups, 0))
        oldest: dict[str, float] = dict.fromkeys(groups, 0.0)
        for entry in waiting:
            length[entry.group] += 1
            oldest[entry.group] = max(
                oldest.get(entry.group, 0.0), (now - entry.enqueued_at).total_seconds()
            )
        return MetricsSnapshot(
            dict(length),
            oldest,
            statuses,
            messages,
            answers,
            handoffs,
            breaches,
            repairs,
            undelivered,
            awaiting_retry,
        )

    async def render(self) -> bytes:
        snapshot = await self.snapshot()
        self._collector.snapshot = snapshot  # no await between this and the render below
        return generate_latest(self.registry)


def metrics_handler(
    sessions: SessionFactory,
    *,
    queue: WaitingQueue | None = None,
    repairs: RepairCounts | None = None,
    clock: Callable[[], dt.datetime] = utcnow,
    token: str | None = None,
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The aiohttp handler for GET /metrics, with its own registry; with `token`, only a
    scraper sending `Authorization: Bearer <token>` is answered."""
    metrics = DeskMetrics(sessions, queue=queue, repairs=repairs, clock=clock)
    expected = f"Bearer {token}".encode() if token else None

    async def handle(request: web.Request) -> web.StreamResponse:
        given = request.headers.get("Authorization", "").encode()
        if expected is not None and not hmac.compare_digest(given, expected):
            return web.Response(
                status=401,
                text="metrics need a bearer token\n",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        try:
            body = await metrics.render()
        except (SQLAlchemyError, RedisError) as exc:
            log.warning("metrics scrape failed: %s", exc)
            return web.Response(status=503, text="metrics unavailable: storage not reachable\n")
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    return handle
