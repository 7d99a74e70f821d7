"""Database engine, sessions and migrations. Built at start-up from the URL and passed in."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import event, insert, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from core.unit_of_work import UnitOfWork

__all__ = [
    "SessionFactory",
    "WriteLock",
    "create_engine",
    "database_away",
    "insert_objects",
    "session_factory",
    "upgrade",
    "write_lock",
]

T = TypeVar("T")

SessionFactory = async_sessionmaker[AsyncSession]

_AWAY_STATES = ("57P01", "57P02", "57P03")
"""PostgreSQL shutting down, crashed, or starting up (with class 08, connection faults)."""


def database_away(exc: BaseException) -> bool:
    """Whether `exc` says the database cannot be reached now (locked, restarting, the
    connection lost): worth retrying later, unlike a fault of the statement or its data.
    asyncpg's "the database system is starting up" arrives as a plain DBAPIError."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    state = str(getattr(exc.orig, "sqlstate", None) or "")
    return exc.connection_invalidated or state.startswith("08") or state in _AWAY_STATES


WriteLock = contextlib.AbstractAsyncContextManager[Any]
MIGRATIONS = Path(__file__).with_name("migrations")
MIGRATION_LOCK = 0x5357_4244  # PostgreSQL advisory lock: one process migrates at a time


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; SQLite gets WAL, a busy timeout and enforced foreign keys so that
    a second process (the CLI beside a running gateway) waits instead of failing, and
    `synchronous=NORMAL`: in WAL mode a commit then survives a process crash without an
    fsync each (only a power cut may lose the last commits)."""
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_async_engine(url, pool_pre_ping=True, **kwargs)


def write_lock(engine: AsyncEngine) -> WriteLock:
    """What the busiest writers (the engine, the outbox) hold around a unit of work. SQLite
    takes one writer at a time anyway, and a waiter on an asyncio lock runs the moment the
    lock is free, where SQLite's busy handler sleeps in steps of up to 100 ms. Other
    databases write concurrently: no lock."""
    return asyncio.Lock() if engine.dialect.name == "sqlite" else contextlib.nullcontext()


async def insert_objects(
    session: AsyncSession, model: type[T], rows: list[dict[str, Any]]
) -> list[T]:
    """New objects made with one multi-row INSERT returning them, in the rows' order, as
    persistent objects of the session (a third of what the unit of work costs per object)."""
    return list(
        await session.scalars(insert(model).returning(model, sort_by_parameter_order=True), rows)
    )


def session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=UnitOfWork)


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply migrations over the engine's own connection (works inside a running loop)."""

    def _run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":  # gateway processes starting together
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
            )
        await connection.run_sync(_run)
