"""SQLite serves one gateway process: a second `serve` on the same file stops at once with a
message that says what to do; the lock goes with its holder, even after a `kill -9`."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path

import pytest

from switchboard.app import serve
from switchboard.settings import Settings
from switchboard.single_process import DatabaseInUse, one_gateway_per_sqlite_file

HOLDER = textwrap.dedent("""
    import sys, time
    from switchboard.single_process import one_gateway_per_sqlite_file
    with one_gateway_per_sqlite_file(sys.argv[1]):
        print("held", flush=True)
        time.sleep(600)
""")


async def test_a_second_gateway_on_one_sqlite_file_is_refused(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'switchboard.db'}"
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLDER, url, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert holder.stdout is not None
        assert await asyncio.wait_for(holder.stdout.readline(), 60) == b"held\n"
        settings = Settings(var_dir=tmp_path / "var", database_url=url, http_port=0, _env_file=None)  # type: ignore[call-arg]
        with pytest.raises(DatabaseInUse) as refused:
            await asyncio.wait_for(serve(settings), 30)
        message = str(refused.value)
        assert f"pid {holder.pid}" in message and "PostgreSQL" in message
        assert not (tmp_path / "var" / "redis").exists()  # refused before starting anything
    finally:
        holder.kill()
        await holder.wait()
    with one_gateway_per_sqlite_file(url):  # the killed holder's lock went with it
        pass


def test_postgresql_takes_no_lock(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://postgres@127.0.0.1/switchboard"
    with one_gateway_per_sqlite_file(url), one_gateway_per_sqlite_file(url):
        pass
