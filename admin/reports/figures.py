"""The desk's figures for a period, computed from conversation facts, whole or split.

Each figure takes its conversations by the moment that matters for it:
- volume, hand-offs, off-hours share: created in the period;
- first response time and SLA compliance: queued in the period (first QUEUED → first
  FIRST_RESPONSE; a first response after the QUEUED deadline, or none while the deadline
  has passed, is a breach; none before the deadline is still pending and left out, and so
  is a conversation closed before its deadline without one: its client withdrew it, or it
  was merged into another);
- resolution time, bot resolution, FCR, CSAT: closed in the period. Bot resolution is a
  close with no hand-off, no reopen and no re-contact by the client on the same category
  within N days; FCR is the same for conversations a person handled; CSAT counts ratings of
  conversations an operator closed, and its response rate is rated / closed by an operator;
- operator minutes: the time operators held conversations (TAKEN → close, transfer,
  requeue, lease expiry), clipped to the period.
Medians are the middle value (mean of the two middles); p90 is the nearest rank.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from admin.reports.facts import ConversationFacts, PeriodFacts
from admin.reports.period import Period

__all__ = [
    "ClientConsumption",
    "DayFigures",
    "Durations",
    "Figures",
    "SlaBreach",
    "SplitBy",
    "SplitRow",
    "WorkingTime",
    "client_consumption",
    "compute_figures",
    "daily_figures",
    "split_figures",
]

SplitBy = Literal["channel", "category", "group", "operator", "client"]
NONE_LABEL = "—"


class WorkingTime(Protocol):
    """What figures need of the desk's business calendar (routing's BusinessCalendar)."""

    @property
    def zone(self) -> ZoneInfo: ...

    def is_open(self, now: dt.datetime) -> bool: ...

    def between(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta: ...


@dataclass(frozen=True, slots=True)
class Durations:
    count: int
    median: dt.timedelta | None
    p90: dt.timedelta | None

    @classmethod
    def of(cls, values: Iterable[dt.timedelta]) -> Durations:
        ordered = sorted(values)
        if not ordered:
            return cls(0, None, None)
        seconds = statistics.median(v.total_seconds() for v in ordered)
        rank = math.ceil(0.9 * len(ordered)) - 1
        return cls(len(ordered), dt.timedelta(seconds=seconds), ordered[rank])


@dataclass(frozen=True, slots=True)
class SlaBreach:
    conversation_id: int
    group: str | None
    category: str | None
    deadline: dt.datetime
    first_response_at: dt.datetime | None
    late_by: dt.timedelta


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True, slots=True)
class Figures:
    conversations: int
    handed_off: int
    off_hours: int
    closed: int
    bot_resolved: int  # the bot answered and the client stayed away (see compute_figures)
    human_closed: int
    first_contact_resolved: int
    frt: Durations
    frt_business: Durations
    resolution: Durations
    resolution_business: Durations
    sla_met: int
    sla_breached: int
    sla_pending: int
    breaches: tuple[SlaBreach, ...]
    ratings: tuple[int, int, int, int, int]
    closed_by_operator: int
    operator_minutes: float
    bot_pending: int = 0  # answered by the bot, the client may still come back

    @property
    def handoff_share(self) -> float | None:
        return _share(self.handed_off, self.conversations)

    @property
    def off_hours_share(self) -> float | None:
        return _share(self.off_hours, self.conversations)

    @property
    def bot_resolution_share(self) -> float | None:
        """Of the conversations settled either way, the bot's part."""
        return _share(self.bot_resolved, self.bot_resolved + self.handed_off)

    @property
    def fcr_share(self) -> float | None:
        return _share(self.first_contact_resolved, self.human_closed)

    @property
    def sla_compliance(self) -> float | None:
        return _share(self.sla_met, self.sla_met + self.sla_breached)

    @property
    def csat_responses(self) -> int:
        return sum(self.ratings)

    @property
    def csat_average(self) -> float | None:
        total = self.csat_responses
        return (
            sum(score * n for score, n in zip(range(1, 6), self.ratings, strict=True)) / total
            if total
            else None
        )

    @property
    def csat_response_rate(self) -> float | None:
        return _share(self.csat_responses, self.closed_by_operator)

    @property
    def empty(self) -> bool:
        return not (
            self.conversations
            or self.closed
            or self.frt.count
            or self.sla_breached
            or self.sla_pending
            or self.operator_minutes
        )


