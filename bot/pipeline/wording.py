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
    asked: bool = False,
) -> str:
    """What a client handed off hears: their place in the queue and the deadline; out of
    hours, when operators are back — unless the category is served around the clock
    (`business_hours` false: a lost card), whose operators work at night too. `asked`: a
    queued client asked how long it takes («сколько ждать?»), and hears the same of their
    place now; past the deadline, an apology instead of a time gone by."""
    kind = "place" if asked else "handoff"
    if asked and deadline <= now:
        return say("place_overdue", language)
    when = promised_moment(deadline, now, calendar.zone, language, deadline=True)
    if business_hours and not calendar.is_open(now):
        opening = promised_moment(calendar.next_opening(now), now, calendar.zone, language)
        return say(f"{kind}_after_hours", language, opening=opening, deadline=when)
    if position is None:
        return say(f"{kind}_queued_no_position", language, deadline=when)
    return say(f"{kind}_queued", language, position=position, deadline=when)
