"""`switchboard queue show | rebuild`: look at the live operator queue, restore it from the DB."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from switchboard.commands.services import Services, run_command

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from routing.queue import QueueEntry, QueueFigures
    from routing.rebuild import RebuildReport

__all__ = ["queue_app"]

queue_app = typer.Typer(help="The live operator queue.", no_args_is_help=True)


@queue_app.command("show")
def show(
    group: str | None = typer.Option(None, "--group", "-g", help="only this group"),
    limit: int = typer.Option(50, "--limit", "-n", min=1, help="at most this many rows"),
) -> None:
    """Waiting conversations in take order: group, position, client, channel, category,
    time waited and deadline."""
    from core.models import utcnow
    from routing.queue import OperatorQueue

    async def work(services: Services) -> None:
        queue = OperatorQueue(services.redis)
        try:
            entries = await queue.waiting(group, limit=limit)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--group") from None
        figures = await queue.figures()
        names = await _client_names(services, {e.client_id for e in entries})
        Console().print(queue_table(entries, figures, names, services.settings.zone, utcnow()))

    run_command(work)


@queue_app.command("rebuild")
def rebuild() -> None:
    """Restore the live queue from the database (after Redis was flushed or replaced)."""
    from routing.queue import OperatorQueue
    from routing.rebuild import rebuild_queue

    async def work(services: Services) -> RebuildReport:
        return await rebuild_queue(services.sessions, OperatorQueue(services.redis))

    report = run_command(work)
    typer.echo(
        f"queue rebuilt: {report.waiting} restored waiting, {report.assigned} assigned, "
        f"{report.kept} already in place, {report.removed} stale entries removed"
    )


async def _client_names(services: Services, client_ids: set[int]) -> dict[int, str]:
    from sqlalchemy import select

    from core.models import Client

    if not client_ids:
        return {}
    async with services.sessions() as session:
        rows = await session.execute(
            select(Client.id, Client.display_name).where(Client.id.in_(client_ids))
        )
        return {client_id: name or "" for client_id, name in rows}


def queue_table(
    entries: list[QueueEntry],
    figures: QueueFigures,
    names: dict[int, str],
    zone: ZoneInfo,
    now: dt.datetime,
) -> Table:
    table = Table(
        title=f"Waiting: {figures.waiting_total} · assigned: {figures.assigned} · "
        f"overdue: {figures.overdue} · "
        f"breaching in 15 min: {figures.breaching_soon}"
    )
    for column in ("group", "#", "client", "channel", "category", "waited", "deadline"):
        table.add_column(column, justify="right" if column in ("#", "waited") else "left")
    positions: dict[str, int] = {}
    for entry in entries:
        positions[entry.group] = positions.get(entry.group, 0) + 1
        name = names.get(entry.client_id, "")
        left = entry.deadline - now
        due = entry.deadline.astimezone(zone).strftime("%d.%m %H:%M")
        due = (
            f"{due} (in {span(left)})"
            if left >= dt.timedelta(0)
            else f"[red]{due} (overdue {span(-left)})[/red]"
        )
        table.add_row(
            entry.group,
            str(positions[entry.group]),
            f"{name} #{entry.client_id}".strip(),
            entry.channel,
            entry.category or "—",
            span(now - entry.enqueued_at),
            due,
        )
    if not entries:
        table.caption = "nothing is waiting"
    return table


def span(delta: dt.timedelta) -> str:
    """A short human duration: 45s, 12m, 3h05m, 2d04h."""
    seconds = max(0, int(delta.total_seconds()))
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m" if minutes else f"{seconds}s"
