"""Counting the SQL statements a piece of work runs, to show its cost does not grow with
its size (a query per row or per message is the usual way it does)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from switchboard.app import Gateway


@contextlib.contextmanager
def statements(gateway: Gateway) -> Iterator[list[str]]:
    """The SQL statements this task runs on the gateway's database inside the block (not
    the outbox's, which delivers the bot's replies meanwhile)."""
    engine: Engine = gateway.sessions.kw["bind"].sync_engine
    seen: list[str] = []
    ours = asyncio.current_task()

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if asyncio.current_task() is ours:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)
