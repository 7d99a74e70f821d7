"""Operators' presence at the desk: online, away or offline, and work offered to them."""

from __future__ import annotations

import datetime as dt

from admin.desk.lookup import active_operator
from bot.handover import Handover
from core.db import SessionFactory
from routing.presence import OperatorPresence, Presence, PresenceState

__all__ = ["Availability"]


class Availability:
    def __init__(self, sessions: SessionFactory, presence: Presence, handover: Handover) -> None:
        self._sessions = sessions
        self._presence = presence
        self._handover = handover

    async def set(self, operator_id: int, state: PresenceState) -> OperatorPresence:
        operator = await active_operator(self._sessions, operator_id)
        presence = await self._presence.set(
            operator.id, state, capacity=operator.capacity, groups=operator.group_names
        )
        await self.offer_work(operator_id)
        return presence

    async def announce(self, operator_id: int) -> OperatorPresence:
        """An operator who acts while offline (opens the console, writes to the admin bot)
        is online again; one who chose to be away stays away."""
        presence = await self._presence.get(operator_id)
        if presence.state is PresenceState.OFFLINE:
            return await self.set(operator_id, PresenceState.ONLINE)
        return presence

    async def arrived(
        self, operator_id: int, console_id: str, *, ttl: dt.timedelta
    ) -> OperatorPresence:
        """A console opened (or its heartbeat beat): the operator is at the desk."""
        await self._presence.connected(operator_id, console_id, ttl=ttl)
        return await self.announce(operator_id)

    async def left(self, operator_id: int, console_id: str) -> None:
        """A console closed: with no other console of theirs open, an online operator is
        offline, so nothing more is pushed to them; away stays away."""
        if await self._presence.disconnected(operator_id, console_id):
            if (await self._presence.get(operator_id)).state is PresenceState.ONLINE:
                await self.set(operator_id, PresenceState.OFFLINE)

    async def get(self, operator_id: int) -> OperatorPresence:
        return await self._presence.get(operator_id)

    async def offer_work(self, operator_id: int) -> None:
        """An operator who is online with a free slot gets what waits in their groups."""
        presence = await self._presence.get(operator_id)
        if presence.state is PresenceState.ONLINE:
            await self._handover.dispatch(presence.groups)
