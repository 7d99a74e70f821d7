"""Waiting in tests: poll for the outcome until a deadline; never sleep a fixed time.

A fixed sleep is too short on a loaded machine (a flaky failure) and too long everywhere
else (a slow suite); polling returns as soon as the outcome is there, and names what was
not reached when the deadline passes.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["eventually"]

T = TypeVar("T")


async def eventually(check: Callable[[], T | Awaitable[T]], timeout: float = 10.0, *,
                     interval: float = 0.02, what: str = "the condition") -> T:
    """Return `check()`'s first truthy result (awaited when it is awaitable); fail the test
    when none came within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} was not reached within {timeout} s")
        await asyncio.sleep(interval)
