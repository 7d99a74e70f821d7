"""What a CLI command needs from the running system, opened and closed around one command.

The database, Redis and settings libraries are imported when a command runs, not when the
CLI starts: `switchboard --help` must not pay for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import typer

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from core.db import SessionFactory
    from switchboard.settings import Settings

__all__ = ["Services", "open_services", "run_command", "settings_or_exit"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    sessions: SessionFactory
    redis: Redis


def settings_or_exit() -> Settings:
    from switchboard.settings import SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


@contextlib.asynccontextmanager
async def open_services(settings: Settings, *, migrate: bool = True) -> AsyncIterator[Services]:
    from core.db import create_engine, session_factory, upgrade
    from switchboard.redis_server import connect_redis

    engine = create_engine(settings.resolved_database_url)
    try:
        if migrate:
            await upgrade(engine)
        async with connect_redis(settings.redis_url, settings.var_dir) as redis:
            yield Services(settings, session_factory(engine), redis)
    finally:
        await engine.dispose()


def run_command(work: Callable[[Services], Awaitable[T]]) -> T:
    """Run one async command body with the services open; errors become a clean exit."""
    from switchboard.redis_server import RedisUnavailable

    settings = settings_or_exit()

    async def _main() -> T:
        async with open_services(settings) as services:
            return await work(services)

    try:
        return asyncio.run(_main())
    except RedisUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
