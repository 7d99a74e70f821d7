"""The split table, one row per channel / category / group / operator / client plus a
total: the same columns for the terminal and for CSV."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from pathlib import Path

from admin.reports.contents import ReportContents
from admin.reports.figures import Figures

__all__ = ["COLUMNS", "TOTAL", "spreadsheet_safe", "table_rows", "write_csv"]

TOTAL = "total"
_FORMULA_STARTS = frozenset("=+-@\t\r")
Cell = int | float | None


def _minutes(value: dt.timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds() / 60, 2)


def _percent(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


COLUMNS: dict[str, Callable[[Figures], Cell]] = {
    "conversations": lambda f: f.conversations,
    "handed_off": lambda f: f.handed_off,
    "off_hours_pct": lambda f: _percent(f.off_hours_share),
    "closed": lambda f: f.closed,
    "bot_resolved": lambda f: f.bot_resolved,
    "bot_resolution_pct": lambda f: _percent(f.bot_resolution_share),
    "frt_median_min": lambda f: _minutes(f.frt.median),
    "frt_p90_min": lambda f: _minutes(f.frt.p90),
    "frt_business_median_min": lambda f: _minutes(f.frt_business.median),
    "frt_business_p90_min": lambda f: _minutes(f.frt_business.p90),
    "resolution_median_min": lambda f: _minutes(f.resolution.median),
    "resolution_p90_min": lambda f: _minutes(f.resolution.p90),
    "resolution_business_median_min": lambda f: _minutes(f.resolution_business.median),
    "sla_met": lambda f: f.sla_met,
    "sla_breached": lambda f: f.sla_breached,
    "sla_compliance_pct": lambda f: _percent(f.sla_compliance),
    "csat_average": lambda f: None if f.csat_average is None else round(f.csat_average, 2),
    "csat_responses": lambda f: f.csat_responses,
    "csat_response_rate_pct": lambda f: _percent(f.csat_response_rate),
    "fcr_pct": lambda f: _percent(f.fcr_share),
    "operator_minutes": lambda f: round(f.operator_minutes, 2),
}


def table_rows(contents: ReportContents) -> list[dict[str, str | Cell]]:
    """Rows keyed by the split's name ("channel", "operator"…) then every column."""
    rows = [(row.key, row.figures) for row in contents.rows] + [(TOTAL, contents.total)]
    return [
        {contents.split_by: key, **{name: get(figures) for name, get in COLUMNS.items()}}
        for key, figures in rows
    ]


def write_csv(contents: ReportContents, path: Path) -> None:
    rows = table_rows(contents)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[contents.split_by, *COLUMNS])
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {
                    key: "" if value is None else spreadsheet_safe(value)
                    for key, value in row.items()
                }
            )


def spreadsheet_safe(value: str | float) -> str | int | float:
    """A name as text a spreadsheet will not run: one starting with = + - @ (or a tab or
    carriage return, which some strip first) gets a leading apostrophe. Numbers stay numbers."""
    if isinstance(value, str) and value[:1] in _FORMULA_STARTS:
        return "'" + value
    return value
