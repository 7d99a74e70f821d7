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
from typing import Any, TypeVar, overload

__all__ = ["eventually"]

T = TypeVar("T")


@overload
async def eventually(
    check: Callable[[], Awaitable[T]],
    timeout: float = ...,
    *,
    interval: float = ...,
    what: str = ...,
) -> T: ...
@overload
async def eventually(
    check: Callable[[], T], timeout: float = ..., *, interval: float = ..., what: str = ...
) -> T: ...
async def eventually(
    check: Callable[[], Any],
    timeout: float = 15.0,
    *,
    interval: float = 0.02,
    what: str = "the condition",
) -> Any:
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
