"""Everything one report shows, gathered in one read of the database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from admin.reports.facts import ArticleAnswers, load_facts
from admin.reports.figures import (
    ClientConsumption,
    DayFigures,
    Figures,
    SplitBy,
    SplitRow,
    WorkingTime,
    client_consumption,
    compute_figures,
    daily_figures,
    split_figures,
)
from admin.reports.period import Period
from bot.db import SessionFactory

__all__ = ["GapCluster", "HandedOffClusters", "ReportContents", "gather"]


@dataclass(frozen=True, slots=True)
class GapCluster:
    """A group of similar questions the bot handed off: an article worth writing."""

    label: str
    questions: int


# The hook for `kb gaps`: given the period, the handed-off question clusters, largest first.
HandedOffClusters = Callable[[Period], Awaitable[Sequence[GapCluster]]]


@dataclass(frozen=True, slots=True)
class ReportContents:
    period: Period
    now: dt.datetime
    total: Figures
    split_by: SplitBy
    rows: list[SplitRow]
    days: list[DayFigures]
    consumption: list[ClientConsumption]
    top_articles: tuple[ArticleAnswers, ...]
    gaps: tuple[GapCluster, ...]


async def gather(sessions: SessionFactory, calendar: WorkingTime, period: Period, *,
                 now: dt.datetime, recontact_days: int, split_by: SplitBy = "channel",
                 gaps: HandedOffClusters | None = None) -> ReportContents:
    async with sessions() as session:
        facts = await load_facts(session, period, recontact_days=recontact_days)
    clusters = tuple(await gaps(period)) if gaps is not None else ()
    return ReportContents(
        period=period,
        now=now,
        total=compute_figures(facts.conversations, period, calendar, now),
        split_by=split_by,
        rows=split_figures(facts, split_by, period, calendar, now),
        days=daily_figures(facts, period, calendar, now),
        consumption=client_consumption(facts, period, now),
        top_articles=facts.top_articles,
        gaps=clusters,
    )
