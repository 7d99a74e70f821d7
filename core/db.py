"""Database engine, sessions and migrations. Built at start-up from the URL and passed in."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Table, event, insert, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, SessionTransaction

__all__ = [
    "AppendedRow",
    "SessionFactory",
    "UnitOfWork",
    "WriteLock",
    "append_row",
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


@dataclass(eq=False)
class AppendedRow:
    """A row `UnitOfWork` writes at its next flush; `id` is its primary key from then on."""

    values: dict[str, Any]
    id: int = 0


class UnitOfWork(Session):
    """The session behind every `AsyncSession` here. Besides its ORM objects it writes
    append-only rows (`append_row`: messages and conversation events, which are never
    changed in the unit of work that makes them) with one INSERT per table at each flush.
    The ORM's bookkeeping costs some 80–100 µs per object; such a row about 20.

    The rows go before the objects: a row refers only to objects that have their ids
    already (`append_row` checks), and the messages stay in the order they were made."""

    def append(self, table: Table, values: dict[str, Any]) -> AppendedRow:
        row = AppendedRow(values)
        self.info.setdefault(_APPENDED, {}).setdefault(table, []).append(row)
        return row

    def flush(self, objects: Any = None) -> None:
        appended: dict[Table, list[AppendedRow]] = self.info.pop(_APPENDED, {})
        for table, rows in appended.items():
            insert = table.insert().returning(table.c.id, sort_by_parameter_order=True)
            for _, run in itertools.groupby(rows, key=lambda row: tuple(row.values)):
                same_columns = list(run)  # one statement needs one set of columns
                keys = self.connection().execute(insert, [row.values for row in same_columns])
                for row, (key,) in zip(same_columns, keys, strict=True):
                    row.id = key
        super().flush(objects)


_APPENDED = "appended rows"


@event.listens_for(UnitOfWork, "before_commit")
def _write_appended(session: Session) -> None:
    session.flush()


@event.listens_for(UnitOfWork, "after_soft_rollback")
def _drop_appended(session: Session, _previous: SessionTransaction) -> None:
    session.info.pop(_APPENDED, None)  # rows since the last flush: rolled back with the rest


def append_row(session: AsyncSession, table: Table, values: dict[str, Any]) -> AppendedRow:
    """Add an append-only row to the session's unit of work (see `UnitOfWork`). Foreign
    keys must be ids already: flush a new object before a row refers to it."""
    assert all(values[c.name] is not None for c in table.c if c.foreign_keys and not c.nullable), (
        f"a {table.name} row refers to an object not yet flushed"
    )
    sync = session.sync_session
    assert isinstance(sync, UnitOfWork), "sessions come from session_factory"
    return sync.append(table, values)


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
