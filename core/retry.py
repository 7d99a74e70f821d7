"""The project's one retry policy: exponential backoff with jitter, built on tenacity.

Every loop that waits before trying again — a send, a poller's reconnect, an IMAP
session, the admin bot, the durable reply schedule — takes its delays from a `Backoff`
here, so they all behave alike: the n-th wait is drawn between half and the whole of
`first * 2**(n-1)`, capped at `longest`. The random half keeps many clients that failed
together (a platform outage) from all coming back in the same second. A platform that
says how long to wait ("retry after") is obeyed when it asks for longer.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_never,
    wait_exponential,
    wait_random_exponential,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

__all__ = ["POLL", "REPLY_SCHEDULE", "SEND", "Backoff", "retrying", "until_done"]

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Backoff:
    """Waits of `first * 2**(n-1)` seconds (half of it random), never more than `longest`."""

    first: float
    longest: float

    def wait(self) -> wait_base:
        half_first, half_longest = self.first / 2, self.longest / 2
        return wait_exponential(multiplier=half_first, max=half_longest) + wait_random_exponential(
            multiplier=half_first, max=half_longest
        )

    def delay(self, attempt: int) -> float:
        """The wait after the `attempt`-th failure (1 for the first), for schedules kept
        outside a running loop (the outbox's next attempt time in the database)."""
        state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
        state.attempt_number = max(1, attempt)
        return float(self.wait()(state))


SEND = Backoff(first=0.5, longest=30.0)
"""In-process retries of one send, before the outbox schedules it for later."""
POLL = Backoff(first=0.5, longest=30.0)
"""A poller, an IMAP session or a setup call whose platform or sink fails: forever."""
REPLY_SCHEDULE = Backoff(first=10.0, longest=30 * 60.0)
"""A reply the channel could not deliver now: tried again in 10 s, 20 s… up to every
half hour, until its deadline."""


class _Hinted(wait_base):
    """The policy's wait, or longer when the error says how long to wait."""

    def __init__(self, base: wait_base, hint: Callable[[BaseException], float | None]) -> None:
        self._base = base
        self._hint = hint

    def __call__(self, retry_state: RetryCallState) -> float:
        wait = float(self._base(retry_state))
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        asked = self._hint(exc) if exc is not None else None
        return max(wait, asked) if asked is not None else wait


def retrying(
    policy: Backoff,
    *,
    retry_on: Callable[[BaseException], bool],
    what: str,
    attempts: int | None = None,
    hint: Callable[[BaseException], float | None] | None = None,
    give_up: Callable[[RetryCallState], bool] | None = None,
) -> AsyncRetrying:
    """A tenacity retrier on `policy`: retries errors `retry_on` accepts (others propagate
    at once), at most `attempts` tries (None: forever), logging each wait; the last error
    is re-raised. `hint` reads a platform's "retry after" from an error; `give_up` stops
    early (a wait too long to spend in process)."""
    stop: stop_base = stop_never if attempts is None else stop_after_attempt(attempts)
    if give_up is not None:
        stop = stop | _Stop(give_up)
    wait = policy.wait() if hint is None else _Hinted(policy.wait(), hint)

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait_for = state.next_action.sleep if state.next_action else 0.0
        log.warning("%s failed (%s); retry %d in %.1f s", what, exc, state.attempt_number, wait_for)

    return AsyncRetrying(
        retry=retry_if_exception(retry_on),
        stop=stop,
        wait=wait,
        before_sleep=before_sleep,
        reraise=True,
    )


class _Stop(stop_base):
    def __init__(self, predicate: Callable[[RetryCallState], bool]) -> None:
        self._predicate = predicate

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self._predicate(retry_state)


async def until_done(
    call: Callable[[], Awaitable[T]],
    *,
    retry_on: tuple[type[BaseException], ...],
    what: str,
    policy: Backoff = POLL,
    hint: Callable[[BaseException], float | None] | None = None,
) -> T:
    """Run `call` until it succeeds, waiting on `policy` after each error of `retry_on`."""
    retrier = retrying(policy, retry_on=lambda exc: isinstance(exc, retry_on), what=what, hint=hint)
    return await retrier(call)
