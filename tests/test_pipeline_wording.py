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
    text = handoff_text(CALENDAR, "en", deadline, 2, TUESDAY_1300, business_hours=True)
    assert "number 2 in the queue" in text
    text = handoff_text(CALENDAR, "ru", deadline, 2, TUESDAY_1300, business_hours=True)
    assert "2-й в очереди" in text and "в течение 30 минут" in text  # near: a span
    text = handoff_text(CALENDAR, "en", deadline, None, TUESDAY_1300, business_hours=True)
    assert "within 30 minutes" in text


def test_out_of_hours_the_client_hears_when_operators_are_back() -> None:
    friday_night = dt.datetime(2026, 11, 27, 19, 0, tzinfo=dt.UTC)  # 22:00 in Moscow
    deadline = dt.datetime(2026, 11, 30, 7, 0, tzinfo=dt.UTC)  # Monday 10:00
    text = handoff_text(CALENDAR, "en", deadline, 1, friday_night, business_hours=True)
    assert "30 Nov at 09:00 (UTC+3)" in text and "by 10:00 (UTC+3)" in text  # the desk's zone


def test_a_round_the_clock_category_hears_its_place_at_night_whenever_its_deadline_falls() -> None:
    """A lost card's operators work at night: no "outside working hours", not even when its
    2-hour deadline falls after the opening (handed off at 07:20 on a working day)."""
    friday_night = dt.datetime(2026, 11, 27, 19, 0, tzinfo=dt.UTC)  # 22:00 in Moscow
    soon = friday_night + dt.timedelta(minutes=15)
    text = handoff_text(CALENDAR, "en", soon, 1, friday_night, business_hours=False)
    assert "number 1 in the queue" in text and "within 15 minutes" in text
    early = dt.datetime(2026, 11, 24, 4, 20, tzinfo=dt.UTC)  # Tuesday 07:20 in Moscow
    after_opening = early + dt.timedelta(hours=2)  # 09:20, past the 09:00 opening
    text = handoff_text(CALENDAR, "ru", after_opening, 1, early, business_hours=False)
    assert "1-й в очереди" in text and "нерабочее" not in text


def test_a_client_asking_how_long_hears_the_same_of_their_place_now() -> None:
    deadline = TUESDAY_1300 + dt.timedelta(minutes=30)
    text = handoff_text(CALENDAR, "en", deadline, 3, TUESDAY_1300, business_hours=True, asked=True)
    assert text.startswith("Your question is in the queue: you are number 3")
    assert "within 30 minutes" in text and "passing" not in text
    saturday = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)  # 13:00 in Moscow
    monday = dt.datetime(2026, 11, 30, 14, 0, tzinfo=dt.UTC)
    text = handoff_text(CALENDAR, "ru", monday, 1, saturday, business_hours=True, asked=True)
    assert text == (
        "Ваш вопрос в очереди. Сейчас нерабочее время: операторы вернутся 30.11 в 09:00 (МСК), "
        "и ответим 30.11 до 17:00 (МСК)."
    )
    late = deadline + dt.timedelta(minutes=1)
    text = handoff_text(CALENDAR, "en", deadline, 1, late, business_hours=True, asked=True)
    assert text.startswith("Sorry that the answer is taking longer") and "ago" not in text
