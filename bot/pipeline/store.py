"""Step 3, the store: the client's message as a row of its conversation, once — a platform
id stored before (a redelivery) is skipped."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.pipeline.turn import Turn
from core.contracts import ChannelKind, InboundMessage
from core.events import record
from core.messages import add_message
from core.models import Author, Direction, EventKind, Identity, Message

__all__ = ["already_stored", "store_message"]

_STORED_OF_CHANNEL = (
    select(Message.channel_message_id, Identity.external_id)
    .join(Identity, Identity.id == Message.identity_id)
    .where(
        Message.channel == bindparam("channel"),
        Message.direction == Direction.IN,
        Message.channel_message_id.in_(bindparam("platform_ids", expanding=True)),
    )
)
"""Built once, like every statement a run asks: a statement built per call with an IN list
left its bound parameters as cyclic garbage, a good part of what the collector walked."""


async def already_stored(
    session: AsyncSession, run: Sequence[InboundMessage]
) -> set[tuple[ChannelKind, str, str]]:
    """The run's (channel, sender, platform id) stored before, one query per channel
    ((channel, direction, id) is indexed). Per sender: a letter reusing another sender's
    Message-ID is a letter of its own, not a duplicate."""
    stored: set[tuple[ChannelKind, str, str]] = set()
    for channel in {m.channel for m in run}:
        stored.update(
            (channel, sender, platform_id)
            for platform_id, sender in await session.execute(
                _STORED_OF_CHANNEL,
                {
                    "channel": channel,
                    "platform_ids": list(
                        {m.platform_message_id for m in run if m.channel is channel}
                    ),
                },
            )
            if platform_id is not None
        )
    return stored


def store_message(session: AsyncSession, turn: Turn, now: dt.datetime) -> None:
    """The message's row (and its conversation's CREATED event when the message opened it)."""
    inbound, conversation = turn.inbound, turn.placed
    if turn.created:
        record(session, conversation, EventKind.CREATED, now)
    turn.message = add_message(
        session,
        conversation_id=conversation.id,
        identity_id=turn.sender.identity.id,
        channel=inbound.channel,
        direction=Direction.IN,
        author=Author.CLIENT,
        text=inbound.text,
        original_text=inbound.original_text,
        attachments=[a.as_json() for a in inbound.attachments],
        action=inbound.action.value if inbound.action else None,
        channel_message_id=inbound.platform_message_id,
        automated=inbound.automated,
        reply_address=inbound.meta.get("reply_to"),
        created_at=now,
    )
