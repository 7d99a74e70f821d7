"""`switchboard`: the one entry point; the only place settings are read.

Every command imports what it needs when it runs, so `switchboard --help` answers at once.
"""

from __future__ import annotations

import logging
import os

import typer

from switchboard.commands.clients import clients_app
from switchboard.commands.kb import kb_app
from switchboard.commands.operators import operators_app
from switchboard.commands.queue import queue_app
from switchboard.commands.report import report
from switchboard.commands.services import run_command, settings_or_exit
from switchboard.var_dir import PRIVATE_UMASK

app = typer.Typer(
    help="Switchboard: a chatbot-first customer-support gateway.", no_args_is_help=True
)
db_app = typer.Typer(help="The database.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(operators_app, name="operators")
app.add_typer(kb_app, name="kb")
app.add_typer(queue_app, name="queue")
app.add_typer(clients_app, name="clients")
app.command()(report)


@app.callback()
def private_files() -> None:
    """Whatever a command writes (database, Redis files, attachments, reports) is the
    owner's alone."""
    os.umask(PRIVATE_UMASK)


@app.command()
def run() -> None:
    """Start the gateway: web chat, operator console and every configured channel."""
    from core.db import DatabaseUnavailable
    from routing.errors import ServiceLevelsError
    from switchboard import event_loop
    from switchboard.app import serve
    from switchboard.redis_server import RedisUnavailable
    from switchboard.settings import SettingsError
    from switchboard.single_process import DatabaseInUse
    from switchboard.start_deadline import StartTimeout

    settings = settings_or_exit()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        event_loop.run(serve(settings))
    except KeyboardInterrupt:
        pass
    except (
        DatabaseUnavailable,
        RedisUnavailable,
        ServiceLevelsError,
        DatabaseInUse,
        StartTimeout,
    ) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (the gateway also does this at start)."""

    async def work(_services: object) -> None:
        return None

    run_command(work)
    typer.echo("database is up to date")


if __name__ == "__main__":
    app()
