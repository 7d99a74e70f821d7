"""`switchboard operators …`: who may work the desk."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import typer

from switchboard.commands.services import Services, run_command

if TYPE_CHECKING:
    from core.models import Operator

operators_app = typer.Typer(help="Operators: add, invite and list.", no_args_is_help=True)


@operators_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="the operator's name as clients see it")],
    telegram_id: Annotated[int | None, typer.Option(help="Telegram user id for the admin bot")] = None,
    group: Annotated[list[str] | None, typer.Option(help="queue group served; repeat for several")] = None,
    capacity: Annotated[int, typer.Option(min=1, max=50, help="conversations at once")] = 3,
    language: Annotated[str, typer.Option(help="ru or en")] = "ru",
) -> None:
    """Add an operator, or update the one with the same Telegram id or name."""

    async def work(services: Services) -> Operator:
        return await _save(services, name, telegram_id, group, capacity, language)

    operator = run_command(work)
    typer.echo(f"operator #{operator.id} {operator.name}: groups {', '.join(operator.group_names)}, "
               f"capacity {operator.capacity}")


@operators_app.command("invite")
def invite(
    name: Annotated[str, typer.Argument(help="the operator's name as clients see it")],
    group: Annotated[list[str] | None, typer.Option(help="queue group served; repeat for several")] = None,
    capacity: Annotated[int, typer.Option(min=1, max=50, help="conversations at once")] = 3,
    language: Annotated[str, typer.Option(help="ru or en")] = "ru",
    hours: Annotated[int, typer.Option(min=1, max=24 * 30, help="the code expires after this")] = 48,
) -> None:
    """Add (or update) an operator and print a one-time code: they send the admin bot
    `/start CODE` from their own Telegram account, which links it."""

    async def work(services: Services) -> tuple[Operator, str]:
        from admin.telegram.state import Invites

        operator = await _save(services, name, None, group, capacity, language)
        code = await Invites(services.redis).issue(operator.id, dt.timedelta(hours=hours))
        return operator, code

    operator, code = run_command(work)
    typer.echo(f"operator #{operator.id} {operator.name}: send the admin bot, within {hours} h:\n"
               f"  /start {code}")


async def _save(services: Services, name: str, telegram_id: int | None, groups: list[str] | None,
                capacity: int, language: str) -> Operator:
    """Add the operator, or update the one with the same Telegram id or name."""
    from sqlalchemy import select

    from core.models import Operator, OperatorGroup

    async with services.sessions() as session:
        query = select(Operator).where(
            Operator.telegram_user_id == telegram_id if telegram_id else Operator.name == name)
        operator = await session.scalar(query) or Operator(name=name)
        operator.name, operator.telegram_user_id = name, telegram_id or operator.telegram_user_id
        operator.capacity, operator.language, operator.active = capacity, language, True
        operator.groups = [OperatorGroup(group=g) for g in (groups or ["support"])]
        session.add(operator)
        await session.commit()
        return operator


@operators_app.command("list")
def list_operators() -> None:
    """List the operators."""
    from rich.console import Console
    from rich.table import Table
    from sqlalchemy import select

    from core.models import Operator

    async def work(services: Services) -> list[Operator]:
        async with services.sessions() as session:
            return list(await session.scalars(select(Operator).order_by(Operator.id)))

    table = Table("id", "name", "telegram", "groups", "capacity", "active")
    for operator in run_command(work):
        table.add_row(str(operator.id), operator.name, str(operator.telegram_user_id or ""),
                      ", ".join(operator.group_names), str(operator.capacity), str(operator.active))
    Console().print(table)
