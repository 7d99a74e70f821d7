"""Computed wording: when a handed-off client can expect a person, in Russian and English."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from bot.pipeline.wording import handoff_text
from routing.service_levels import BusinessCalendar

MOSCOW = ZoneInfo("Europe/Moscow")
TUESDAY_1300 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
CALENDAR = BusinessCalendar(MOSCOW, (dt.time(9), dt.time(18)), range(1, 6))


def test_in_hours_the_client_hears_the_place_and_the_deadline() -> None:
    deadline = TUESDAY_1300 + dt.timedelta(minutes=30)
    assert "number 2 in the queue" in handoff_text(CALENDAR, "en", deadline, 2, TUESDAY_1300)
    text = handoff_text(CALENDAR, "ru", deadline, 2, TUESDAY_1300)
    assert "2-й в очереди" in text and "в течение 30 минут" in text  # near: a span
    assert "within 30 minutes" in handoff_text(CALENDAR, "en", deadline, None, TUESDAY_1300)


def test_out_of_hours_the_client_hears_when_operators_are_back() -> None:
    friday_night = dt.datetime(2026, 11, 27, 19, 0, tzinfo=dt.UTC)  # 22:00 in Moscow
    deadline = dt.datetime(2026, 11, 30, 7, 0, tzinfo=dt.UTC)  # Monday 10:00
    text = handoff_text(CALENDAR, "en", deadline, 1, friday_night)
    assert "30 Nov at 09:00 (UTC+3)" in text and "by 10:00 (UTC+3)" in text  # the desk's zone
    round_the_clock = friday_night + dt.timedelta(minutes=15)  # a lost card: before opening
    assert "within 15 minutes" in handoff_text(CALENDAR, "en", round_the_clock, 1, friday_night)
