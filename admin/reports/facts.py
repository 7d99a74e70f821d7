"""Read one period's conversations and their events from the database into plain facts.

Nothing here is stored a second time: each report re-reads `conversations`,
`conversation_events`, `clients` and `operators`, so a figure can be recomputed for any
period. A conversation is loaded when it has an event inside the period, or is still
open and started before the period's end (its operator time or unanswered deadline may
fall inside). Merged-away conversations are skipped: their survivor carries them.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.reports.period import Period
from core.models import (
    Client,
    Conversation,
    ConversationEvent,
    ConversationStatus,
    EventKind,
    KbArticle,
    Operator,
)

__all__ = ["ArticleAnswers", "ConversationFacts", "Holding", "PeriodFacts", "load_facts"]

SETTLE_WINDOW = dt.timedelta(hours=2)
HOLDING_ENDS = {
    EventKind.CLOSED,
    EventKind.TRANSFERRED,
    EventKind.REQUEUED,
    EventKind.LEASE_EXPIRED,
    EventKind.TAKEN,
}


@dataclass(frozen=True, slots=True)
class Holding:
    """An operator holding a conversation: from TAKEN to the next close, transfer, requeue
    or lease expiry; `end` is None while it is still held."""

    operator_id: int
    start: dt.datetime
    end: dt.datetime | None


@dataclass(frozen=True, slots=True)
class ConversationFacts:
    id: int
    client_id: int
    client_label: str
    tier: str
    channel: str
    category: str | None
    group: str | None
    operator_id: int | None
    created_at: dt.datetime
    handed_off: bool  # reached the queue and was not taken off it by its client
    queued_at: dt.datetime | None
    deadline: dt.datetime | None
    first_response_at: dt.datetime | None
    closed_at: dt.datetime | None
    closed_by_operator: bool
    reopened: bool
    rating: int | None
    recontacted: bool
    holdings: tuple[Holding, ...]
    bot_answered_at: dt.datetime | None = None  # the bot's last answer here
    bot_settles_at: dt.datetime | None = None  # then, unless the client comes back, settled


@dataclass(frozen=True, slots=True)
class ArticleAnswers:
    article_id: str
    title: str
    answers: int


@dataclass(frozen=True, slots=True)
class PeriodFacts:
    conversations: tuple[ConversationFacts, ...]
    operator_names: dict[int, str]
    top_articles: tuple[ArticleAnswers, ...]


def _parse_deadline(data: dict[str, Any] | None) -> dt.datetime | None:
    raw = (data or {}).get("deadline")
    if not isinstance(raw, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _holdings(events: list[ConversationEvent]) -> tuple[Holding, ...]:
    held: list[Holding] = []
    current: tuple[int, dt.datetime] | None = None
    for event in events:
        if current is not None and event.kind in HOLDING_ENDS:
            held.append(Holding(current[0], current[1], event.at))
            current = None
        if event.kind is EventKind.TAKEN and event.operator_id is not None:
            current = (event.operator_id, event.at)
    if current is not None:
        held.append(Holding(current[0], current[1], None))
    return tuple(held)


def _rating(events: list[ConversationEvent], column: int | None) -> int | None:
    for event in reversed(events):
        if event.kind is EventKind.RATED:
            value = (event.data or {}).get("rating")
            if isinstance(value, int) and 1 <= value <= 5:
                return value
    return column


def _facts(
    conversation: Conversation,
    client: Client,
    events: list[ConversationEvent],
    recontacted: bool,
    settle_window: dt.timedelta,
) -> ConversationFacts:
    first: dict[EventKind, ConversationEvent] = {}
    last: dict[EventKind, ConversationEvent] = {}
    for event in events:
        first.setdefault(event.kind, event)
        last[event.kind] = event
    created = first.get(EventKind.CREATED)
    queued = first.get(EventKind.QUEUED)
    answered = next(
        (
            e
            for e in events
            if e.kind is EventKind.FIRST_RESPONSE and (queued is None or e.at >= queued.at)
        ),
        None,
    )
    closed = last.get(EventKind.CLOSED)
    bot = last.get(EventKind.BOT_ANSWERED)
    if closed is not None and any(
        e.kind is EventKind.REOPENED and e.at > closed.at for e in events
    ):
        closed = None  # reopened after its last close: open again
    holdings = _holdings(events)
    operator_id = (
        closed.operator_id
        if closed is not None and closed.operator_id is not None
        else holdings[-1].operator_id
        if holdings
        else conversation.assigned_operator_id
    )
    deadline = _parse_deadline(queued.data) if queued is not None else None
    channel = (
        created.channel
        if created is not None and created.channel is not None
        else conversation.last_channel
    )
    return ConversationFacts(
        id=conversation.id,
        client_id=client.id,
        client_label=f"#{client.id} {client.display_name}"
        if client.display_name
        else f"#{client.id}",
        tier=client.tier.value,
        channel=channel.value,
        category=conversation.category,
        group=conversation.group,
        operator_id=operator_id,
        created_at=created.at if created is not None else conversation.created_at,
        handed_off=EventKind.HANDED_OFF in first and not _settled_in_queue(first, closed, bot),
        queued_at=queued.at if queued is not None else None,
        deadline=deadline or (conversation.sla_deadline if queued is not None else None),
        first_response_at=answered.at if answered is not None else None,
        closed_at=closed.at if closed is not None else None,
        closed_by_operator=closed is not None
        and (closed.operator_id is not None or (closed.data or {}).get("by") == "operator"),
        reopened=EventKind.REOPENED in first,
        rating=_rating(events, conversation.rating),
        recontacted=recontacted,
        holdings=holdings,
        bot_answered_at=bot.at if bot is not None else None,
        bot_settles_at=bot.at + settle_window if bot is not None else None,
    )


def _settled_in_queue(
    first: Mapping[EventKind, ConversationEvent],
    closed: ConversationEvent | None,
    bot: ConversationEvent | None,
) -> bool:
    """Its client took the question off the queue after the bot answered there («Вопрос
    решён»): it never reached a person, the bot settled it. One taken off with no such
    answer («разобрался сам») was handed off all the same."""
    handed = first.get(EventKind.HANDED_OFF)
    return (
        closed is not None
        and (closed.data or {}).get("by") == "client"
        and handed is not None
        and bot is not None
        and bot.id > handed.id
    )


def _recontacted(
    conversation: Conversation,
    closed_at: dt.datetime | None,
    later: list[Conversation],
    window: dt.timedelta,
) -> bool:
    """Did the same client come back on the same topic within the window after closing?
    A conversation without a category counts any return as the same topic."""
    if closed_at is None:
        return False
    return any(
        other.id != conversation.id
        and closed_at < other.created_at <= closed_at + window
        and (conversation.category is None or other.category == conversation.category)
        for other in later
    )


async def load_facts(
    session: AsyncSession,
    period: Period,
    *,
    recontact_days: int,
    settle_window: dt.timedelta = SETTLE_WINDOW,
) -> PeriodFacts:
    """`settle_window`: how long a client stays silent after the bot's answer before the
    bot counts as having settled it (the desk's idle close)."""
    in_period = select(ConversationEvent.conversation_id).where(
        ConversationEvent.at >= period.start, ConversationEvent.at < period.end
    )
    relevant = select(Conversation.id).where(
        Conversation.merged_into_id.is_(None),
        or_(
            Conversation.id.in_(in_period),
            (Conversation.status != ConversationStatus.CLOSED)
            & (Conversation.created_at < period.end),
        ),
    )
    rows = (
        await session.execute(
            select(Conversation, Client)
            .join(Client, Client.id == Conversation.client_id)
            .where(Conversation.id.in_(relevant))
            .order_by(Conversation.id)
        )
    ).all()
    events: dict[int, list[ConversationEvent]] = defaultdict(list)
    for event in await session.scalars(
        select(ConversationEvent)
        .where(ConversationEvent.conversation_id.in_(relevant))
        .order_by(ConversationEvent.at, ConversationEvent.id)
    ):
        events[event.conversation_id].append(event)
    window = dt.timedelta(days=recontact_days)
    clients = select(Conversation.client_id).where(Conversation.id.in_(relevant))
    later: dict[int, list[Conversation]] = defaultdict(list)
    for other in await session.scalars(
        select(Conversation).where(
            Conversation.client_id.in_(clients),
            Conversation.created_at >= period.start,
            Conversation.merged_into_id.is_(None),
        )
    ):
        later[other.client_id].append(other)
    conversations = []
    for conversation, client in rows:
        own = events[conversation.id]
        closes = [e.at for e in own if e.kind is EventKind.CLOSED]
        recontacted = _recontacted(
            conversation, closes[-1] if closes else None, later[client.id], window
        )
        conversations.append(_facts(conversation, client, own, recontacted, settle_window))
    names = {op.id: op.name for op in await session.scalars(select(Operator))}
    return PeriodFacts(tuple(conversations), names, await _top_articles(session, period))


async def _top_articles(
    session: AsyncSession, period: Period, limit: int = 10
) -> tuple[ArticleAnswers, ...]:
    counts: dict[str, int] = defaultdict(int)
    for data in await session.scalars(
        select(ConversationEvent.data).where(
            ConversationEvent.kind == EventKind.BOT_ANSWERED,
            ConversationEvent.at >= period.start,
            ConversationEvent.at < period.end,
        )
    ):
        article_id = data.get("article_id") if isinstance(data, dict) else None
        if isinstance(article_id, str):
            counts[article_id] += 1
    titles = {
        row.id: row.title
        for row in await session.execute(
            select(KbArticle.id, KbArticle.title).where(KbArticle.id.in_(list(counts)))
        )
    }
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return tuple(
        ArticleAnswers(article_id, titles.get(article_id, ""), n) for article_id, n in ranked
    )
