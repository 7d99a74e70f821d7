"""Dialogue wording that is computed, not looked up: when a client can expect a person."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from core.texts import say
from routing.service_levels import BusinessCalendar

__all__ = ["handoff_text", "moment"]

_AT = {"ru": ("в", "до"), "en": ("at", "by")}
_TODAY = {"ru": "сегодня", "en": "today"}
_TOMORROW = {"ru": "завтра", "en": "tomorrow"}
_DATE = {"ru": "%d.%m", "en": "on %d %b"}


def moment(moment: dt.datetime, now: dt.datetime, zone: ZoneInfo, language: str, *,
           deadline: bool = False) -> str:
    """'сегодня в 17:50' / 'tomorrow at 09:00'; with `deadline`, 'сегодня до 17:50' /
    'today by 17:50'; further off, '05.03 в 09:00' / 'on 05 Mar at 09:00'."""
    language = language if language in _AT else "ru"
    local, today = moment.astimezone(zone), now.astimezone(zone).date()
    preposition = _AT[language][deadline]
    clock = local.strftime("%H:%M")
    if local.date() == today:
        return f"{_TODAY[language]} {preposition} {clock}"
    if local.date() == today + dt.timedelta(days=1):
        return f"{_TOMORROW[language]} {preposition} {clock}"
    return f"{local.strftime(_DATE[language])} {preposition} {clock}"


def handoff_text(calendar: BusinessCalendar, language: str, deadline: dt.datetime,
                 position: int | None, now: dt.datetime) -> str:
    """What a client handed off hears: their place in the queue and the deadline; out of
    hours, when operators are back — unless the category is served around the clock (a
    lost card): its deadline comes before the opening."""
    when = moment(deadline, now, calendar.zone, language, deadline=True)
    opening_at = calendar.next_opening(now)  # now, when open
    if now < opening_at <= deadline:
        opening = moment(opening_at, now, calendar.zone, language)
        return say("handoff_after_hours", language, opening=opening, deadline=when)
    if position is None:
        return say("handoff_queued_no_position", language, deadline=when)
    return say("handoff_queued", language, position=position, deadline=when)
