"""A clean stop always finishes: a background task stuck in its clean-up is named in the
log and left behind instead of holding the stop for ever."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

import switchboard.app
from switchboard.app import Gateway, running


async def test_a_stop_finishes_when_a_task_is_stuck_in_its_clean_up(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(switchboard.app, "STOP_WAIT", 0.5)
    released = asyncio.Event()

    async def stuck() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await released.wait()  # a connection that never answers its close

    task = asyncio.create_task(stuck(), name="stuck-job")
    gateway.background.append(task)
    async with running(gateway, port=0):
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 5  # the stuck task is waited for 0.5 s only
    assert "stuck-job did not stop within 0 s; left behind" in caplog.text
    assert not task.done() and gateway.background == []
    released.set()
    with contextlib.suppress(asyncio.CancelledError):
        await task
