"""A start that cannot finish ends with an error naming what it waited for, instead of a
process that hangs silently (its supervisor restarts it)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A loopback port that accepts connections and never answers (a half-dead peer)."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                held.append(listener.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        for connection in held:
            connection.close()


def python(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """A Python process's outcome and how long it took (seconds)."""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=120, check=False
    )
    return result, time.monotonic() - started


def test_a_database_that_never_answers_ends_the_start_naming_the_wait(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("START_TIMEOUT_SECONDS", "3")
    with silent_server() as port:
        monkeypatch.setenv("DATABASE_URL", f"postgresql+asyncpg://switchboard@127.0.0.1:{port}/db")
        result, took = python("-m", "switchboard.cli", "run")
    assert result.returncode == 1, result.stderr
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("error: the gateway did not finish starting within 3 s"), error
    assert "core.db.wait_for_database → … → asyncpg." in error  # the step, the driver
    assert took < 30  # ended at the deadline, not by the interpreter's watchdog


def test_a_start_that_blocks_its_event_loop_is_ended_by_the_watchdog_with_its_stack() -> None:
    """No await, so no timeout can fire: the interpreter's watchdog prints the stack and
    ends the process (the grace after the deadline shortened from 30 s to 1 s)."""
    blocked_start = (
        "import asyncio, time\n"
        "from switchboard import start_deadline as deadline\n"
        "deadline.BLOCKED_GRACE = 1.0\n"
        "async def open_gateway():\n"
        "    async with deadline.start_deadline(1):\n"
        "        time.sleep(60)\n"
        "asyncio.run(open_gateway())\n"
    )
    result, took = python("-c", blocked_start)
    assert result.returncode == 1, result.stderr
    assert "Timeout (0:00:02)!" in result.stderr
    assert 'File "<string>", line 6 in open_gateway' in result.stderr  # the blocking call
    assert took < 30  # not the minute it would have blocked
