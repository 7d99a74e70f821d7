"""The decide step: the dialogue policy's replies and hand-offs, in real SQLite.

The knowledge base's answers go through the whole engine in tests/test_engine.py; here
the policy is given what `recognise` made of a message and its outcome is checked."""

from __future__ import annotations

import datetime as dt

import pytest
from pipeline_parts import NOW, placed, said
from redis.asyncio import Redis
from sqlalchemy import select

from bot.knowledge import KnowledgeBase
from bot.pipeline.consult import Consult
from bot.pipeline.decide import Policy, apply_rating, thank_for_rating
from bot.pipeline.recognise import Intent, Rating, Recognised
from bot.pipeline.sender import find_senders
from bot.pipeline.turn import Outcome, Turn
from core.contracts import ChannelKind
from core.db import SessionFactory
from core.models import ConversationEvent, ConversationStatus, Direction, EventKind, Message
from core.texts import say
from routing.service_levels import BusinessCalendar, ServiceLevels


@pytest.fixture
def policy(sessions: SessionFactory, redis: Redis) -> Policy:
    levels = ServiceLevels.load(
        None, BusinessCalendar("Europe/Moscow", (dt.time(9), dt.time(18)), range(1, 6))
    )
    return Policy(Consult(KnowledgeBase(sessions, redis), levels), levels, {ChannelKind.EMAIL: 1})


async def replies_sent(sessions: SessionFactory) -> list[Message]:
    async with sessions() as session:
        return list(
            await session.scalars(
                select(Message).where(Message.direction == Direction.OUT).order_by(Message.id)
            )
        )


@pytest.mark.parametrize(
    ("intent", "key"),
    [
        (Intent.GREETING, "greeting"),
        (Intent.START, "greeting"),
        (Intent.THANKS, "thanks"),
        (Intent.STICKER, "sticker"),
        (Intent.EMPTY, "empty"),
        (Intent.FILE, "file_received"),
    ],
)
async def test_small_talk_gets_its_reply_in_the_clients_language(
    sessions: SessionFactory, policy: Policy, intent: Intent, key: str
) -> None:
    async with sessions() as session:
        turn = await placed(session, said("Hi there"), store=True)
        await policy(session, turn, Recognised(intent, with_operators=False), NOW, {})
        await session.commit()
    [reply] = await replies_sent(sessions)
    assert reply.text == say(key, "en")
    assert [r.id for r in turn.outcome.replies] == [reply.id] and turn.outcome.queued_id is None
    assert bool(reply.buttons) is (intent is Intent.FILE)  # a file: the hand-off button


async def test_a_request_for_a_person_hands_off(sessions: SessionFactory, policy: Policy) -> None:
    async with sessions() as session:
        turn = await placed(session, said("Позовите оператора"), store=True)
        await policy(session, turn, Recognised(Intent.PERSON, with_operators=False), NOW, {})
        await session.commit()
        kinds = list(await session.scalars(select(ConversationEvent.kind)))
    conversation = turn.placed
    assert conversation.status is ConversationStatus.QUEUED and conversation.sla_deadline
    assert turn.outcome.queued_id == conversation.id and turn.outcome.tell_client
    assert {EventKind.HANDED_OFF, EventKind.QUEUED} <= set(kinds)
    assert (
        "queued",
        {"conversation_id": conversation.id, "group": conversation.group},
    ) in turn.outcome.notices


async def test_in_the_queue_the_operators_are_told_and_a_person_request_answered(
    sessions: SessionFactory, policy: Policy
) -> None:
    async with sessions() as session:
        first = await placed(session, said("Вопрос"), store=True)
        first.placed.status = ConversationStatus.QUEUED
        await session.commit()
        turn = await placed(session, said("Ну где оператор?"), store=True)
        await policy(session, turn, Recognised(Intent.PERSON, with_operators=True), NOW, {})
        await session.commit()
    assert turn.message is not None
    assert turn.outcome.notices == [
        (
            "client_message",
            {
                "conversation_id": first.placed.id,
                "message_id": turn.message.id,
                "operator_id": None,
            },
        )
    ]
    [reply] = await replies_sent(sessions)
    assert reply.text == say("still_queued", "ru") and turn.outcome.queued_id is None


async def test_over_the_channels_answer_cap_the_bot_hands_off_silently(
    sessions: SessionFactory, policy: Policy
) -> None:
    async with sessions() as session:
        first = await placed(
            session, said("Hello", visitor="a@example.com", channel=ChannelKind.EMAIL), store=True
        )
        await policy(session, first, Recognised(Intent.GREETING, with_operators=False), NOW, {})
        await session.commit()
        second = await placed(
            session,
            said("Why is my invoice wrong?", visitor="a@example.com", channel=ChannelKind.EMAIL),
            store=True,
        )
        await policy(session, second, Recognised(Intent.QUESTION, with_operators=False), NOW, {})
        await session.commit()
    assert second.placed.status is ConversationStatus.QUEUED
    assert second.outcome.queued_id == second.placed.id and not second.outcome.tell_client
    assert len(await replies_sent(sessions)) == 1  # the greeting only

    async with sessions() as session:  # queued now: the operators hear, the client does not
        third = await placed(
            session,
            said("Hello?", visitor="a@example.com", channel=ChannelKind.EMAIL),
            store=True,
        )
        await policy(session, third, Recognised(Intent.PERSON, with_operators=True), NOW, {})
        await session.commit()
    assert [kind for kind, _ in third.outcome.notices] == ["client_message"]
    assert len(await replies_sent(sessions)) == 1  # no "still queued" past the cap


async def test_the_answer_cap_counts_replies_not_yet_written(
    sessions: SessionFactory, policy: Policy
) -> None:
    """Two messages in one unit of work, placed first and then decided, as the engine takes
    a polled batch: the first one's reply, still unwritten, counts against the cap of the
    second, and counting writes nothing (the batch is written once, at the commit)."""
    async with sessions() as session:
        first = await placed(
            session, said("Hello", visitor="b@example.com", channel=ChannelKind.EMAIL), store=True
        )
        second = await placed(
            session,
            said("Why is my invoice wrong?", visitor="b@example.com", channel=ChannelKind.EMAIL),
            store=True,
        )
        await policy(session, first, Recognised(Intent.GREETING, with_operators=False), NOW, {})
        await policy(session, second, Recognised(Intent.QUESTION, with_operators=False), NOW, {})
        [greeting] = first.outcome.replies
        assert greeting.id == 0  # not written for the count
        await session.commit()
    assert second.placed.status is ConversationStatus.QUEUED and not second.outcome.tell_client
    assert len(await replies_sent(sessions)) == 1  # the greeting only


async def test_a_rating_is_recorded_and_thanked_for(sessions: SessionFactory) -> None:
    async with sessions() as session:
        earlier = await placed(session, said("Вопрос"), store=True)
        earlier.placed.status = ConversationStatus.CLOSED
        await session.commit()
        rating = said("5")
        sender = (await find_senders(session, [rating], NOW, "ru")).of(rating, NOW)
        turn = Turn(rating, sender, Outcome(sender.identity, sender.language))
        await apply_rating(session, turn, Rating(earlier.placed, 5), NOW)
        await session.commit()
        kinds = list(await session.scalars(select(ConversationEvent.kind)))
        assert await replies_sent(sessions) == []  # the thanks waits for the rating's message
        await thank_for_rating(session, turn, NOW)
        await session.commit()
    assert turn.rated and turn.placed.id == earlier.placed.id and turn.placed.rating == 5
    assert EventKind.RATED in kinds
    [reply] = await replies_sent(sessions)
    assert reply.text == say("rated", "ru")
