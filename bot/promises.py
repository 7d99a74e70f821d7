"""How the bot says a time it promises, so a client in another time zone reads it right.

Soon is said as a span ("within 40 minutes", "в течение 3 часов"): that reads the same on
any clock. Later is said as a clock time with the desk's zone ("завтра в 09:00 (МСК)",
"tomorrow at 09:00 (UTC+3)"), because the client's own zone is not known to the desk.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

__all__ = ["promised_moment", "zone_label"]

SAID_AS_SPAN = dt.timedelta(hours=4)  # nearer than this, a span reads better than a clock
_MOSCOW = {"Europe/Moscow", "W-SU"}


def promised_moment(
    moment: dt.datetime, now: dt.datetime, zone: ZoneInfo, language: str, *, deadline: bool = False
) -> str:
    """A promised time as the client reads it. With `deadline` it is a limit ("до 17:50",
    "within 3 hours"); without, a moment ("в 09:00", "in 3 hours")."""
    ahead = moment - now
    if dt.timedelta(0) < ahead <= SAID_AS_SPAN:
        return _span(ahead, language, deadline=deadline)
    local, today = moment.astimezone(zone), now.astimezone(zone).date()
    ru, en = ("до", "by") if deadline else ("в", "at")
    clock = f"{local:%H:%M} ({zone_label(zone, local, language)})"
    if local.date() == today:
        return f"сегодня {ru} {clock}" if language == "ru" else f"today {en} {clock}"
    if local.date() == today + dt.timedelta(days=1):
        return f"завтра {ru} {clock}" if language == "ru" else f"tomorrow {en} {clock}"
    return (
        f"{local:%d.%m} {ru} {clock}"
        if language == "ru"
        else f"on {local.day} {local:%b} {en} {clock}"
    )


def zone_label(zone: ZoneInfo, moment: dt.datetime, language: str) -> str:
    """'МСК' for Moscow in Russian, otherwise the UTC offset: 'UTC+3', 'UTC+5:30'."""
    if str(zone.key) in _MOSCOW and language == "ru":
        return "МСК"
    offset = moment.astimezone(zone).utcoffset() or dt.timedelta(0)
    minutes = round(offset.total_seconds() / 60)
    sign, minutes = ("+" if minutes >= 0 else "-"), abs(minutes)
    hours, rest = divmod(minutes, 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def _span(ahead: dt.timedelta, language: str, *, deadline: bool) -> str:
    minutes = max(1, -(-round(ahead.total_seconds()) // 60))
    if minutes < 60:
        amount = (
            _plural(minutes, ("минуту", "минуты", "минут"))
            if language == "ru"
            else f"{minutes} minute{'s' if minutes != 1 else ''}"
        )
    else:
        hours = -(-minutes // 60) if deadline else round(minutes / 60)
        amount = (
            _plural(hours, ("час", "часа", "часов"))
            if language == "ru"
            else f"{hours} hour{'s' if hours != 1 else ''}"
        )
    if language == "ru":
        return f"в течение {_genitive(amount)}" if deadline else f"через {amount}"
    return f"within {amount}" if deadline else f"in {amount}"


def _plural(n: int, forms: tuple[str, str, str]) -> str:
    if n % 10 == 1 and n % 100 != 11:
        form = forms[0]
    elif 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        form = forms[1]
    else:
        form = forms[2]
    return f"{n} {form}"


def _genitive(amount: str) -> str:
    """'в течение' takes the genitive: 1 минуты / 2 минут; 1 часа / 3 часов."""
    number, _, word = amount.partition(" ")
    n = int(number)
    one = n % 10 == 1 and n % 100 != 11
    if word.startswith("мину"):
        return f"{n} {'минуты' if one else 'минут'}"
    return f"{n} {'часа' if one else 'часов'}"
