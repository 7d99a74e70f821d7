"""`switchboard report`: the desk's figures for a period as a table, CSV and a PNG chart."""

from __future__ import annotations

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
SHOWN = {"conversations": "conv.", "handed_off": "to ops", "bot_resolution_pct": "bot %",
         "frt_median_min": "FRT min", "frt_business_median_min": "FRT bh min",
         "resolution_median_min": "resol. min", "sla_compliance_pct": "SLA %",
         "sla_breached": "breaches", "csat_average": "CSAT", "fcr_pct": "FCR %",
         "operator_minutes": "op. min"}  # the terminal's columns; the CSV has them all


def _period(services: Services, period: str | None, since: str | None, until: str | None) -> Period:
    from admin.reports import parse_period, period_between
    from core.models import utcnow

    zone, now = services.settings.zone, utcnow()
    if since or until:
        return period_between(since, until, zone, now)
    return parse_period(period or "week", zone, now)


def _show(value: object) -> str:
    return "—" if value is None else str(value)


def _clients_table(result: Report) -> Table:
    """Who used the most operator time, against their tier's average."""
    table = Table(title="clients by operator time")
    for name in ("client", "tier", "conversations", "operator minutes", "vs tier average"):
        table.add_column(name, justify="left" if name in ("client", "tier") else "right")
    for row in result.contents.consumption[:CLIENTS_SHOWN]:
        ratio = row.against_tier
        table.add_row(row.label, row.tier, str(row.conversations), f"{row.operator_minutes:.1f}",
                      "—" if ratio is None else f"{ratio:.2f}")
    return table


def report(
    period: Annotated[str | None, typer.Argument(
        help="today, yesterday, week, month, 2026-11-01 or 2026-11-01..2026-11-07")] = None,
    since: Annotated[str | None, typer.Option(help="first day (or local date-time)")] = None,
    until: Annotated[str | None, typer.Option(help="last day, included (or local date-time)")] = None,
    by: Annotated[Literal["channel", "category", "group", "operator", "client"],
                  typer.Option(help="split the figures by")] = "channel",
    csv: Annotated[Path | None, typer.Option("--csv", help="write the table as CSV here")] = None,
    chart: Annotated[Path | None, typer.Option("--chart", help="write the PNG chart here")] = None,
) -> None:
    """Figures for a period in the desk's time zone: volume, bot share, first response,
    resolution, SLA, CSAT, FCR, off-hours share; split by channel, category, group,
    operator or client."""
    from admin.reports import PeriodError, build_report
    from admin.reports.summary import describe_breach
    from admin.reports.table import COLUMNS, table_rows, write_csv
    from routing.errors import ServiceLevelsError
    from routing.service_levels import BusinessCalendar, ServiceLevels

    split_by: SplitBy = by

    async def work(services: Services) -> Report:
        settings = services.settings
        opening_hours = BusinessCalendar(settings.zone, settings.opening_hours, settings.working_days)
        calendar = ServiceLevels.load(settings.sla_config, opening_hours).calendar  # with holidays
        return await build_report(services.sessions, calendar, _period(services, period, since, until),
                                  language=settings.language, split_by=split_by,
                                  recontact_days=settings.recontact_days)

    try:
        result = run_command(work)
    except (PeriodError, ServiceLevelsError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    console = Console()
    console.print(result.text)
    table = Table(title=f"{result.contents.period.label} · {by}")
    table.add_column(by, no_wrap=True)
    for header in SHOWN.values():
        table.add_column(header, justify="right")
    for row in table_rows(result.contents):
        table.add_row(str(row[by]), *(_show(row[name]) for name in SHOWN))
    console.print(table)
    if result.contents.consumption:
        console.print(_clients_table(result))
    for breach in result.contents.total.breaches[:BREACHES_SHOWN]:
        console.print(describe_breach(breach, result.language))
    try:
        if csv is not None:
            write_csv(result.contents, csv)
            console.print(f"CSV: {csv} ({len(COLUMNS) + 1} columns)")
        if chart is not None:
            chart.write_bytes(result.png)
            console.print(f"chart: {chart}")
    except OSError as exc:
        typer.echo(f"error: cannot write {exc.filename}: {exc.strerror}", err=True)
        raise typer.Exit(1) from None
