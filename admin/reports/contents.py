"""Everything one report shows, gathered in one read of the database."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from admin.reports.facts import SETTLE_WINDOW, ArticleAnswers, load_facts
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
from admin.reports.gaps import GapCluster, HandedOffClusters, kb_gap_clusters
from admin.reports.period import Period
from core.db import SessionFactory

__all__ = ["ReportContents", "gather"]


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


async def gather(
    sessions: SessionFactory,
    calendar: WorkingTime,
    period: Period,
    *,
    now: dt.datetime,
    recontact_days: int,
    split_by: SplitBy = "channel",
    gaps: HandedOffClusters | None = None,
    settle_window: dt.timedelta = SETTLE_WINDOW,
) -> ReportContents:
    """`gaps` None: the period's handed-off questions clustered by `kb gaps`."""
    async with sessions() as session:
        facts = await load_facts(
            session, period, recontact_days=recontact_days, settle_window=settle_window
        )
    clusters = tuple(await (gaps or functools.partial(kb_gap_clusters, sessions))(period))
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
