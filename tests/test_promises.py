"""The times the bot promises: near ones as a span, later ones with the desk's zone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from bot.promises import promised_moment

MOSCOW = ZoneInfo("Europe/Moscow")
NOW = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)  # 13:00 in Moscow


def test_soon_is_said_as_a_span_in_both_languages() -> None:
    in_40 = NOW + dt.timedelta(minutes=40)
    assert promised_moment(in_40, NOW, MOSCOW, "ru", deadline=True) == "в течение 40 минут"
    assert promised_moment(in_40, NOW, MOSCOW, "en", deadline=True) == "within 40 minutes"
    in_3h = NOW + dt.timedelta(hours=3)
    assert promised_moment(in_3h, NOW, MOSCOW, "ru") == "через 3 часа"
    assert promised_moment(in_3h, NOW, MOSCOW, "en") == "in 3 hours"
    assert (
        promised_moment(NOW + dt.timedelta(minutes=61), NOW, MOSCOW, "ru", deadline=True)
        == "в течение 2 часов"
    )
    assert (
        promised_moment(NOW + dt.timedelta(minutes=1), NOW, MOSCOW, "ru", deadline=True)
        == "в течение 1 минуты"
    )


def test_later_carries_the_desks_zone() -> None:
    tomorrow_9 = dt.datetime(2026, 12, 2, 6, 0, tzinfo=dt.UTC)
    assert promised_moment(tomorrow_9, NOW, MOSCOW, "ru") == "завтра в 09:00 (МСК)"
    assert promised_moment(tomorrow_9, NOW, MOSCOW, "en") == "tomorrow at 09:00 (UTC+3)"
    kolkata = ZoneInfo("Asia/Kolkata")
    assert (
        promised_moment(tomorrow_9, NOW, kolkata, "en", deadline=True)
        == "tomorrow by 11:30 (UTC+5:30)"
    )
    later = dt.datetime(2026, 12, 5, 6, 0, tzinfo=dt.UTC)
    assert promised_moment(later, NOW, MOSCOW, "ru", deadline=True) == "05.12 до 09:00 (МСК)"
    assert promised_moment(later, NOW, MOSCOW, "en") == "on 5 Dec at 09:00 (UTC+3)"
