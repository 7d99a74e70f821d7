"""Operators' presence at the desk: online, away or offline, and work offered to them."""

from __future__ import annotations

import datetime as dt

from admin.desk.lookup import active_operator
from bot.handover import Handover
from core.db import SessionFactory
from routing.presence import OperatorPresence, Presence, PresenceState

__all__ = ["ADMIN_BOT_PRESENCE", "Availability"]

ADMIN_BOT_PRESENCE = dt.timedelta(minutes=15)
"""An operator who acted in the admin bot this recently is still at the desk when they
close their last console: the bot's cards keep coming, and so does pushed work."""


class Availability:
    def __init__(
        self,
        sessions: SessionFactory,
        presence: Presence,
        handover: Handover,
        *,
        admin_bot_presence: dt.timedelta = ADMIN_BOT_PRESENCE,
    ) -> None:
        self._sessions = sessions
        self._presence = presence
        self._handover = handover
        self._admin_bot_presence = admin_bot_presence

    async def set(self, operator_id: int, state: PresenceState) -> OperatorPresence:
        operator = await active_operator(self._sessions, operator_id)
        presence = await self._presence.set(
            operator.id, state, capacity=operator.capacity, groups=operator.group_names
        )
        await self.offer_work(operator_id)
        return presence

    async def _announce(self, operator_id: int) -> OperatorPresence:
        """An operator who acts while offline (opens the console, writes to the admin bot)
        is online again; one who chose to be away stays away."""
        presence = await self._presence.get(operator_id)
        if presence.state is PresenceState.OFFLINE:
            return await self.set(operator_id, PresenceState.ONLINE)
        return presence

    async def used_admin_bot(self, operator_id: int) -> OperatorPresence:
        """The operator wrote to or pressed a button of the admin bot."""
        await self._presence.used_admin_bot(operator_id, within=self._admin_bot_presence)
        return await self._announce(operator_id)

    async def arrived(
        self, operator_id: int, console_id: str, *, ttl: dt.timedelta
    ) -> OperatorPresence:
        """A console opened (or its heartbeat beat): the operator is at the desk."""
        await self._presence.connected(operator_id, console_id, ttl=ttl)
        return await self._announce(operator_id)

    async def left(self, operator_id: int, console_id: str) -> None:
        """A console closed: with no other console of theirs open, and the admin bot not
        used lately, an online operator is offline, so nothing more is pushed to them; away
        stays away."""
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
