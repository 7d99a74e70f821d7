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
) -> str:
    """What a client handed off hears: their place in the queue and the deadline; out of
    hours, when operators are back — unless the category is served around the clock (a
    lost card): its deadline comes before the opening."""
    when = promised_moment(deadline, now, calendar.zone, language, deadline=True)
    opening_at = calendar.next_opening(now)  # now, when open
    if now < opening_at <= deadline:
        opening = promised_moment(opening_at, now, calendar.zone, language)
        return say("handoff_after_hours", language, opening=opening, deadline=when)
    if position is None:
        return say("handoff_queued_no_position", language, deadline=when)
    return say("handoff_queued", language, position=position, deadline=when)