def _held_minutes(
    facts: ConversationFacts, period: Period, now: dt.datetime, operator_id: int | None = None
) -> float:
    total = dt.timedelta()
    for held in facts.holdings:
        if operator_id is not None and held.operator_id != operator_id:
            continue
        start = max(held.start, period.start)
        end = min(held.end or now, period.end)
        if end > start:
            total += end - start
    return total.total_seconds() / 60


def _bot_settled(c: ConversationFacts, now: dt.datetime) -> bool:
    """The bot answered and the client did not come back within the idle window: the
    same day's figures count it without waiting for the idle close."""
    return c.closed_at is not None or (c.bot_settles_at is not None and c.bot_settles_at <= now)


def compute_figures(
    conversations: Sequence[ConversationFacts],
    period: Period,
    calendar: WorkingTime,
    now: dt.datetime,
) -> Figures:
    created = [c for c in conversations if period.contains(c.created_at)]
    queued = [c for c in conversations if period.contains(c.queued_at)]
    closed = [c for c in conversations if period.contains(c.closed_at)]
    answered = [
        c
        for c in conversations
        if period.contains(c.bot_answered_at)
        and not c.handed_off
        and not c.reopened
        and not c.recontacted
    ]
    first_responses = [
        (c.queued_at, c.first_response_at)
        for c in queued
        if c.queued_at is not None and c.first_response_at is not None
    ]
    resolutions = [(c.created_at, c.closed_at) for c in closed if c.closed_at is not None]
    human_closed = [c for c in closed if c.handed_off]
    by_operator = [c for c in closed if c.closed_by_operator]
    met = breached = pending = 0
    breaches: list[SlaBreach] = []
    for c in queued:
        if c.deadline is None:
            continue
        answer = c.first_response_at
        if answer is None and c.closed_at is not None and c.closed_at <= c.deadline:
            continue  # closed before an answer was owed: withdrawn by its client, merged
        if answer is not None and answer <= c.deadline:
            met += 1
        elif answer is not None or c.deadline < now:
            breached += 1
            breaches.append(
                SlaBreach(
                    c.id, c.group, c.category, c.deadline, answer, (answer or now) - c.deadline
                )
            )
        else:
            pending += 1
    ratings = Counter(c.rating for c in by_operator if c.rating is not None)
    return Figures(
        conversations=len(created),
        handed_off=sum(c.handed_off for c in created),
        off_hours=sum(not calendar.is_open(c.created_at) for c in created),
        closed=len(closed),
        bot_resolved=sum(_bot_settled(c, now) for c in answered),
        bot_pending=sum(not _bot_settled(c, now) for c in answered),
        human_closed=len(human_closed),
        first_contact_resolved=sum(not c.reopened and not c.recontacted for c in human_closed),
        frt=Durations.of(end - start for start, end in first_responses),
        frt_business=Durations.of(calendar.between(start, end) for start, end in first_responses),
        resolution=Durations.of(end - start for start, end in resolutions),
        resolution_business=Durations.of(
            calendar.between(start, end) for start, end in resolutions
        ),
        sla_met=met,
        sla_breached=breached,
        sla_pending=pending,
        breaches=tuple(sorted(breaches, key=lambda b: b.deadline)),
        ratings=(ratings[1], ratings[2], ratings[3], ratings[4], ratings[5]),
        closed_by_operator=len(by_operator),
        operator_minutes=sum(_held_minutes(c, period, now) for c in conversations),
    )


@dataclass(frozen=True, slots=True)
class SplitRow:
    key: str
    figures: Figures


def _split_key(by: SplitBy, c: ConversationFacts) -> str | int | None:
    if by == "channel":
        return c.channel
    if by == "category":
        return c.category
    if by == "group":
        return c.group
    if by == "operator":
        return c.operator_id
    return c.client_id


