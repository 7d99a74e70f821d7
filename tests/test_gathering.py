"""The engine's gathering: messages handed in while a run is busy go together as the next
run, a quiet gateway waits for nothing, and one run's failure is its own callers' only.

The unit tests hand the gathering a recording `handle`; the last test goes through the
whole engine and checks what the clients received."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from test_engine import replies, said

from bot.gathering import Gathering
from core.contracts import InboundMessage
from core.models import Delivery
from switchboard.app import Gateway


class Recorder:
    """A `handle` that keeps each run's texts; the first run waits for `release` while
    `hold_first` is set, so that others arrive meanwhile."""

    def __init__(self, *, hold_first: bool = False, failing: str | None = None) -> None:
        self.runs: list[list[str]] = []
        self.release = asyncio.Event()
        self.started = asyncio.Event()
        self._hold = hold_first
        self._failing = failing

    async def __call__(self, batch: Sequence[InboundMessage]) -> None:
        self.runs.append([m.text for m in batch])
        self.started.set()
        if self._hold and len(self.runs) == 1:
            await self.release.wait()
        if self._failing is not None and self._failing in (m.text for m in batch):
            raise RuntimeError("database away")


async def test_a_quiet_gateway_runs_each_batch_at_once() -> None:
    handle = Recorder()
    gathering = Gathering(handle)

    await gathering([said("a"), said("b")])
    await gathering([said("c")])

    assert handle.runs == [["a", "b"], ["c"]]


async def test_batches_that_arrive_during_a_run_go_together_in_order() -> None:
    handle = Recorder(hold_first=True)
    gathering = Gathering(handle)
    first = asyncio.create_task(gathering([said("first")]))
    await handle.started.wait()
    later = [asyncio.create_task(gathering([said(f"q{n}")])) for n in range(5)]
    await asyncio.sleep(0.01)
    assert handle.runs == [["first"]]  # the others wait for the run in flight

    handle.release.set()
    await asyncio.gather(first, *later)

    assert handle.runs == [["first"], ["q0", "q1", "q2", "q3", "q4"]]


async def test_a_run_holds_at_most_its_limit_and_never_splits_a_batch() -> None:
    handle = Recorder(hold_first=True)
    gathering = Gathering(handle, run_limit=3)
    first = asyncio.create_task(gathering([said("first")]))
    await handle.started.wait()
    later = [
        asyncio.create_task(gathering([said("a1"), said("a2")])),
        asyncio.create_task(gathering([said("b1"), said("b2")])),
        asyncio.create_task(gathering([said("c1"), said("c2"), said("c3"), said("c4")])),
    ]
    await asyncio.sleep(0.01)
    handle.release.set()
    await asyncio.gather(first, *later)

    assert handle.runs == [["first"], ["a1", "a2"], ["b1", "b2"], ["c1", "c2", "c3", "c4"]]


async def test_a_failed_run_fails_its_own_callers_only() -> None:
    handle = Recorder(hold_first=True, failing="bad")
    gathering = Gathering(handle, run_limit=2)
    first = asyncio.create_task(gathering([said("first")]))
    await handle.started.wait()
    bad = asyncio.create_task(gathering([said("bad")]))
    beside = asyncio.create_task(gathering([said("beside")]))
    after = asyncio.create_task(gathering([said("after")]))
    await asyncio.sleep(0.01)
    handle.release.set()

    await first
    with pytest.raises(RuntimeError, match="database away"):
        await bad
    with pytest.raises(RuntimeError, match="database away"):
        await beside  # in the same run: not stored, so its channel must not confirm it
    await after
    assert handle.runs == [["first"], ["bad", "beside"], ["after"]]


async def test_a_caller_cancelled_before_its_run_takes_its_messages_back() -> None:
    handle = Recorder(hold_first=True)
    gathering = Gathering(handle)
    first = asyncio.create_task(gathering([said("first")]))
    await handle.started.wait()
    gone = asyncio.create_task(gathering([said("gone")]))
    kept = asyncio.create_task(gathering([said("kept")]))
    await asyncio.sleep(0.01)
    gone.cancel()
    await asyncio.sleep(0)
    handle.release.set()

    await asyncio.gather(first, kept)
    assert gone.cancelled()
    assert handle.runs == [["first"], ["kept"]]


async def test_drain_waits_for_the_run_in_flight() -> None:
    handle = Recorder(hold_first=True)
    gathering = Gathering(handle)
    caller = asyncio.create_task(gathering([said("first")]))
    await handle.started.wait()
    caller.cancel()  # a channel stopping: the run it started still finishes
    draining = asyncio.create_task(gathering.drain())
    await asyncio.sleep(0.01)
    assert not draining.done()

    handle.release.set()
    await draining
    assert handle.runs == [["first"]]


async def test_many_clients_at_once_are_each_answered(gateway: Gateway) -> None:
    """Thirty web chat clients ask at the same moment: the engine stores them in a few
    runs, and every one of them gets the knowledge base's answer."""
    visitors = [f"visitor-{n}" for n in range(30)]

    await asyncio.gather(
        *(gateway.engine([said("Я потерял карту, что делать?", visitor=v)]) for v in visitors)
    )

    for visitor in visitors:
        [answer] = await replies(gateway, visitor)
        assert answer.kb_article_id is not None and answer.delivery is Delivery.SENT
