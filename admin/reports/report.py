"""What the admin bot and the console show for `/report [period]`: a short text and a PNG;
and the daily summary sent to the admin chat (scheduled by whoever owns that chat)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from admin.reports.chart import ChartData, chart_data, render_chart
from admin.reports.contents import ReportContents, gather
from admin.reports.facts import SETTLE_WINDOW
from admin.reports.figures import SplitBy, WorkingTime
from admin.reports.gaps import HandedOffClusters
from admin.reports.period import Period, parse_period
from admin.reports.summary import summarize
from core.db import SessionFactory
from core.models import utcnow

__all__ = ["Report", "build_report", "daily_summary", "next_summary_at", "run_daily_summaries"]

log = logging.getLogger(__name__)

SendReport = Callable[["Report"], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Report:
    text: str
    png: bytes
    language: str
    contents: ReportContents
    chart: ChartData


async def build_report(
    sessions: SessionFactory,
    calendar: WorkingTime,
    period: Period | str,
    *,
    language: str,
    now: dt.datetime | None = None,
    recontact_days: int = 3,
    split_by: SplitBy = "channel",
    gaps: HandedOffClusters | None = None,
    settle_window: dt.timedelta = SETTLE_WINDOW,
) -> Report:
    """`period` is a Period or the words of `/report` ("today", "week", "2026-11-01..2026-11-07");
    bad words raise `PeriodError`, whose `describe(language)` is the reply."""
    now = now or utcnow()
    if isinstance(period, str):
        period = parse_period(period, calendar.zone, now)
    contents = await gather(
        sessions,
        calendar,
        period,
        now=now,
        recontact_days=recontact_days,
        split_by=split_by,
        gaps=gaps,
        settle_window=settle_window,
    )
    text = summarize(contents, language)
    data = chart_data(contents.days, title=text.splitlines()[0], language=language)
    chart = await asyncio.to_thread(render_chart, data)
    return Report(text, chart.png, language, contents, data)


async def daily_summary(
    sessions: SessionFactory,
    calendar: WorkingTime,
    send: SendReport,
    *,
    language: str,
    now: dt.datetime | None = None,
    recontact_days: int = 3,
    gaps: HandedOffClusters | None = None,
) -> Report:
    """Yesterday's report, handed to `send` (the admin chat's sender); returns what was sent."""
    report = await build_report(
        sessions,
        calendar,
        "yesterday",
        language=language,
        now=now,
        recontact_days=recontact_days,
        gaps=gaps,
    )
    await send(report)
    return report


def next_summary_at(now: dt.datetime, at: dt.time, zone: ZoneInfo) -> dt.datetime:
    """The next moment the local clock shows `at`, strictly after `now`, as UTC."""
    local = now.astimezone(zone)
    candidate = dt.datetime.combine(local.date(), at, tzinfo=zone)
    if candidate <= local:
        candidate = dt.datetime.combine(local.date() + dt.timedelta(days=1), at, tzinfo=zone)
    return candidate.astimezone(dt.UTC)


async def run_daily_summaries(
    sessions: SessionFactory,
    calendar: WorkingTime,
    send: SendReport,
    *,
    at: dt.time,
    language: str,
    clock: Callable[[], dt.datetime] = utcnow,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    recontact_days: int = 3,
) -> None:
    """Send yesterday's summary every day at `at` local time, until cancelled. A failed
    send is logged and retried the next day, never ends the loop."""
    while True:
        due = next_summary_at(clock(), at, calendar.zone)
        await sleep(max(0.0, (due - clock()).total_seconds()))
        try:
            await daily_summary(
                sessions, calendar, send, language=language, now=due, recontact_days=recontact_days
            )
        except Exception:
            log.exception("daily summary not sent")
