"""Handing a conversation off to the operators, in the unit of work: its service level
(group, priority, deadline) and QUEUED status. The queue entry itself is made after the
commit (`deliver`), so the database always has it first."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from bot.handover import mark_queued
from bot.pipeline.turn import Outcome
from core.models import Client, Conversation
from routing.service_levels import ServiceLevels

__all__ = ["hand_off"]


async def hand_off(
    session: AsyncSession,
    levels: ServiceLevels,
    conversation: Conversation,
    reason: str,
    now: dt.datetime,
    outcome: Outcome,
    *,
    tell_client: bool = True,
) -> None:
    client = await session.get(Client, conversation.client_id)
    assert client is not None
    level = levels.assess(conversation.category, client.tier.value, now)
    mark_queued(session, conversation, level, reason, now)
    outcome.queued_id, outcome.tell_client = conversation.id, tell_client
    outcome.notices.append(("queued", {"conversation_id": conversation.id, "group": level.group}))
