"""The manager's reports page in the console: `/operator/reports`, its figures as JSON and
its table as CSV, for today, the week, the month or any range of days.

The page is the console's static `reports.html`; the figures come from
`/operator/reports/data?period=week&lang=ru` and the table from
`/operator/reports/csv?period=week&by=operator`, both asked with the console's
session cookie. Reports are for admins only (`_is_admin`).
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from aiohttp import web

from admin.accounts import Accounts
from admin.reports import PeriodError, build_report, parse_period
from admin.reports.contents import ReportContents, gather
from admin.reports.figures import SplitBy, WorkingTime
from admin.reports.summary import period_name
from admin.reports.table import COLUMNS, table_rows
from admin.signin import CONSOLE_HEADERS, session_token
from core.db import SessionFactory
from core.models import OperatorRole

__all__ = ["ReportOptions", "ReportsPage"]

STATIC = Path(__file__).with_name("console_static")
SPLITS: tuple[SplitBy, ...] = ("channel", "category", "group", "operator")
PERIODS = ("today", "week", "month")
MAX_DAYS = 366


@dataclass(frozen=True, slots=True)
class ReportOptions:
    """The desk's settings a report depends on."""

    recontact_days: int
    settle_window: dt.timedelta
    language: str


class ReportsPage:
    def __init__(
        self,
        sessions: SessionFactory,
        calendar: WorkingTime,
        accounts: Accounts,
        options: ReportOptions,
        clock: Callable[[], dt.datetime],
        category_title: Callable[[str, str], str],
    ) -> None:
        self._category_title = category_title
        self._sessions = sessions
        self._calendar = calendar
        self._accounts = accounts
        self._options = options
        self._clock = clock

    def routes(self) -> list[web.AbstractRouteDef]:
        return [
            web.get("/operator/reports", self._page),
            web.get("/operator/reports/data", self._data),
            web.get("/operator/reports/csv", self._csv),
        ]

    async def _page(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "reports.html", headers=CONSOLE_HEADERS)

    async def _is_admin(self, request: web.Request) -> bool:
        """Signed in to the console (its session cookie) as an admin."""
        operator = await self._accounts.console.operator(session_token(request))
        return operator is not None and operator.active and operator.role is OperatorRole.ADMIN

    def _period_words(self, request: web.Request) -> str:
        words = request.query.get("period", "week").strip() or "week"
        period = parse_period(words, self._calendar.zone, self._clock())
        if (period.end - period.start) > dt.timedelta(days=MAX_DAYS):
            raise PeriodError(words, f"at most {MAX_DAYS} days")
        return words

    async def _data(self, request: web.Request) -> web.Response:
        if not await self._is_admin(request):
            raise web.HTTPForbidden(text="reports are for admins")
        language = request.query.get("lang", self._options.language)
        language = language if language in ("ru", "en") else "ru"
        try:
            words = self._period_words(request)
        except PeriodError as bad:
            return web.json_response({"error": bad.describe(language)}, status=400)
        now = self._clock()
        report = await build_report(
            self._sessions,
            self._calendar,
            words,
            language=language,
            now=now,
            recontact_days=self._options.recontact_days,
            settle_window=self._options.settle_window,
        )
        contents = report.contents
        splits = {"channel": _rows(contents)}
        for by in SPLITS[1:]:
            splits[by] = _rows(await self._gather(words, by, now))
        for row in splits["category"]:  # as operators read it; the CSV keeps the name
            row["label"] = self._category_title(row["key"], language)
        period = contents.period
        return web.json_response(
            {
                "period": {
                    "words": words,
                    "name": period_name(period.label, language),
                    "start": period.start.isoformat(),
                    "end": period.end.isoformat(),
                    "zone": period.zone.key,
                },
                "summary": report.text.splitlines(),
                "total": _values(table_rows(contents)[-1]),
                "bot_pending": contents.total.bot_pending,
                "splits": splits,
                "days": [
                    {
                        "date": d.date.isoformat(),
                        "conversations": sum(d.volume.values()),
                        "frt_median_min": None
                        if d.frt_median is None
                        else round(d.frt_median.total_seconds() / 60, 1),
                        "sla_pct": None
                        if d.sla_compliance is None
                        else round(d.sla_compliance * 100, 1),
                    }
                    for d in contents.days
                ],
                "chart": "data:image/png;base64," + base64.b64encode(report.png).decode(),
            },
            headers={"Cache-Control": "no-store"},
        )

    async def _csv(self, request: web.Request) -> web.Response:
        if not await self._is_admin(request):
            raise web.HTTPForbidden(text="reports are for admins")
        by = request.query.get("by", "channel")
        if by not in get_args(SplitBy):
            raise web.HTTPBadRequest(text=f"by must be one of {', '.join(get_args(SplitBy))}")
        try:
            words = self._period_words(request)
        except PeriodError as bad:
            raise web.HTTPBadRequest(text=str(bad)) from None
        contents = await self._gather(words, by, self._clock())
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=[by, *COLUMNS])
        writer.writeheader()
        for row in table_rows(contents):
            writer.writerow({key: "" if value is None else value for key, value in row.items()})
        name = f"report-{words.replace('..', '_')}-{by}.csv"
        return web.Response(
            body=out.getvalue().encode("utf-8-sig"),  # Excel reads UTF-8 with a BOM
            content_type="text/csv",
            charset="utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{name}"',
                "Cache-Control": "no-store",
            },
        )

    async def _gather(self, words: str, by: str, now: dt.datetime) -> ReportContents:
        period = parse_period(words, self._calendar.zone, now)
        return await gather(
            self._sessions,
            self._calendar,
            period,
            now=now,
            recontact_days=self._options.recontact_days,
            split_by=by,  # type: ignore[arg-type]
            gaps=_no_gaps,
            settle_window=self._options.settle_window,
        )


async def _no_gaps(_period: Any) -> list[Any]:
    """The split tables do not need the KB's gap clusters (the summary has them)."""
    return []


def _values(row: dict[str, Any]) -> dict[str, Any]:
    return {name: row[name] for name in COLUMNS}


def _rows(contents: ReportContents) -> list[dict[str, Any]]:
    by = contents.split_by
    return [{"key": str(row[by]), **_values(row)} for row in table_rows(contents)[:-1]]
