"""Report periods, cut at midnight in the desk's time zone, not in UTC.

A period is a half-open interval [start, end) of aware UTC instants plus the zone that
drew it, so a conversation at 23:30 Moscow time on the 1st belongs to the 1st even
though it is 20:30 UTC. Accepted words: "today", "yesterday", "week" (the 7 days ending
today), "month" (the 30 days ending today), a date "2026-11-01", or an inclusive range
"2026-11-01..2026-11-07"; `--since/--until` take dates or local ISO date-times.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

__all__ = ["Period", "PeriodError", "parse_period", "period_between"]

ROLLING_DAYS = {"week": 7, "month": 30}


class PeriodError(ValueError):
    """A period the desk cannot read; `describe(language)` says why to a person."""

    def __init__(self, value: str, reason: str) -> None:
        super().__init__(f"bad period {value!r}: {reason}")
        self.value = value
        self.reason = reason

    def describe(self, language: str) -> str:
        if language == "ru":
            return (
                f"Не понимаю период «{self.value}». Примеры: today, yesterday, week, month, "
                "2026-11-01, 2026-11-01..2026-11-07."
            )
        return (
            f"Cannot read the period {self.value!r} ({self.reason}). Examples: today, "
            "yesterday, week, month, 2026-11-01, 2026-11-01..2026-11-07."
        )


@dataclass(frozen=True, slots=True)
class Period:
    start: dt.datetime
    end: dt.datetime
    zone: ZoneInfo
    label: str

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("period bounds must be aware datetimes")
        if self.end <= self.start:
            raise PeriodError(self.label, "the end is not after the start")

    def contains(self, moment: dt.datetime | None) -> bool:
        return moment is not None and self.start <= moment < self.end

    def local_date(self, moment: dt.datetime) -> dt.date:
        return moment.astimezone(self.zone).date()

    def days(self) -> list[dt.date]:
        """Every local calendar day the period touches, in order."""
        first = self.local_date(self.start)
        last = self.local_date(self.end - dt.timedelta(microseconds=1))
        return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]

    def day(self, date: dt.date) -> Period:
        """One local day of this period, clipped to the period's bounds."""
        start = max(self.start, _midnight(date, self.zone))
        end = min(self.end, _midnight(date + dt.timedelta(days=1), self.zone))
        return Period(start, end, self.zone, date.isoformat())


def _midnight(date: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(date, dt.time(0), tzinfo=zone).astimezone(dt.UTC)


def _days(first: dt.date, last: dt.date, zone: ZoneInfo, label: str) -> Period:
    if last < first:
        raise PeriodError(label, "the end date is before the start date")
    return Period(_midnight(first, zone), _midnight(last + dt.timedelta(days=1), zone), zone, label)


def _date(text: str, whole: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise PeriodError(whole, f"{text!r} is not a date YYYY-MM-DD") from None


def parse_period(text: str, zone: ZoneInfo, now: dt.datetime) -> Period:
    """Read a period word or date range relative to `now` in the desk's zone."""
    word = text.strip().lower()
    today = now.astimezone(zone).date()
    if word == "today":
        return _days(today, today, zone, "today")
    if word == "yesterday":
        yesterday = today - dt.timedelta(days=1)
        return _days(yesterday, yesterday, zone, "yesterday")
    if word in ROLLING_DAYS:
        return _days(today - dt.timedelta(days=ROLLING_DAYS[word] - 1), today, zone, word)
    if ".." in word:
        first_text, last_text = word.split("..", 1)
        first, last = _date(first_text, text), _date(last_text, text)
        return _days(first, last, zone, f"{first.isoformat()}..{last.isoformat()}")
    if not word:
        raise PeriodError(text, "empty")
    date = _date(word, text)
    return _days(date, date, zone, date.isoformat())


def _bound(text: str, zone: ZoneInfo, *, upper: bool) -> dt.datetime:
    """A date is a whole local day (an upper date includes that day); a date-time is exact."""
    value = text.strip()
    if "T" not in value and " " not in value:
        date = _date(value, text)
        return _midnight(date + dt.timedelta(days=1) if upper else date, zone)
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise PeriodError(text, "expected YYYY-MM-DD or YYYY-MM-DDTHH:MM") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(dt.UTC)


def period_between(
    since: str | None, until: str | None, zone: ZoneInfo, now: dt.datetime
) -> Period:
    """`--since/--until`: a missing `since` means the 7 days ending `until`; a missing
    `until` means up to the end of today."""
    end = (
        _bound(until, zone, upper=True)
        if until
        else _midnight(now.astimezone(zone).date() + dt.timedelta(days=1), zone)
    )
    start = _bound(since, zone, upper=False) if since else end - dt.timedelta(days=7)
    label = f"{since or start.astimezone(zone).date().isoformat()}..{until or 'today'}"
    return Period(start, end, zone, label)
