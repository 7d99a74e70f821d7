"""Sending within a platform's limits: per-chat and global rate limits, and retries.

Both limits are GCRA token buckets: each send reserves the earliest slot allowed by its
chat's bucket and the bot-wide bucket, then sleeps until that slot. Retries honour the
platform's own "retry after" and otherwise back off (`core.retry`); when they are used up
the caller gets `DeliveryError`, and the outbox schedules the message for a later try.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from tenacity import RetryCallState

from core.contracts import DeliveryError, DeliveryFault
from core.retry import SEND, Backoff, retrying

__all__ = ["Failure", "RetryPolicy", "SendLedger", "SendRateLimiter", "send_with_retries"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class SendLedger(Protocol):
    """Remembers each piece a platform accepted, outside the database and at once.

    The outbox marks a message SENT only after `send` returns; a process killed in
    between sends it again at the next start. A platform without an idempotency key
    (Telegram) would then deliver it twice; with the ledger the resend skips every piece
    already recorded, leaving only the instant between the platform's answer and the
    ledger write."""

    async def recall(self, key: str) -> str | None: ...

    async def remember(self, key: str, receipt: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Failure:
    """How a platform error is treated: retried (after `retry_after` seconds when the
    platform said so), or given up, `permanent` when retrying later cannot help; `fault`
    is why, for the desk."""

    retryable: bool
    retry_after: float | None = None
    permanent: bool = False
    fault: DeliveryFault = DeliveryFault.UNREACHABLE


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long one send is retried in process (on the project's backoff, `core.retry`)
    before the outbox takes it over and schedules it for later."""

    attempts: int = 5
    base_delay: float = SEND.first
    max_delay: float = SEND.longest
    longest_wait: float = 120.0  # a longer "retry after" gives up now; the outbox retries later

    @property
    def backoff(self) -> Backoff:
        return Backoff(first=self.base_delay, longest=self.max_delay)


def nothing_to_send() -> DeliveryError:
    """A message with neither text nor attachments: refused before any platform call."""
    return DeliveryError(
        "empty message: no text and no attachments", permanent=True, fault=DeliveryFault.CONTENT
    )


async def send_with_retries(
    call: Callable[[], Awaitable[T]],
    classify: Callable[[Exception], Failure | None],
    policy: RetryPolicy,
    *,
    what: str,
) -> T:
    """Run `call` until it succeeds or `policy` is used up. `classify` maps a platform
    error to a `Failure`; errors it does not know (None) propagate unchanged. The
    `DeliveryError` raised at the end carries whether it is permanent and how long the
    platform asked to wait, for the outbox's schedule."""

    def failure_of(exc: BaseException) -> Failure | None:
        return classify(exc) if isinstance(exc, Exception) else None

    def retryable(exc: BaseException) -> bool:
        failure = failure_of(exc)
        return failure is not None and failure.retryable

    def asked_wait(exc: BaseException) -> float | None:
        failure = failure_of(exc)
        return failure.retry_after if failure is not None else None

    def wait_too_long(state: RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        asked = asked_wait(exc) if exc is not None else None
        return asked is not None and asked > policy.longest_wait

    retrier = retrying(
        policy.backoff,
        retry_on=retryable,
        what=what,
        attempts=policy.attempts,
        hint=asked_wait,
        give_up=wait_too_long,
    )
    try:
        return await retrier(call)
    except Exception as exc:
        failure = classify(exc)
        if failure is None:
            raise
        if not failure.retryable:
            raise DeliveryError(
                f"{what}: {exc}", permanent=failure.permanent, fault=failure.fault
            ) from exc
        tries = retrier.statistics.get("attempt_number", 1)
        raise DeliveryError(
            f"{what}: gave up for now after {tries} attempts: {exc}",
            retry_after=failure.retry_after,
            fault=failure.fault,
        ) from exc


class _Bucket:
    """Generic cell rate algorithm: `tat` is the theoretical arrival time of the next send."""

    __slots__ = ("interval", "tolerance", "tat")

    def __init__(self, rate: float, burst: int) -> None:
        self.interval = 1.0 / rate
        self.tolerance = self.interval * (max(burst, 1) - 1)
        self.tat = 0.0

    def reserve(self, earliest: float) -> float:
        """Book the first slot at or after `earliest`; return its time."""
        tat = max(self.tat, earliest)
        slot = max(earliest, tat - self.tolerance)
        self.tat = tat + self.interval
        return slot


class SendRateLimiter:
    """Spaces sends so that no chat and not the bot as a whole exceed their rates."""

    _PRUNE_AT = 10_000

    def __init__(
        self,
        *,
        per_chat_rate: float,
        per_chat_burst: int,
        global_rate: float,
        global_burst: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._per_chat = (per_chat_rate, per_chat_burst)
        self._global = _Bucket(global_rate, global_burst)
        self._chats: dict[str, _Bucket] = {}
        self._clock = clock

    async def acquire(self, chat_id: str) -> None:
        now = self._clock()
        if len(self._chats) >= self._PRUNE_AT:
            self._chats = {chat: b for chat, b in self._chats.items() if b.tat > now}
        bucket = self._chats.get(chat_id)
        if bucket is None:
            bucket = self._chats[chat_id] = _Bucket(*self._per_chat)
        slot = self._global.reserve(bucket.reserve(now))
        if slot > now:
            await asyncio.sleep(slot - now)
