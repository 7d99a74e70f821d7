"""Helpers for the pipeline step tests: an inbound message, and a turn taken through the
steps before the one under test, in a real database session."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy.ext.asyncio import AsyncSession

from bot.pipeline.bot_words import find_bot_words
from bot.pipeline.sender import find_senders
from bot.pipeline.store import store_message
from bot.pipeline.thread import find_threads
from bot.pipeline.turn import Outcome, Turn
from bot.pipeline.waits import find_waits
from core.contracts import ChannelKind, InboundMessage

NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
"""A working Tuesday, 13:00 in Moscow."""

_ids = itertools.count(1)


def said(
    text: str = "",
    *,
    visitor: str = "visitor-1",
    channel: ChannelKind = ChannelKind.WEB,
    platform_id: str | None = None,
    **fields: object,
) -> InboundMessage:
    fields.setdefault("chat_id", visitor)
    fields["platform_message_id"] = platform_id or f"p{next(_ids)}"
    return InboundMessage(channel=channel, external_user_id=visitor, text=text, **fields)  # type: ignore[arg-type]


async def placed(
    session: AsyncSession, inbound: InboundMessage, now: dt.datetime = NOW, *, store: bool = False
) -> Turn:
    """The message through `sender` and `thread` (and `store` when asked)."""
    senders = await find_senders(session, [inbound], now, "ru")
    threads = await find_threads(session, senders.client_ids)
    sender = senders.of(inbound, now)
    turn = Turn(inbound, sender, Outcome(sender.identity, sender.language))
    await threads.place(session, turn, now)
    await threads.open_new(session, [turn])
    bot_words = await find_bot_words(session, (c.id for c in threads.open.values()))
    waits = await find_waits(session, threads.open.values())
    if store:
        store_message(session, turn, now)
    turn.bot_said = await bot_words.last(session, turn)
    turn.waits = await waits.of(session, turn.placed)
    return turn
