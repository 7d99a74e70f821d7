"""A clock that tests move by hand."""

from __future__ import annotations

import datetime as dt


class SteppingClock:
    """A clock the test moves by hand; starts on a working Tuesday at 13:00 in Moscow."""

    def __init__(
        self, start: dt.datetime = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
    ) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now
