"""`switchboard clients forget N`: a client who withdrew their consent is forgotten
(identity/forget.py says what goes and what stays). Run on the server, it acts as an
admin; the audit log records it with no actor (the server's own shell)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from switchboard.commands.services import Services, run_command

if TYPE_CHECKING:
    from identity.forget import Forgotten

__all__ = ["clients_app"]

clients_app = typer.Typer(help="Clients: forget one who withdrew consent.", no_args_is_help=True)


@clients_app.command("forget")
def forget(
    client: Annotated[int, typer.Argument(min=1, help="the client's number (#N in the console)")],
    yes: Annotated[bool, typer.Option("--yes", help="do not ask to confirm")] = False,
) -> None:
    """Erase a client's messages, files, names and addresses; keep the figures."""
    from admin.desk import DeskError, Forgetting
    from core.models import utcnow

    if not yes:
        typer.confirm(
            f"Forget client #{client}: every message and file of their conversations, their "
            "names and addresses, for good?",
            abort=True,
        )

    async def work(services: Services) -> Forgotten:
        return await Forgetting(services.sessions, utcnow).forget(None, client)

    try:
        done = run_command(work)
    except DeskError as refused:
        typer.echo(f"error: {refused}", err=True)
        raise typer.Exit(1) from None
    others = ", ".join(f"#{c}" for c in done.client_ids[1:])
    typer.echo(
        f"client #{done.client_ids[0]} forgotten"
        + (f" (with {others}, merged into them)" if others else "")
        + f": {done.conversations} conversation(s), {done.messages} message(s) erased"
    )
