"""Database engine, sessions and migrations. Built at start-up from the URL and passed in."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import event, insert, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection, QueuePool

from core.retry import Backoff, retrying
from core.unit_of_work import UnitOfWork

__all__ = [
    "SessionFactory",
    "WriteLock",
    "DatabaseUnavailable",
    "create_engine",
    "database_away",
    "fill_pool",
    "insert_objects",
    "session_factory",
    "read_session_factory",
    "upgrade",
    "wait_for_database",
    "write_lock",
]

T = TypeVar("T")

log = logging.getLogger(__name__)

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


START_WAIT = Backoff(first=0.5, longest=5.0)
"""Between tries to reach a database that is not up yet, at start-up."""


class DatabaseUnavailable(Exception):
    """The database did not answer at start-up within the wait; the message says why."""


def _unreachable(exc: BaseException) -> bool:
    """The database cannot be reached now: the server refuses connections (down, starting
    up) or the connection failed; a wrong password or database name is not retried."""
    return isinstance(exc, OSError) or database_away(exc)


async def wait_for_database(engine: AsyncEngine, *, within: float) -> None:
    """Return once the database answers; a server restarting or not up yet is tried again
    on the project's backoff for up to `within` seconds, then `DatabaseUnavailable`. A
    gateway started beside a PostgreSQL that restarts waits for it instead of exiting."""
    started = time.monotonic()

    async def answer() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    try:
        async for attempt in retrying(
            START_WAIT,
            retry_on=_unreachable,
            what=f"reaching the database (waiting up to {within:g} s)",
            give_up=lambda _: time.monotonic() - started >= within,
        ):
            with attempt:
                await answer()
    except Exception as exc:
        if not _unreachable(exc):
            raise
        raise DatabaseUnavailable(
            f"the database at {engine.url.render_as_string(hide_password=True)} did not "
            f"answer within {within:g} s: {exc}"
        ) from exc
    if attempt.retry_state.attempt_number > 1:
        log.info("the database answers after %.1f s", time.monotonic() - started)


WriteLock = contextlib.AbstractAsyncContextManager[Any]
MIGRATIONS = Path(__file__).with_name("migrations")
MIGRATION_LOCK = 0x5357_4244  # PostgreSQL advisory lock: one process migrates at a time
IDLE_BEFORE_PING = 1.0
"""Seconds a pooled connection may sit unused and still be handed out unchecked."""
_IDLE_SINCE = "idle since"
POOL_SIZE = 20
"""Connections a process keeps open. SQLAlchemy's default of 5 (with 10 more opened and
closed on demand) made a burst of web chat visitors open and close a connection, TLS
handshake and all, for each page's history: most of a connect's CPU."""
POOL_OVERFLOW = 10


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
    engine = create_async_engine(
        url, **{"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW, **kwargs}
    )
    _ping_when_idle(engine)
    return engine


async def fill_pool(engine: AsyncEngine) -> None:
    """Open the pool's connections at start rather than in the first burst of visitors,
    where opening them took a twentieth of the gateway's CPU. A server that refuses more
    (its `max_connections`, the role's limit) is not a reason to stop: the gateway starts
    with what it got, says so, and the pool tries again when it needs more. SQLite opens
    a file: nothing to gain."""
    pool = engine.sync_engine.pool
    if engine.dialect.name == "sqlite" or not isinstance(pool, QueuePool):
        return
    async with contextlib.AsyncExitStack() as held:
        for opened in range(pool.size()):
            try:
                await held.enter_async_context(engine.connect())
            except DBAPIError as exc:
                log.warning(
                    "the database let this process open %d of its %d connections: %s",
                    opened,
                    pool.size(),
                    exc.orig,
                )
                return


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Check a connection that sat unused in the pool (the server may have restarted, a
    firewall may have dropped it) before handing it out; a broken one is replaced. One in
    steady use is handed out as it is: SQLAlchemy's `pool_pre_ping` checks every checkout,
    with asyncpg three round trips each (BEGIN, ping, ROLLBACK), a third of a web chat
    message's round trips. A connection that breaks while in use (the server restarted
    under load) fails its statement and SQLAlchemy renews the whole pool; the callers
    retry on `database_away`."""
    pool, dialect = engine.sync_engine.pool, engine.dialect

    @event.listens_for(pool, "checkin")
    def _idle_from(_dbapi: Any, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _ping_if_idle(dbapi: Any, record: ConnectionPoolEntry, _: PoolProxiedConnection) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None or time.monotonic() - since < IDLE_BEFORE_PING:
            return
        try:
            dialect.do_ping(dbapi)
        except Exception as exc:  # the pool replaces it and checks out afresh
            raise DisconnectionError("a pooled connection did not answer") from exc


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


def read_session_factory(engine: AsyncEngine) -> SessionFactory:
    """Sessions that only read and need no transaction around their statements (a web
    visitor's history as the page opens). Each statement runs on its own, so a read costs
    one round trip instead of three (BEGIN, the query, ROLLBACK): in a burst of visitors
    connecting, those two took two fifths of reading a history."""
    return async_sessionmaker(
        engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
    )


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
