"""The conversation lifecycle, walked whole: every (from, to) pair of statuses with every
event kind, against a real database. A legal change moves the status and writes exactly
its event row; an illegal one raises and leaves the database as it was."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlalchemy import select

from core.contracts import ChannelKind
from core.db import SessionFactory
from core.lifecycle import TRANSITIONS, IllegalTransition, guarded_update, move
from core.models import (
    Client,
    Conversation,
    ConversationEvent,
    ConversationStatus,
    EventKind,
    Identity,
)

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
LATER = START + dt.timedelta(hours=1)
PAIRS = list(itertools.product(ConversationStatus, repeat=2))


async def _conversation(sessions: SessionFactory, status: ConversationStatus) -> int:
    async with sessions() as session:
        client = Client(created_at=START)
        session.add(client)
        await session.flush()
        identity = Identity(
            client_id=client.id, channel=ChannelKind.TELEGRAM, external_id=str(client.id)
        )
        session.add(identity)
        await session.flush()
        conversation = Conversation(
            client_id=client.id,
            identity_id=identity.id,
            last_channel=ChannelKind.TELEGRAM,
            last_identity_id=identity.id,
            status=status,
            group="billing",
            category="refund",
            resolved_at=START if status is ConversationStatus.CLOSED else None,
        )
        session.add(conversation)
        await session.commit()
        return conversation.id


async def _state(
    sessions: SessionFactory, conversation_id: int
) -> tuple[ConversationStatus, dt.datetime | None, list[ConversationEvent]]:
    async with sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        events = list(
            await session.scalars(
                select(ConversationEvent).where(
                    ConversationEvent.conversation_id == conversation_id
                )
            )
        )
        return conversation.status, conversation.resolved_at, events


def test_the_table_names_only_real_changes() -> None:
    assert TRANSITIONS, "the table is not empty"
    assert all(events and len(set(events)) == len(events) for events in TRANSITIONS.values())
    assert all(
        events == (EventKind.REOPENED,)
        for (source, _), events in TRANSITIONS.items()
        if source is ConversationStatus.CLOSED
    )


@pytest.mark.parametrize(
    ("source", "target"), PAIRS, ids=[f"{s.value}->{t.value}" for s, t in PAIRS]
)
async def test_every_change_with_every_event(
    sessions: SessionFactory, source: ConversationStatus, target: ConversationStatus
) -> None:
    allowed = TRANSITIONS.get((source, target), ())
    for kind in EventKind:
        conversation_id = await _conversation(sessions, source)
        async with sessions() as session:
            conversation = await session.get(Conversation, conversation_id)
            assert conversation is not None
            if kind in allowed:
                move(session, conversation, target, LATER, event=kind, why="walk")
            else:
                with pytest.raises(IllegalTransition, match=f"{source.value} -> {target.value}"):
                    move(session, conversation, target, LATER, event=kind, why="walk")
            await session.commit()
        status, resolved_at, events = await _state(sessions, conversation_id)
        if kind not in allowed:
            assert (status, resolved_at, events) == (
                source,
                START if source is ConversationStatus.CLOSED else None,
                [],
            )
            continue
        assert status is target
        assert resolved_at == (LATER if target is ConversationStatus.CLOSED else None)
        assert [
            (e.kind, e.at, e.operator_id, e.channel, e.group, e.category, e.data) for e in events
        ] == [(kind, LATER, None, ChannelKind.TELEGRAM, "billing", "refund", {"why": "walk"})]


@pytest.mark.parametrize(
    ("source", "target"), PAIRS, ids=[f"{s.value}->{t.value}" for s, t in PAIRS]
)
async def test_the_usual_event_is_the_first(
    sessions: SessionFactory, source: ConversationStatus, target: ConversationStatus
) -> None:
    conversation_id = await _conversation(sessions, source)
    async with sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        if (source, target) not in TRANSITIONS:
            with pytest.raises(IllegalTransition, match="events allowed: none"):
                move(session, conversation, target, LATER)
            return
        move(session, conversation, target, LATER)
        await session.commit()
    _, _, events = await _state(sessions, conversation_id)
    assert [e.kind for e in events] == [TRANSITIONS[(source, target)][0]]


@pytest.mark.parametrize("target", list(ConversationStatus), ids=lambda s: s.value)
async def test_bulk_updates_change_only_the_legal_sources(
    sessions: SessionFactory, target: ConversationStatus
) -> None:
    for kind in EventKind:
        sources = {s for s in ConversationStatus if kind in TRANSITIONS.get((s, target), ())}
        if not sources:
            with pytest.raises(IllegalTransition, match=f"any -> {target.value}"):
                guarded_update(target, kind)
            continue
        ids = {s: await _conversation(sessions, s) for s in ConversationStatus}
        async with sessions() as session:
            await session.execute(
                guarded_update(target, kind, updated_at=LATER).where(
                    Conversation.id.in_(ids.values())
                )
            )
            await session.commit()
        for source, conversation_id in ids.items():
            status, _, _ = await _state(sessions, conversation_id)
            assert status is (target if source in sources else source), (source, kind)
