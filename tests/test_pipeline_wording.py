"""Computed wording: when a handed-off client can expect a person, in Russian and English."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from bot.pipeline.wording import handoff_text, moment
from routing.service_levels import BusinessCalendar

MOSCOW = ZoneInfo("Europe/Moscow")
TUESDAY_1300 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
CALENDAR = BusinessCalendar(MOSCOW, (dt.time(9), dt.time(18)), range(1, 6))


def test_a_moment_today_tomorrow_and_later() -> None:
    today = TUESDAY_1300 + dt.timedelta(hours=4, minutes=50)
    tomorrow = TUESDAY_1300 + dt.timedelta(hours=20)
    later = TUESDAY_1300 + dt.timedelta(days=5)
    assert moment(today, TUESDAY_1300, MOSCOW, "ru") == "сегодня в 17:50"
    assert moment(today, TUESDAY_1300, MOSCOW, "en", deadline=True) == "today by 17:50"
    assert moment(tomorrow, TUESDAY_1300, MOSCOW, "ru", deadline=True) == "завтра до 09:00"
    assert moment(tomorrow, TUESDAY_1300, MOSCOW, "en") == "tomorrow at 09:00"
    assert moment(later, TUESDAY_1300, MOSCOW, "ru") == "29.11 в 13:00"
    assert moment(later, TUESDAY_1300, MOSCOW, "en") == "on 29 Nov at 13:00"


def test_in_hours_the_client_hears_the_place_and_the_deadline() -> None:
    deadline = TUESDAY_1300 + dt.timedelta(minutes=30)
    assert "number 2 in the queue" in handoff_text(CALENDAR, "en", deadline, 2, TUESDAY_1300)
    text = handoff_text(CALENDAR, "ru", deadline, 2, TUESDAY_1300)
    assert "2-й в очереди" in text and "сегодня до 13:30" in text
    assert "today by 13:30" in handoff_text(CALENDAR, "en", deadline, None, TUESDAY_1300)


def test_out_of_hours_the_client_hears_when_operators_are_back() -> None:
    friday_night = dt.datetime(2026, 11, 27, 19, 0, tzinfo=dt.UTC)  # 22:00 in Moscow
    deadline = dt.datetime(2026, 11, 30, 7, 0, tzinfo=dt.UTC)  # Monday 10:00
    text = handoff_text(CALENDAR, "en", deadline, 1, friday_night)
    assert "30 Nov at 09:00" in text and "by 10:00" in text
    round_the_clock = friday_night + dt.timedelta(minutes=15)  # a lost card: before opening
    assert "today by 22:15" in handoff_text(CALENDAR, "en", round_the_clock, 1, friday_night)
