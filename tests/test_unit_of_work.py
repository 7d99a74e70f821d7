"""What the unit of work guarantees for append-only rows (core/unit_of_work.py): written at
the next flush or the commit, in order, before the objects, and never after a rollback."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.contracts import ChannelKind
from core.db import SessionFactory
from core.events import record
from core.messages import MESSAGES, add_message
from core.models import (
    Author,
    Client,
    Conversation,
    ConversationEvent,
    Direction,
    EventKind,
    Identity,
    Message,
)
from core.unit_of_work import append_row

AT = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
WRITE = re.compile(r'(INSERT INTO|UPDATE) "?(\w+)')


async def a_conversation(session: AsyncSession) -> Conversation:
    client = Client()
    session.add(client)
    await session.flush()
    identity = Identity(client_id=client.id, channel=ChannelKind.WEB, external_id="v1")
    session.add(identity)
    await session.flush()
    conversation = new_conversation(client.id, identity.id)
    session.add(conversation)
    await session.commit()
    return conversation


def new_conversation(client_id: int, identity_id: int) -> Conversation:
    return Conversation(
        client_id=client_id,
        identity_id=identity_id,
        last_identity_id=identity_id,
        last_channel=ChannelKind.WEB,
    )


def said(conversation: Conversation, text: str) -> dict[str, Any]:
    return {
        "conversation_id": conversation.id,
        "identity_id": conversation.identity_id,
        "channel": ChannelKind.WEB,
        "direction": Direction.IN,
        "author": Author.CLIENT,
        "text": text,
        "created_at": AT,
    }


async def stored_texts(sessions: SessionFactory) -> list[tuple[int, str]]:
    async with sessions() as session:
        stored = await session.execute(select(Message.id, Message.text).order_by(Message.id))
        return [(id_, text) for id_, text in stored]


async def test_rows_are_written_at_the_commit_in_the_order_they_were_added(
    sessions: SessionFactory,
) -> None:
    async with sessions() as session:
        conversation = await a_conversation(session)
        rows = [add_message(session, **said(conversation, t)) for t in ("one", "two", "three")]
        assert [row.id for row in rows] == [0, 0, 0], "nothing written before the flush"
        record(session, conversation, EventKind.QUEUED, AT)
        await session.commit()
    assert all(row.id for row in rows)
    assert await stored_texts(sessions) == [
        (row.id, t) for row, t in zip(rows, ("one", "two", "three"), strict=True)
    ]
    assert sorted(row.id for row in rows) == [row.id for row in rows]
    async with sessions() as session:
        assert await session.scalar(select(ConversationEvent.kind)) is EventKind.QUEUED


async def test_rows_with_fewer_columns_keep_their_place(sessions: SessionFactory) -> None:
    """Each run of rows with the same columns is one INSERT; the runs keep the order."""
    async with sessions() as session:
        conversation = await a_conversation(session)
        first = add_message(session, **said(conversation, "first"))
        bare = said(conversation, "bare")
        del bare["identity_id"], bare["created_at"]  # the table's defaults fill them
        middle = append_row(session, MESSAGES, bare)
        last = add_message(session, **said(conversation, "last"))
        await session.commit()
    assert first.id < middle.id < last.id
    assert [text for _id, text in await stored_texts(sessions)] == ["first", "bare", "last"]


async def test_a_query_in_the_unit_of_work_sees_its_rows(sessions: SessionFactory) -> None:
    async with sessions() as session:
        conversation = await a_conversation(session)
        row = add_message(session, **said(conversation, "seen"))
        found = await session.scalars(
            select(Message.text).where(Message.conversation_id == conversation.id)
        )  # the autoflush before the query writes the row
        assert list(found) == ["seen"] and row.id
        assert (await session.get(Message, row.id)) is not None


async def test_rows_are_written_before_the_objects_of_the_same_flush(
    sessions: SessionFactory,
) -> None:
    """So a row never waits on an object, and an object may refer to a row's id."""
    async with sessions() as session:
        conversation = await a_conversation(session)
        statements: list[tuple[str, ...]] = []
        ours = asyncio.current_task()

        def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if asyncio.current_task() is ours:
                statements.append(WRITE.match(statement).groups())  # type: ignore[union-attr]

        engine = session.sync_session.get_bind()
        event.listen(engine, "before_cursor_execute", note)
        try:
            conversation.subject = "changed"
            add_message(session, **said(conversation, "row"))
            await session.commit()
        finally:
            event.remove(engine, "before_cursor_execute", note)
    assert statements == [("INSERT INTO", "messages"), ("UPDATE", "conversations")]


async def test_a_rollback_drops_the_rows_added_since_the_last_flush(
    sessions: SessionFactory,
) -> None:
    async with sessions() as session:
        conversation = await a_conversation(session)
        after = said(conversation, "after")  # the rollback expires the conversation
        add_message(session, **said(conversation, "flushed"))
        await session.flush()
        add_message(session, **said(conversation, "dropped"))
        await session.rollback()
        add_message(session, **after)
        await session.commit()
    assert [text for _id, text in await stored_texts(sessions)] == ["after"]


async def test_a_row_that_refers_to_an_unwritten_object_is_refused(
    sessions: SessionFactory,
) -> None:
    async with sessions() as session:
        conversation = await a_conversation(session)
        unwritten = new_conversation(conversation.client_id, conversation.identity_id)
        session.add(unwritten)
        with pytest.raises(AssertionError, match="not yet flushed"):
            add_message(session, **{**said(conversation, "early"), "conversation_id": unwritten.id})
