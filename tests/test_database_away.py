"""Which database errors mean "the database is away, retry" rather than "this message is
at fault, quarantine it": a PostgreSQL restart must never quarantine a client's message.
The errors are built as SQLAlchemy's asyncpg driver builds them from asyncpg's own."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi
from sqlalchemy.exc import DBAPIError

from core.db import database_away

DBAPI = AsyncAdapt_asyncpg_dbapi(asyncpg)  # type: ignore[no-untyped-call]


def as_sqlalchemy_raises(error: Exception) -> DBAPIError:
    orig = DBAPI.Error(str(error), error)  # type: ignore[no-untyped-call]
    wrapped = DBAPIError.instance("SELECT 1", (), orig, DBAPI.Error)
    assert isinstance(wrapped, DBAPIError)
    return wrapped


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.AdminShutdownError(
            "terminating connection due to administrator command"
        ),
        asyncpg.exceptions.CrashShutdownError("terminating connection due to crash"),
        asyncpg.exceptions.ConnectionFailureError("connection failure"),
    ],
)
def test_a_restarting_postgresql_is_the_database_away(error: Exception) -> None:
    assert database_away(as_sqlalchemy_raises(error))


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.UniqueViolationError("duplicate key value"),
        asyncpg.exceptions.CharacterNotInRepertoireError("invalid byte sequence"),
        ValueError("not a database error at all"),
    ],
)
def test_a_fault_of_the_statement_is_not(error: Exception) -> None:
    raised = as_sqlalchemy_raises(error) if isinstance(error, asyncpg.PostgresError) else error
    assert not database_away(raised)
