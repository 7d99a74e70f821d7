"""Reports: the desk's figures for a period, computed from stored conversations and events.

`build_report` answers `/report [period]` with a text and a PNG; `daily_summary` sends
yesterday's; `switchboard.commands.report` prints the split table and writes CSV.
"""

from __future__ import annotations

from admin.reports.period import Period, PeriodError, parse_period, period_between
from admin.reports.report import (
    Report,
    build_report,
    daily_summary,
    next_summary_at,
    run_daily_summaries,
)

__all__ = [
    "Period",
    "PeriodError",
    "Report",
    "build_report",
    "daily_summary",
    "next_summary_at",
    "parse_period",
    "period_between",
    "run_daily_summaries",
]
