"""Connections to PostgreSQL: start-up waits for a server that is not up yet and opens the
pool's connections, the pool checks a connection that sat idle (the server may have dropped
it) but not one in steady use, and a read outside a transaction leaves its connection
transactional for the next user. On the machine's PostgreSQL, whatever DATABASE_URL says."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from postgres import postgres_url  # noqa: F401
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

import core.db
from core.db import (
    DatabaseUnavailable,
    create_engine,
    fill_pool,
    read_session_factory,
    session_factory,
    wait_for_database,
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.asynccontextmanager
async def forwarding(port: int, to: tuple[str, int]) -> AsyncIterator[None]:
    """A TCP proxy on `port` to the server `to`: the database "comes up" when it starts."""

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*to)
        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    server = await asyncio.start_server(serve, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()


async def test_start_up_waits_for_a_database_that_comes_up(
    postgres_url: str,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    real = make_url(postgres_url)
    port = free_port()
    engine = create_engine(real.set(host="127.0.0.1", port=port).render_as_string(False))
    caplog.set_level(logging.INFO)
    started = time.monotonic()
    waiting = asyncio.create_task(wait_for_database(engine, within=30))
    await asyncio.sleep(1.5)  # refused meanwhile, as by a server that is restarting
    assert not waiting.done()
    async with forwarding(port, (real.host or "127.0.0.1", real.port or 5432)):
        await asyncio.wait_for(waiting, 30)
        await engine.dispose()
    assert time.monotonic() - started >= 1.5
    assert "reaching the database (waiting up to 30 s) failed" in caplog.text
    assert "the database answers after" in caplog.text


async def test_start_up_gives_up_after_its_wait(postgres_url: str) -> None:  # noqa: F811
    url = make_url(postgres_url).set(host="127.0.0.1", port=free_port(), password="secret")
    engine = create_engine(url.render_as_string(False))
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable, match="did not answer within 1.5 s") as raised:
        await wait_for_database(engine, within=1.5)
    assert time.monotonic() - started < 10
    assert "secret" not in str(raised.value)
    await engine.dispose()


async def test_a_database_that_answers_no_is_not_waited_for(
    postgres_url: str,  # noqa: F811
) -> None:
    """A database that does not exist is a setting to fix, not a server to wait for."""
    engine = create_engine(
        make_url(postgres_url).set(database="no_such_db").render_as_string(False)
    )
    started = time.monotonic()
    with pytest.raises(DBAPIError):
        await wait_for_database(engine, within=30)
    assert time.monotonic() - started < 5
    await engine.dispose()


async def test_an_idle_connection_the_server_dropped_is_replaced(
    postgres_url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(core.db, "IDLE_BEFORE_PING", 0.2)
    engine = create_engine(postgres_url)
    pings = 0
    ping = engine.dialect.do_ping

    def counted(dbapi_connection: object) -> bool:
        nonlocal pings
        pings += 1
        return ping(dbapi_connection)  # type: ignore[arg-type]

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    async with engine.connect() as connection:  # in steady use: handed out unchecked
        await connection.execute(text("SELECT 1"))
    assert pings == 0

    admin = create_engine(postgres_url)
    async with admin.connect() as other:  # as a restart does, the server drops the pool's
        await other.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    await admin.dispose()
    await asyncio.sleep(0.3)
    async with engine.connect() as connection:
        assert await connection.scalar(text("SELECT 1")) == 1
    assert pings >= 1
    await engine.dispose()


def idle_connections(engine: AsyncEngine) -> int:
    """Connections open in the pool and waiting for a user."""
    pool = engine.sync_engine.pool
    assert isinstance(pool, QueuePool)
    return pool.checkedin()


async def test_start_up_opens_the_pool_before_the_first_visitor(
    postgres_url: str,  # noqa: F811
) -> None:
    engine = create_engine(postgres_url)
    await fill_pool(engine)
    assert idle_connections(engine) == core.db.POOL_SIZE
    await engine.dispose()


async def test_a_server_that_refuses_more_connections_does_not_stop_the_start(
    postgres_url: str,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    role = f"sb_limited_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 3"))
    limited = create_engine(
        make_url(postgres_url).set(username=role, password=None).render_as_string(False)
    )
    try:
        with caplog.at_level(logging.WARNING, logger="core.db"):
            await fill_pool(limited)
        assert idle_connections(limited) == 3
        assert "open 3 of its 20 connections" in caplog.text
        async with limited.connect() as connection:  # the gateway works with what it got
            assert await connection.scalar(text("SELECT 1")) == 1
    finally:
        await limited.dispose()
        async with admin.connect() as connection:
            await connection.execute(text(f"DROP ROLE {role}"))
        await admin.dispose()


async def test_a_read_runs_outside_a_transaction_and_a_write_after_it_inside_one(
    postgres_url: str,  # noqa: F811
) -> None:
    """`now()` is the transaction's start: equal across a transaction's statements, moving
    between statements that each run on their own. One connection, so both use the same."""
    engine = create_engine(postgres_url, pool_size=1, max_overflow=0)
    instants = text("SELECT now()")
    async with read_session_factory(engine)() as session:
        first = await session.scalar(instants)
        await asyncio.sleep(0.01)
        assert await session.scalar(instants) > first
    async with session_factory(engine)() as session:
        first = await session.scalar(instants)
        await asyncio.sleep(0.01)
        assert await session.scalar(instants) == first
    await engine.dispose()
