"""`switchboard report`: the desk's figures for a period as a table, CSV and a PNG chart."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table

from switchboard.commands.services import Services, run_command

if TYPE_CHECKING:
    from admin.reports import Report
    from admin.reports.figures import SplitBy
    from admin.reports.period import Period

__all__ = ["report"]

BREACHES_SHOWN = 20
CLIENTS_SHOWN = 10
WIDTH = 80  # the report fits a plain terminal
KEY_WIDTH = 16  # a split key longer than this is cut with "…"
# The terminal's columns, as two tables of six that fit 80 columns; the CSV has them all.
VOLUME = (
    "conversations",
    "handed_off",
    "bot_resolution_pct",
    "off_hours_pct",
    "sla_breached",
    "operator_minutes",
)
SPEED = (
    "frt_median_min",
    "frt_business_median_min",
    "resolution_median_min",
    "sla_compliance_pct",
    "csat_average",
    "fcr_pct",
)
HEADERS = {
    "ru": {
        "conversations": "обращ.",
        "handed_off": "операт.",
        "bot_resolution_pct": "бот %",
        "off_hours_pct": "ночь %",
        "sla_breached": "наруш.",
        "operator_minutes": "мин оп.",
        "frt_median_min": "1-й отв.",
        "frt_business_median_min": "1-й р.ч.",
        "resolution_median_min": "решение",
        "sla_compliance_pct": "SLA %",
        "csat_average": "оценка",
        "fcr_pct": "FCR %",
        "volume": "Объём · {by}",
        "speed": "Скорость и качество (минуты) · {by}",
        "channel": "канал",
        "category": "категория",
        "group": "группа",
        "operator": "оператор",
        "client": "клиент",
        "total": "итого",
        "clients": "Клиенты по времени операторов",
        "tier": "тариф",
        "minutes": "минут",
        "vs_tier": "к среднему",
        "csv": "CSV: {path} (колонок: {n})",
        "chart": "график: {path}",
    },
    "en": {
        "conversations": "conv.",
        "handed_off": "to ops",
        "bot_resolution_pct": "bot %",
        "off_hours_pct": "night %",
        "sla_breached": "breach",
        "operator_minutes": "op. min",
        "frt_median_min": "FRT",
        "frt_business_median_min": "FRT bh",
        "resolution_median_min": "resol.",
        "sla_compliance_pct": "SLA %",
        "csat_average": "CSAT",
        "fcr_pct": "FCR %",
        "volume": "Volume · {by}",
        "speed": "Speed and quality (minutes) · {by}",
        "channel": "channel",
        "category": "category",
        "group": "group",
        "operator": "operator",
        "client": "client",
        "total": "total",
        "clients": "Clients by operator time",
        "tier": "tier",
        "minutes": "minutes",
        "vs_tier": "vs tier",
        "csv": "CSV: {path} ({n} columns)",
        "chart": "chart: {path}",
    },
}


def _period(services: Services, period: str | None, since: str | None, until: str | None) -> Period:
    from admin.reports import parse_period, period_between
    from core.models import utcnow

    zone, now = services.settings.zone, utcnow()
    if since or until:
        return period_between(since, until, zone, now)
    return parse_period(period or "week", zone, now)


def _show(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.0f}" if abs(value) >= 100 else f"{value:.1f}".removesuffix(".0")
    return str(value)


def _headers(language: str) -> dict[str, str]:
    return HEADERS["ru" if language == "ru" else "en"]


def _split_tables(result: Report, by: str) -> list[Table]:
    """The split as two narrow tables (volume; speed and quality), each within 80 columns."""
    from admin.reports.table import TOTAL, table_rows

    words = _headers(result.language)
    rows = table_rows(result.contents)
    tables = []
    for title, names in (("volume", VOLUME), ("speed", SPEED)):
        table = Table(title=words[title].format(by=words[by]), title_justify="left")
        table.add_column(words[by], no_wrap=True, max_width=KEY_WIDTH, overflow="ellipsis")
        for name in names:
            table.add_column(words[name], justify="right", no_wrap=True)
        for row in rows:
            key = str(row[by])
            table.add_row(
                words["total"] if key == TOTAL else key,
                *(_show(row[name]) for name in names),
                end_section=key == TOTAL,
            )
        tables.append(table)
    return tables


def _clients_table(result: Report) -> Table:
    """Who used the most operator time, against their tier's average."""
    words = _headers(result.language)
    table = Table(title=words["clients"], title_justify="left")
    table.add_column(words["client"], no_wrap=True, max_width=28, overflow="ellipsis")
    table.add_column(words["tier"], no_wrap=True)
    for name in ("conversations", "minutes", "vs_tier"):
        table.add_column(words[name], justify="right", no_wrap=True)
    for row in result.contents.consumption[:CLIENTS_SHOWN]:
        ratio = row.against_tier
        table.add_row(
            row.label,
            row.tier,
            str(row.conversations),
            f"{row.operator_minutes:.1f}",
            "—" if ratio is None else f"{ratio:.1f}×",
        )
    return table


