"""Dialogue wording that is computed, not looked up: when a client can expect a person
(the times as `bot.promises` says them)."""

from __future__ import annotations

import datetime as dt

from bot.promises import promised_moment
from core.texts import say
from routing.service_levels import BusinessCalendar

__all__ = ["handoff_text"]


def handoff_text(
    calendar: BusinessCalendar,
    language: str,
    deadline: dt.datetime,
    position: int | None,
    now: dt.datetime,
    *,
    business_hours: bool,
) -> str:
    """What a client handed off hears: their place in the queue and the deadline; out of
    hours, when operators are back — unless the category is served around the clock
    (`business_hours` false: a lost card), whose operators work at night too."""
    when = promised_moment(deadline, now, calendar.zone, language, deadline=True)
    if business_hours and not calendar.is_open(now):
        opening = promised_moment(calendar.next_opening(now), now, calendar.zone, language)
        return say("handoff_after_hours", language, opening=opening, deadline=when)
    if position is None:
        return say("handoff_queued_no_position", language, deadline=when)
    return say("handoff_queued", language, position=position, deadline=when)
