"""The thread step: which conversation a message joins, in real SQLite."""

from __future__ import annotations

from pipeline_parts import NOW, placed, said
from sqlalchemy import select

from bot.pipeline.sender import find_senders
from bot.pipeline.store import store_message
from bot.pipeline.thread import find_threads
from bot.pipeline.turn import Outcome, Turn
from core.contracts import ChannelKind
from core.db import SessionFactory
from core.models import Conversation, ConversationEvent, ConversationStatus, EventKind


async def test_a_run_opens_one_new_conversation_per_client(sessions: SessionFactory) -> None:
    run = [said("Первый", visitor="a"), said("Второй", visitor="a"), said("Other", visitor="b")]
    async with sessions() as session:
        senders = await find_senders(session, run, NOW, "ru")
        threads = await find_threads(session, senders.client_ids)
        turns = [
            Turn(m, senders.of(m, NOW), Outcome(senders.of(m, NOW).identity, "ru")) for m in run
        ]
        for turn in turns:
            await threads.place(session, turn, NOW)
        await threads.open_new(session, turns)
        assert [t.created for t in turns] == [True, False, True]
        for turn in turns:
            store_message(session, turn, NOW)
        await session.commit()
    assert turns[0].placed.id == turns[1].placed.id != turns[2].placed.id
    async with sessions() as session:
        created = list(
            await session.scalars(
                select(ConversationEvent.conversation_id).where(
                    ConversationEvent.kind == EventKind.CREATED
                )
            )
        )
    assert sorted(created) == sorted({t.placed.id for t in turns})


async def test_a_ticket_number_reopens_a_closed_conversation(sessions: SessionFactory) -> None:
    async with sessions() as session:
        first = await placed(session, said("Вопрос", visitor="a"), store=True)
        first.placed.status = ConversationStatus.CLOSED
        await session.commit()
    async with sessions() as session:
        again = await placed(
            session,
            said("Re: вопрос", visitor="a", channel=ChannelKind.WEB, thread_hint=first.placed.id),
        )
        await session.commit()
        assert again.placed.id == first.placed.id and not again.created
        assert again.placed.status is ConversationStatus.BOT
    async with sessions() as session:
        kinds = list(await session.scalars(select(ConversationEvent.kind)))
    assert EventKind.REOPENED in kinds


async def test_someone_elses_ticket_number_opens_a_new_conversation(
    sessions: SessionFactory,
) -> None:
    async with sessions() as session:
        theirs = await placed(session, said("Мой вопрос", visitor="a"), store=True)
        await session.commit()
    async with sessions() as session:
        mine = await placed(session, said("Чужой номер", visitor="b", thread_hint=theirs.placed.id))
        await session.commit()
    assert mine.created and mine.placed.id != theirs.placed.id
    async with sessions() as session:
        assert len(list(await session.scalars(select(Conversation)))) == 2


async def test_reply_headers_find_the_conversation_of_the_letter(sessions: SessionFactory) -> None:
    async with sessions() as session:
        letter = await placed(
            session, said("Письмо", visitor="m@example.com", channel=ChannelKind.EMAIL), store=True
        )
        await session.commit()
        old = letter.placed.id
        letter.placed.status = ConversationStatus.CLOSED
        await session.commit()
    async with sessions() as session:
        other = await placed(
            session, said("Новая тема", visitor="m@example.com", channel=ChannelKind.EMAIL)
        )
        await session.commit()
    assert other.placed.id != old  # closed, no headers: a new one
    async with sessions() as session:
        reply = await placed(
            session,
            said(
                "Ответ",
                visitor="m@example.com",
                channel=ChannelKind.EMAIL,
                reply_to=(letter.inbound.platform_message_id,),
            ),
        )
        await session.commit()
    assert reply.placed.id == old