def report(
    period: Annotated[
        str | None,
        typer.Argument(help="today, yesterday, week, month, 2026-11-01 or 2026-11-01..2026-11-07"),
    ] = None,
    since: Annotated[str | None, typer.Option(help="first day (or local date-time)")] = None,
    until: Annotated[
        str | None, typer.Option(help="last day, included (or local date-time)")
    ] = None,
    by: Annotated[
        Literal["channel", "category", "group", "operator", "client"],
        typer.Option(help="split the figures by"),
    ] = "channel",
    csv: Annotated[Path | None, typer.Option("--csv", help="write the table as CSV here")] = None,
    chart: Annotated[Path | None, typer.Option("--chart", help="write the PNG chart here")] = None,
) -> None:
    """Figures for a period in the desk's time zone: volume, bot share, first response,
    resolution, SLA, CSAT, FCR, off-hours share; split by channel, category, group,
    operator or client."""
    from admin.reports import PeriodError, build_report
    from admin.reports.summary import describe_breach
    from admin.reports.table import COLUMNS, write_csv
    from routing.errors import ServiceLevelsError
    from routing.service_levels import BusinessCalendar, ServiceLevels
    from switchboard.commands.progress import steps

    split_by: SplitBy = by

    async def work(services: Services) -> Report:
        settings = services.settings
        opening_hours = BusinessCalendar(
            settings.zone, settings.opening_hours, settings.working_days
        )
        calendar = ServiceLevels.load(settings.sla_config, opening_hours).calendar  # with holidays
        return await build_report(
            services.sessions,
            calendar,
            _period(services, period, since, until),
            language=settings.language,
            split_by=split_by,
            recontact_days=settings.recontact_days,
            settle_window=dt.timedelta(minutes=settings.idle_close_minutes),
        )

    try:
        with steps(1) as step:
            step("computing the report")
            result = run_command(work)
    except (PeriodError, ServiceLevelsError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    console = Console(width=min(WIDTH, Console().width))
    words = _headers(result.language)
    console.print(result.text)
    for table in _split_tables(result, by):
        console.print(table)
    if result.contents.consumption:
        console.print(_clients_table(result))
    for breach in result.contents.total.breaches[:BREACHES_SHOWN]:
        console.print(describe_breach(breach, result.language))
    try:
        if csv is not None:
            write_csv(result.contents, csv)
            console.print(words["csv"].format(path=csv, n=len(COLUMNS) + 1))
        if chart is not None:
            chart.write_bytes(result.png)
            console.print(words["chart"].format(path=chart))
    except OSError as exc:
        typer.echo(f"error: cannot write {exc.filename}: {exc.strerror}", err=True)
        raise typer.Exit(1) from None
