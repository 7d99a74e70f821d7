"""Back-off after failed sign-ins, per account and per address, kept in Redis so every
gateway process sees the same counts.

The first few failures are free (typos); after that each failure blocks the subject for
twice as long as the one before, up to a cap. Failures are forgotten a day after the last
one; a successful sign-in clears the account's count (not the address's: one good
password must not reset an address that is guessing others)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from redis.asyncio import Redis

from core import keys

__all__ = ["Backoff", "SignInThrottle"]

FORGET_AFTER = 24 * 3600


@dataclass(frozen=True, slots=True)
class Backoff:
    free: int
    first: float
    cap: float

    def delay(self, failures: int) -> float:
        """Seconds to wait after the `failures`-th failure in a row (0 while still free)."""
        over = failures - self.free
        if over <= 0:
            return 0.0
        return min(self.cap, self.first * 2.0 ** min(over - 1, 30))


ACCOUNT = Backoff(free=3, first=2.0, cap=15 * 60)
ADDRESS = Backoff(free=20, first=2.0, cap=15 * 60)  # an office shares one address


class SignInThrottle:
    def __init__(
        self, redis: Redis, *, account: Backoff = ACCOUNT, address: Backoff = ADDRESS
    ) -> None:
        self._redis = redis
        self._rules = {"account": account, "address": address}

    async def wait(self, account: str, address: str) -> int:
        """Seconds before this account may be tried from this address (0: go ahead)."""
        waits = [
            await self._redis.pttl(keys.sign_in_blocked(subject))
            for subject in _subjects(account, address).values()
        ]
        longest = max((ms for ms in waits if ms > 0), default=0)
        return math.ceil(longest / 1000)

    async def failed(self, account: str, address: str) -> int:
        """Count a failure against both; the seconds the longer block now lasts."""
        longest = 0.0
        for kind, subject in _subjects(account, address).items():
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(keys.sign_in_failures(subject))
                pipe.expire(keys.sign_in_failures(subject), FORGET_AFTER)
                failures, _ = await pipe.execute()
            delay = self._rules[kind].delay(int(failures))
            if delay > 0:
                await self._redis.set(
                    keys.sign_in_blocked(subject), failures, px=max(1, round(delay * 1000))
                )
                longest = max(longest, delay)
        return math.ceil(longest)

    async def succeeded(self, account: str) -> None:
        subject = _subjects(account, "")["account"]
        await self._redis.delete(keys.sign_in_failures(subject), keys.sign_in_blocked(subject))


def _subjects(account: str, address: str) -> dict[str, str]:
    return {"account": f"account:{account.casefold()[:100]}", "address": f"address:{address[:64]}"}
