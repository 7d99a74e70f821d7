"""Messages handed to the engine while it is busy go together as its next run.

A polled Telegram batch is one unit of work, but a web chat frame or a webhook update
comes alone: stored alone, each frame would pay for its own transaction, its own answer
cap query and its own sentence encoding (about twice the CPU of a message in a run of
eight). The gathering starts a run at once when none is busy, so a quiet desk waits for
nothing; under load the messages that arrive meanwhile go together in the next run, so
the busier the gateway, the cheaper each message.

One run at a time: measured with bench/load.py (1,000 visitors, 50 questions a second,
one process), web chat's median answer was 82-92 ms with one run in flight, 108-200 ms
with two and 118 ms with three. A run's sentence encoding already overlaps its database
look-ups, and a second run only shrinks both runs' batches.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from core.contracts import InboundMessage

__all__ = ["Gathering"]

RUN_LIMIT = 200
"""Messages a gathered run holds at most (a caller's batch is never split)."""


@dataclass
class _Waiting:
    batch: Sequence[InboundMessage]
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Gathering:
    def __init__(
        self,
        handle: Callable[[Sequence[InboundMessage]], Awaitable[None]],
        *,
        run_limit: int = RUN_LIMIT,
    ) -> None:
        self._handle = handle
        self._run_limit = run_limit
        self._waiting: deque[_Waiting] = deque()
        self._running: asyncio.Task[None] | None = None

    async def __call__(self, batch: Sequence[InboundMessage]) -> None:
        """Returns once `batch` is stored, or raises what its run raised. A caller cancelled
        before its run started takes its messages back; one cancelled later leaves them to
        the run, which finishes them."""
        if not batch:
            return
        waiting = _Waiting(batch)
        self._waiting.append(waiting)
        self._start_run()
        try:
            await waiting.done
        except asyncio.CancelledError:
            with contextlib.suppress(ValueError):
                self._waiting.remove(waiting)
            waiting.done.cancel()
            raise

    def _start_run(self) -> None:
        if self._running is not None or not self._waiting:
            return
        run = [self._waiting.popleft()]
        size = len(run[0].batch)
        while self._waiting and size + len(self._waiting[0].batch) <= self._run_limit:
            run.append(self._waiting.popleft())
            size += len(run[-1].batch)
        self._running = asyncio.create_task(self._run(run), name="engine run")
        self._running.add_done_callback(self._finished)

    async def _run(self, run: list[_Waiting]) -> None:
        try:
            await self._handle([message for waiting in run for message in waiting.batch])
        except Exception as exc:
            for waiting in run:
                if not waiting.done.done():
                    waiting.done.set_exception(exc)
            return
        except BaseException:  # cancelled: a stopping gateway
            for waiting in run:
                waiting.done.cancel()
            raise
        for waiting in run:
            if not waiting.done.done():
                waiting.done.set_result(None)

    def _finished(self, _task: asyncio.Task[None]) -> None:
        self._running = None
        self._start_run()

    async def drain(self) -> None:
        """Waits for the runs started (a stopping gateway finishes storing what it took)."""
        while self._running is not None:
            await asyncio.gather(self._running, return_exceptions=True)
