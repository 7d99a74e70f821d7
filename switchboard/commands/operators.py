"""`switchboard operators …`: who may work the desk, and how they sign in.

Whoever runs these commands on the server acts as an admin; each change is in the audit
log with no actor (the server's own shell)."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from switchboard.commands.services import Services, run_command

if TYPE_CHECKING:
    from admin.accounts import Accounts
    from core.models import AuditEntry, Operator, OperatorRole

T = TypeVar("T")


class Role(str, enum.Enum):
    """The roles as the command line spells them (core.models.OperatorRole, without
    importing the models before a command runs)."""

    OPERATOR = "operator"
    ADMIN = "admin"


operators_app = typer.Typer(
    help="Operators: add, invite, sign-in links, passwords, list, audit.", no_args_is_help=True
)

Groups = Annotated[
    list[str] | None, typer.Option("--group", help="queue group served; repeat for several")
]


@operators_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="the operator's name as clients see it")],
    login: Annotated[
        str | None, typer.Option(help="what they sign in with; default: the name")
    ] = None,
    role: Annotated[
        Role, typer.Option(help="admins also manage operators, undo merges")
    ] = Role.OPERATOR,
    telegram_id: Annotated[
        int | None, typer.Option(help="Telegram user id for the admin bot")
    ] = None,
    group: Groups = None,
    capacity: Annotated[int, typer.Option(min=1, max=50, help="conversations at once")] = 3,
    language: Annotated[str, typer.Option(help="ru or en")] = "ru",
) -> None:
    """Add an operator, or update the one with the same Telegram id or login."""

    async def work(services: Services) -> Operator:
        return await _accounts(services).save(
            name,
            login=login,
            role=_role(role),
            groups=group,
            capacity=capacity,
            language=language,
            telegram_user_id=telegram_id,
        )

    operator = _run(work)
    typer.echo(
        f"operator #{operator.id} {operator.name} (login {operator.login}, {operator.role.value}): "
        f"groups {', '.join(operator.group_names)}, capacity {operator.capacity}"
    )


@operators_app.command("invite")
def invite(
    name: Annotated[str, typer.Argument(help="the operator's name as clients see it")],
    login: Annotated[
        str | None, typer.Option(help="what they sign in with; default: the name")
    ] = None,
    role: Annotated[Role | None, typer.Option(help="operator or admin")] = None,
    group: Groups = None,
    capacity: Annotated[int, typer.Option(min=1, max=50, help="conversations at once")] = 3,
    language: Annotated[str, typer.Option(help="ru or en")] = "ru",
    hours: Annotated[
        int, typer.Option(min=1, max=24 * 30, help="the link and code expire after this")
    ] = 48,
) -> None:
    """Add (or update) an operator and print a one-time link to set their console password,
    and a one-time code that links their Telegram account (`/start CODE` to the admin bot)."""

    async def work(services: Services) -> tuple[Operator, str, str]:
        from admin.accounts import LinkPurpose, link_path
        from admin.telegram.state import Invites

        accounts = _accounts(services)
        operator = await accounts.save(
            name, login=login, role=_role(role), groups=group, capacity=capacity, language=language
        )
        ttl = dt.timedelta(hours=hours)
        token = await accounts.issue_link(operator.id, LinkPurpose.INVITE, ttl=ttl)
        code = await Invites(services.redis).issue(operator.id, ttl)
        return operator, services.settings.base_url + link_path(LinkPurpose.INVITE, token), code

    operator, url, code = _run(work)
    typer.echo(
        f"operator #{operator.id} {operator.name} (login {operator.login}), within {hours} h:\n"
        f"  console: open {url} and set a password\n"
        f"  admin bot: send /start {code}"
    )


@operators_app.command("link")
def link(login: Annotated[str, typer.Argument(help="the operator's login")]) -> None:
    """Print a one-time console sign-in link (15 minutes)."""

    async def work(services: Services) -> str:
        from admin.accounts import LinkPurpose, link_path

        accounts = _accounts(services)
        operator = await accounts.by_login(login)
        token = await accounts.issue_link(operator.id, LinkPurpose.SIGN_IN)
        return services.settings.base_url + link_path(LinkPurpose.SIGN_IN, token)

    typer.echo(_run(work))


@operators_app.command("passwd")
def passwd(
    login: Annotated[str, typer.Argument(help="the operator's login")],
    password: Annotated[
        str,
        typer.Option(
            prompt=True, hide_input=True, confirmation_prompt=True, help="asked for when not given"
        ),
    ],
) -> None:
    """Set an operator's password; their open sessions end."""

    async def work(services: Services) -> Operator:
        return await _accounts(services).set_password(login, password)

    operator = _run(work)
    typer.echo(f"password of #{operator.id} {operator.name} set; their sessions ended")


@operators_app.command("disable")
def disable(login: Annotated[str, typer.Argument(help="the operator's login")]) -> None:
    """Disable an operator: no sign-in, no new conversations; their sessions end."""

    async def work(services: Services) -> Operator:
        return await _accounts(services).disable(login)

    operator = _run(work)
    typer.echo(f"operator #{operator.id} {operator.name} disabled")


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

    table = Table(
        "id", "name", "login", "role", "password", "telegram", "groups", "capacity", "active"
    )
    for operator in _run(work):
        table.add_row(
            str(operator.id),
            operator.name,
            operator.login or "",
            operator.role.value,
            "set" if operator.password_hash else "",
            str(operator.telegram_user_id or ""),
            ", ".join(operator.group_names),
            str(operator.capacity),
            str(operator.active),
        )
    Console().print(table)


@operators_app.command("audit")
def show_audit(limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50) -> None:
    """The latest sign-ins, failed sign-ins and admin actions, newest first."""
    from rich.console import Console
    from rich.table import Table

    from admin.accounts import recent_audit

    async def work(services: Services) -> list[AuditEntry]:
        return await recent_audit(services.sessions, limit)

    table = Table("at", "action", "operator", "by", "address", "detail")
    for row in _run(work):
        table.add_row(
            row.at.isoformat(timespec="seconds"),
            row.action,
            str(row.operator_id or ""),
            str(row.actor_id or "server"),
            row.address or "",
            ", ".join(f"{k}={v}" for k, v in row.detail.items()),
        )
    Console().print(table)


def _accounts(services: Services) -> Accounts:
    from admin.accounts import Accounts

    return Accounts(services.sessions, services.redis)


def _role(role: Role | None) -> OperatorRole | None:
    from core.models import OperatorRole

    return OperatorRole(role.value) if role is not None else None


def _run(work: Callable[[Services], Awaitable[T]]) -> T:
    from admin.accounts import AccountError, PasswordRejected

    try:
        return run_command(work)
    except (AccountError, PasswordRejected) as refused:
        typer.echo(f"error: {refused}", err=True)
        raise typer.Exit(1) from None
