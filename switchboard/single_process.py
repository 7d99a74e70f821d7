"""One gateway process per SQLite database file.

SQLite takes one writer at a time and the gateway's write lock only orders the writers of
one process; two gateways on one file would also both read the mailbox, run the periodic
jobs and resend each other's pending replies. So `switchboard run` holds an exclusive lock
on `<database>.gateway.lock` while it runs; the kernel releases it when the process ends,
however it ends. Command-line tools beside a running gateway do not take it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import make_url

__all__ = ["DatabaseInUse", "one_gateway_per_sqlite_file"]


class DatabaseInUse(Exception):
    """Another gateway process runs on this SQLite database; the message says what to do."""


@contextlib.contextmanager
def one_gateway_per_sqlite_file(database_url: str) -> Iterator[None]:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        yield
        return
    database = Path(str(url.database)).resolve()
    database.parent.mkdir(parents=True, exist_ok=True)
    lock_path = database.with_name(database.name + ".gateway.lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise DatabaseInUse(
                f"another gateway process (pid {holder}) runs on the SQLite database {database}. "
                "SQLite serves one gateway process: stop that one first, or move to PostgreSQL "
                "(DATABASE_URL=postgresql+asyncpg://…) to run several."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)
