"""`switchboard run` (and every gateway process the tests and benchmarks start) runs on
uvloop's event loop where the platform has it."""

from __future__ import annotations

import asyncio
import sys

import pytest

from switchboard import event_loop


async def _loop_module() -> str:
    await asyncio.sleep(0)
    return type(asyncio.get_running_loop()).__module__


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop has no Windows build")
def test_the_gateway_runs_on_uvloop() -> None:
    assert event_loop.run(_loop_module()).startswith("uvloop")