def split_figures(
    facts: PeriodFacts, by: SplitBy, period: Period, calendar: WorkingTime, now: dt.datetime
) -> list[SplitRow]:
    """Figures per channel / category / group / operator / client, biggest first. A
    conversation goes to its current category and group, and to the operator who closed
    it (else the last one who held it); an operator's minutes are all the time they held
    any conversation, whoever closed it."""
    groups: dict[str | int | None, list[ConversationFacts]] = defaultdict(list)
    labels: dict[str | int | None, str] = {}
    for c in facts.conversations:
        key = _split_key(by, c)
        groups[key].append(c)
        labels[key] = c.client_label if by == "client" else str(key)
    if by == "operator":
        for held in (h for c in facts.conversations for h in c.holdings):
            groups.setdefault(held.operator_id, [])
        labels = {
            key: NONE_LABEL if key is None else facts.operator_names.get(int(key), f"#{key}")
            for key in groups
        }
    rows = []
    for key, members in groups.items():
        figures = compute_figures(members, period, calendar, now)
        if by == "operator":
            figures = replace(
                figures,
                operator_minutes=0.0
                if key is None
                else sum(_held_minutes(c, period, now, int(key)) for c in facts.conversations),
            )
        if not figures.empty:
            rows.append(SplitRow(NONE_LABEL if key is None else labels[key], figures))
    return sorted(rows, key=lambda row: (-row.figures.conversations, row.key))


@dataclass(frozen=True, slots=True)
class DayFigures:
    date: dt.date
    volume: dict[tuple[str, bool], int]  # (channel, handed_off) → conversations created
    frt_median: dt.timedelta | None
    sla_compliance: float | None


def daily_figures(
    facts: PeriodFacts, period: Period, calendar: WorkingTime, now: dt.datetime
) -> list[DayFigures]:
    """Per local day: conversations created by channel and bot/human, and the first-response
    median and SLA compliance of those queued that day."""
    created: dict[dt.date, Counter[tuple[str, bool]]] = defaultdict(Counter)
    queued: dict[dt.date, list[ConversationFacts]] = defaultdict(list)
    for c in facts.conversations:
        if period.contains(c.created_at):
            created[period.local_date(c.created_at)][(c.channel, c.handed_off)] += 1
        if c.queued_at is not None and period.contains(c.queued_at):
            queued[period.local_date(c.queued_at)].append(c)
    days = []
    for date in period.days():
        figures = compute_figures(queued[date], period.day(date), calendar, now)
        days.append(
            DayFigures(date, dict(created[date]), figures.frt.median, figures.sla_compliance)
        )
    return days


MIN_MINUTES = 0.05  # below 3 seconds of an operator's time is no consumption


@dataclass(frozen=True, slots=True)
class ClientConsumption:
    client_id: int
    label: str
    tier: str
    conversations: int
    operator_minutes: float
    tier_average_minutes: float

    @property
    def against_tier(self) -> float | None:
        """Operator minutes relative to the average client of the same tier (1.0 = average)."""
        return (
            self.operator_minutes / self.tier_average_minutes if self.tier_average_minutes else None
        )


def client_consumption(
    facts: PeriodFacts, period: Period, now: dt.datetime
) -> list[ClientConsumption]:
    """Per client who took operator time: conversations opened and operator minutes spent,
    against the average of the tier's clients who took any; the heaviest users first.
    Clients the bot served alone are not in it (they would drag the average to zero)."""
    conversations: Counter[int] = Counter()
    minutes: dict[int, float] = defaultdict(float)
    about: dict[int, tuple[str, str]] = {}
    for c in facts.conversations:
        spent = _held_minutes(c, period, now)
        if not period.contains(c.created_at) and not spent:
            continue
        about[c.client_id] = (c.client_label, c.tier)
        conversations[c.client_id] += period.contains(c.created_at)
        minutes[c.client_id] += spent
    about = {
        client_id: seen for client_id, seen in about.items() if minutes[client_id] >= MIN_MINUTES
    }
    per_tier: dict[str, list[float]] = defaultdict(list)
    for client_id, (_, tier) in about.items():
        per_tier[tier].append(minutes[client_id])
    averages = {tier: statistics.fmean(values) for tier, values in per_tier.items()}
    rows = [
        ClientConsumption(
            client_id, label, tier, conversations[client_id], minutes[client_id], averages[tier]
        )
        for client_id, (label, tier) in about.items()
    ]
    return sorted(rows, key=lambda row: (-row.operator_minutes, -row.conversations, row.client_id))
