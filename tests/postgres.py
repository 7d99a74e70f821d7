"""A fresh PostgreSQL database for the multi-process tests, on the machine's server at
127.0.0.1:5432 whatever DATABASE_URL says: several gateway processes need a database
server (SQLite serves one process), so these tests run on PostgreSQL in both passes."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine

SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


@contextlib.asynccontextmanager
async def scratch_database(server: URL, prefix: str) -> AsyncIterator[str]:
    """A database made on `server` for one run and dropped after it (so two runs never
    collide): its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


def postgres_server() -> URL:
    """DATABASE_URL's server when it is PostgreSQL, else the machine's."""
    base = os.environ.get("DATABASE_URL", "")
    return make_url(base if base.startswith("postgresql") else SERVER).set(database="postgres")


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    async with scratch_database(postgres_server(), "multiprocess") as url:
        yield url
