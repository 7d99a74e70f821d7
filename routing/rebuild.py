"""Rebuild the live queue from the database, the source of truth.

Run at start-up and by `switchboard queue rebuild`. Every conversation the database says
is queued or assigned is restored with its group, priority, deadline and arrival (so the
take order is the same as before Redis lost it); one that was put back at the head of its
group (its latest queue event is an expired lease, or a requeue with `{"head": true}`) is
restored at the head. Reported SLA warnings and breaches are remembered, so the watcher
does not repeat them. Entries Redis holds for conversations the database no longer calls
live are removed. Restoring is idempotent: running it twice changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import keys
from core.db import SessionFactory
from core.models import Conversation, ConversationEvent, ConversationStatus, EventKind
from routing.queue import BY_ORDER, HEAD, OperatorQueue, QueueEntry, as_text, validate_group

__all__ = ["LIVE", "RebuildReport", "entry_for", "rebuild_queue", "restore"]

log = logging.getLogger(__name__)

LIVE = (ConversationStatus.QUEUED, ConversationStatus.ASSIGNED)
#: Events that decide where a waiting conversation stands; the latest one (by id) counts.
PLACING = (
    EventKind.HANDED_OFF,
    EventKind.QUEUED,
    EventKind.REQUEUED,
    EventKind.LEASE_EXPIRED,
    EventKind.TAKEN,
    EventKind.TRANSFERRED,
    EventKind.REOPENED,
)
MARKS = {EventKind.SLA_WARNING: "w", EventKind.SLA_BREACHED: "b"}


@dataclass(frozen=True)
class RebuildReport:
    waiting: int
    assigned: int
    kept: int  # already waiting in the right group: left at its place
    removed: int  # in Redis but closed (or unknown) in the database

    @property
    def restored(self) -> int:
        return self.waiting + self.assigned + self.kept


async def rebuild_queue(
    sessions: SessionFactory,
    queue: OperatorQueue,
    *,
    default_group: str = "support",
    batch: int = 1000,
) -> RebuildReport:
    """Make the live queue agree with the database; see the module docstring."""
    validate_group(default_group)
    # Read Redis first: whatever is enqueued after this read is never removed below.
    before = {int(as_text(v)) for v in await queue.redis.hkeys(keys.queue_order())}
    outcomes = {"waiting": 0, "assigned": 0, "kept": 0}
    live: set[int] = set()
    after_id = 0
    while True:
        async with sessions() as session:
            rows = (
                await session.scalars(
                    select(Conversation)
                    .where(Conversation.status.in_(LIVE), Conversation.id > after_id)
                    .order_by(Conversation.id)
                    .limit(batch)
                )
            ).all()
            if not rows:
                break
            restored = await restore(session, queue, rows, default_group)
        for outcome, conversation_ids in restored.items():
            outcomes[outcome] += len(conversation_ids)
        live.update(c.id for c in rows)
        after_id = rows[-1].id
    stale = sorted(before - live)
    if stale:
        async with queue.redis.pipeline(transaction=False) as pipe:
            for conversation_id in stale:
                await queue.call("remove", conversation_id, client=pipe)
            await pipe.execute()
    return RebuildReport(outcomes["waiting"], outcomes["assigned"], outcomes["kept"], len(stale))


async def restore(
    session: AsyncSession,
    queue: OperatorQueue,
    rows: Sequence[Conversation],
    default_group: str = "support",
) -> dict[str, list[int]]:
    """Put these live conversations into Redis as the database has them (waiting where
    their latest placing event says, or held by their operator); the conversation ids by
    outcome: "waiting", "assigned", or "kept" (already waiting in the right group)."""
    events = (
        await session.execute(
            select(
                ConversationEvent.conversation_id, ConversationEvent.kind, ConversationEvent.data
            )
            .where(
                ConversationEvent.conversation_id.in_([c.id for c in rows]),
                ConversationEvent.kind.in_(PLACING + tuple(MARKS)),
            )
            .order_by(ConversationEvent.id)
        )
    ).all()
    lanes, marks = _lanes_and_marks(events)
    lease_until = queue.lease_until()
    async with queue.redis.pipeline(transaction=False) as pipe:
        for conversation in rows:
            entry = entry_for(conversation, default_group)
            holder = (
                conversation.assigned_operator_id
                if conversation.status == ConversationStatus.ASSIGNED
                else None
            )
            if holder is None and conversation.status == ConversationStatus.ASSIGNED:
                log.warning(
                    "conversation %s is assigned to nobody; restoring it as waiting",
                    conversation.id,
                )
            await queue.call(
                "restore",
                entry.conversation_id,
                entry.order_key(lanes.get(conversation.id, BY_ORDER)),
                entry.details(),
                "" if holder is None else holder,
                lease_until,
                marks.get(conversation.id, ""),
                client=pipe,
            )
        results = await pipe.execute()
    restored: dict[str, list[int]] = {"waiting": [], "assigned": [], "kept": []}
    for conversation, outcome in zip(rows, results, strict=True):
        restored[as_text(outcome)].append(conversation.id)
    return restored


def _lanes_and_marks(
    events: Sequence[tuple[int, EventKind, Any]],
) -> tuple[dict[int, str], dict[int, str]]:
    lanes: dict[int, str] = {}
    marks: dict[int, str] = {}
    for conversation_id, kind, data in events:
        if kind in MARKS:
            if marks.get(conversation_id) != "b":
                marks[conversation_id] = MARKS[kind]
            continue
        head = kind == EventKind.LEASE_EXPIRED or (
            kind == EventKind.REQUEUED and isinstance(data, dict) and bool(data.get("head"))
        )
        lanes[conversation_id] = HEAD if head else BY_ORDER
    return lanes, marks


def entry_for(conversation: Conversation, default_group: str = "support") -> QueueEntry:
    """The queue entry a stored conversation stands for (the engine enqueues this too)."""
    group = conversation.group or default_group
    try:
        validate_group(group)
    except ValueError:
        log.warning(
            "conversation %s has an invalid group %r; restoring it in %r",
            conversation.id,
            group,
            default_group,
        )
        group = default_group
    arrival = conversation.queued_at or conversation.created_at
    return QueueEntry(
        conversation_id=conversation.id,
        group=group,
        priority=min(9, max(1, conversation.priority or 1)),
        # no deadline recorded: due at once rather than never
        deadline=conversation.sla_deadline or arrival,
        enqueued_at=arrival,
        client_id=conversation.client_id,
        channel=conversation.last_channel.value,
        category=conversation.category,
    )
