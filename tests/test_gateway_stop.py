"""A clean stop always finishes: a background task stuck in its clean-up is named in the
log and left behind instead of holding the stop for ever, and a task that swallowed its
cancellation is cancelled again."""

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
            while not released.is_set():  # a close that never answers, deaf to cancellation
                with contextlib.suppress(asyncio.CancelledError):
                    await released.wait()

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


async def test_a_task_that_swallows_its_cancellation_is_cancelled_again(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    swallowed = 0

    async def deaf_once() -> None:  # as redis-py's pub/sub read can, on a rare race
        nonlocal swallowed
        while True:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed += 1

    task = asyncio.create_task(deaf_once(), name="deaf-job")
    gateway.background.append(task)
    async with running(gateway, port=0):
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 5
    assert swallowed == 1 and task.cancelled()
    assert "did not stop" not in caplog.text
