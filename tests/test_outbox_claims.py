"""Pending sends claimed by several processes at once on PostgreSQL (`FOR UPDATE SKIP
LOCKED`): what two claimers take is disjoint, and together they take everything due, each
chat's replies in order by one of them. Always on PostgreSQL (tests/postgres.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import pytest
from postgres import postgres_url  # noqa: F401
from sqlalchemy import insert, select

from bot.delivery_claims import claim_due
from core.db import SessionFactory, create_engine, session_factory, upgrade
from core.models import Author, Client, Conversation, Delivery, Direction, Identity, Message

T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
CHATS = 300
LONG_CHAT_REPLIES = 5
"""Chat 1 has this many pending replies, the others one each."""


@pytest.fixture
async def claims_db(postgres_url: str) -> AsyncIterator[SessionFactory]:  # noqa: F811
    engine = create_engine(postgres_url)
    await upgrade(engine)
    sessions = session_factory(engine)
    await _fill(sessions)
    yield sessions
    await engine.dispose()


async def test_two_claimers_at_once_take_disjoint_sets_and_together_all_due(
    claims_db: SessionFactory,
) -> None:
    due = await _due_ids(claims_db)
    async with claims_db() as first, claims_db() as second:
        taken_first = await claim_due(first, T0, exclude=set(), limit=CHATS // 2)
        # the first claimer's transaction is still open: its rows are locked, not yet leased
        taken_second = await asyncio.wait_for(claim_due(second, T0, exclude=set()), 10)
        await first.commit()
        await second.commit()
    assert taken_first and taken_second
    assert not set(taken_first) & set(taken_second)
    assert set(taken_first) | set(taken_second) == due
    async with claims_db() as third:  # everything is leased now
        assert await claim_due(third, T0, exclude=set()) == []


async def test_claimers_racing_in_rounds_send_each_reply_once(claims_db: SessionFactory) -> None:
    due = await _due_ids(claims_db)

    async def claimer() -> list[int]:
        taken: list[int] = []
        while True:
            async with claims_db() as session:
                batch = await claim_due(session, T0, exclude=set(), limit=40)
                await asyncio.sleep(0.01)  # hold the locks a while, as a busy process does
                await session.commit()
            if not batch:
                return taken
            taken += batch

    takes = await asyncio.gather(*(claimer() for _ in range(4)))
    everything = [i for taken in takes for i in taken]
    assert len(everything) == len(set(everything))  # nobody took a reply twice
    assert set(everything) == due
    long_chat = sorted(await _chat_ids(claims_db, 1))
    holders = [n for n, taken in enumerate(takes) if set(long_chat) & set(taken)]
    for n in holders:  # whoever took part of the long chat took it from its first pending one
        mine = [i for i in takes[n] if i in long_chat]
        assert mine == sorted(mine)


async def _fill(sessions: SessionFactory) -> None:
    """CHATS Telegram chats with one due pending reply each; chat 1 has several."""
    chats = range(1, CHATS + 1)
    async with sessions() as session:
        await session.execute(insert(Client), [{"id": i, "created_at": T0} for i in chats])
        await session.execute(
            insert(Identity),
            [
                {
                    "id": i,
                    "client_id": i,
                    "channel": "telegram",
                    "external_id": str(i),
                    "chat_id": str(i),
                    "created_at": T0,
                    "last_seen_at": T0,
                }
                for i in chats
            ],
        )
        await session.execute(
            insert(Conversation),
            [
                {
                    "id": i,
                    "client_id": i,
                    "identity_id": i,
                    "last_identity_id": i,
                    "last_channel": "telegram",
                    "created_at": T0,
                    "updated_at": T0,
                }
                for i in chats
            ],
        )
        replies = [1] * (LONG_CHAT_REPLIES - 1) + list(chats)
        await session.execute(
            insert(Message),
            [
                {
                    "conversation_id": i,
                    "identity_id": i,
                    "channel": "telegram",
                    "direction": Direction.OUT.value,
                    "author": Author.BOT.value,
                    "text": f"reply {n}",
                    "delivery": Delivery.PENDING.value,
                    "next_attempt_at": T0 - dt.timedelta(minutes=1),
                    "created_at": T0 - dt.timedelta(minutes=2),
                }
                for n, i in enumerate(replies)
            ],
        )
        await session.commit()


async def _due_ids(sessions: SessionFactory) -> set[int]:
    async with sessions() as session:
        return set(await session.scalars(select(Message.id)))


async def _chat_ids(sessions: SessionFactory, identity_id: int) -> list[int]:
    async with sessions() as session:
        return list(
            await session.scalars(select(Message.id).where(Message.identity_id == identity_id))
        )
