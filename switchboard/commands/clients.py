"""`switchboard clients export N | forget N`: what the desk keeps about a person, for them
(admin/client_export.py), and forgetting one who withdrew their consent
(identity/forget.py says what goes and what stays). Run on the server, they act as an
admin; the audit log records them with no actor (the server's own shell)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from switchboard.commands.services import Services, run_command

if TYPE_CHECKING:
    from identity.forget import Forgotten

__all__ = ["clients_app"]

clients_app = typer.Typer(
    help="Clients: export what the desk keeps about one, forget one who withdrew consent.",
    no_args_is_help=True,
)

ClientNumber = Annotated[int, typer.Argument(min=1, help="the client's number (#N in the console)")]


@clients_app.command("export")
def export(
    client: ClientNumber,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write to this file (0600), not stdout")
    ] = None,
) -> None:
    """Everything the desk keeps about a client, as JSON: what they ask for under 152-ФЗ
    art. 14 (GDPR art. 15)."""
    from admin.client_export import client_export, export_json

    async def work(services: Services) -> str | None:
        document = await client_export(services.sessions, client, by=None)
        return export_json(document) if document is not None else None

    text = run_command(work)
    if text is None:
        typer.echo(f"error: client #{client} not found", err=True)
        raise typer.Exit(1)
    if output is None:
        typer.echo(text)
        return
    try:
        handle = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(handle, 0o600)  # a file that was there keeps its mode otherwise
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text + "\n")
    except OSError as exc:
        typer.echo(f"error: {output}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"client #{client}: written to {output}")


@clients_app.command("forget")
def forget(
    client: ClientNumber,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask to confirm")] = False,
) -> None:
    """Erase a client's messages, files, names and addresses; keep the figures."""
    from admin.desk import DeskError, Forgetting
    from core.events import DeskFeed
    from core.models import utcnow
    from switchboard.app import visitor_uploads

    if not yes:
        typer.confirm(
            f"Forget client #{client}: every message and file of their conversations, their "
            "names and addresses, for good?",
            abort=True,
        )

    async def work(services: Services) -> Forgotten:
        forgetting = Forgetting(
            services.sessions, DeskFeed(services.redis), utcnow, visitor_uploads(services.settings)
        )
        return await forgetting.forget(None, client)

    try:
        done = run_command(work)
    except DeskError as refused:
        typer.echo(f"error: {refused}", err=True)
        raise typer.Exit(1) from None
    others = ", ".join(f"#{c}" for c in done.client_ids[1:])
    typer.echo(
        f"client #{done.client_ids[0]} forgotten"
        + (f" (with {others}, merged into them)" if others else "")
        + f": {len(done.conversation_ids)} conversation(s), {done.messages} message(s) erased"
    )
