"""A gateway that cannot finish starting stops with an error naming what it waited for,
instead of hanging silently: its supervisor (systemd's Restart=on-failure) then starts it
again, on a database, Redis or channel that may answer by then.

A server that accepts the connection but never answers (a half-dead peer, a firewall that
drops replies) would otherwise keep a start-up await pending for ever: no log line, no
exit, no restart. The deadline covers the whole start, the knowledge base's embedding
included, so it is generous by default (`START_TIMEOUT_SECONDS`). A loop blocked outright
(nothing awaits, so no timeout can fire) is caught by the interpreter's own watchdog a
little later: it prints every thread's stack and exits."""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import logging
import traceback
from collections.abc import AsyncIterator

__all__ = ["StartTimeout", "start_deadline"]

log = logging.getLogger(__name__)

BLOCKED_GRACE = 30.0
"""Seconds past the deadline before a start whose event loop is blocked is ended."""
_PLUMBING = {"asyncio", "contextlib", "uvloop"}
_WIRING = "switchboard.app."
"""The composition root: the step named is the first call below it."""


class StartTimeout(Exception):
    """The gateway did not finish starting in time; the message names where it waited."""


@contextlib.asynccontextmanager
async def start_deadline(seconds: float) -> AsyncIterator[None]:
    """Raise `StartTimeout` when the block has not finished within `seconds`."""
    # to the process's standard error (descriptor 2), also where sys.stderr is a capture
    faulthandler.dump_traceback_later(seconds + BLOCKED_GRACE, exit=True, file=2)
    deadline = asyncio.timeout(seconds)
    try:
        async with deadline:
            yield
    except TimeoutError as exc:
        if not deadline.expired():
            raise  # a timeout of the start's own, reported as it is
        waited = exc.__cause__ or exc
        log.error(
            "start-up did not finish within %g s; it was waiting here:", seconds, exc_info=waited
        )
        raise StartTimeout(
            f"the gateway did not finish starting within {seconds:g} s: it was waiting in "
            f"{_waiting_in(waited)} (the log has the whole stack)"
        ) from None
    finally:
        faulthandler.cancel_dump_traceback_later()


def _waiting_in(cancelled: BaseException) -> str:
    """The start's step that was cut off and the innermost call it waited in, each as
    `module.function` (the event loop's and the context managers' plumbing left out):
    "core.db.wait_for_database → … → asyncpg.connect_utils._create_ssl_connection"."""
    names = (
        f"{frame.f_globals.get('__name__', '?')}.{frame.f_code.co_name}"
        for frame, _line in traceback.walk_tb(cancelled.__traceback__)
    )
    calls = [
        name
        for name in names
        if not name.startswith(f"{__name__}.") and name.split(".")[0] not in _PLUMBING
    ]
    wired = max((n for n, call in enumerate(calls) if call.startswith(_WIRING)), default=-1)
    below = calls[wired + 1 :] or calls
    if not below:
        return "an unknown place"
    step, innermost = below[0], below[-1]
    return step if step == innermost else f"{step} → … → {innermost}"
