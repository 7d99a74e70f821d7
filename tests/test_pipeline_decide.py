"""The decide step: the dialogue policy's replies and hand-offs, in real SQLite.

The knowledge base's answers go through the whole engine in tests/test_engine.py; here
the policy is given what `recognise` made of a message and its outcome is checked."""

from __future__ import annotations

import datetime as dt

import pytest
from pipeline_parts import NOW, placed, said
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.knowledge import KnowledgeBase
from bot.pipeline.answer_caps import AnswerCaps
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
    return Policy(Consult(KnowledgeBase(sessions, redis), levels), levels)


CAPS = AnswerCaps({ChannelKind.EMAIL: 1})
"""One bot answer an hour to an email address; other channels uncapped."""


async def decide(policy: Policy, session: AsyncSession, turn: Turn, recognised: Recognised) -> None:
    """The policy on one message, its run's answers counted as the engine counts them."""
    answers = await CAPS.count(session, [turn.sender.identity], NOW)
    await policy(session, turn, recognised, NOW, {}, answers)


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
        await decide(policy, session, turn, Recognised(intent, with_operators=False))
        await session.commit()
    [reply] = await replies_sent(sessions)
    assert reply.text == say(key, "en")
    assert [r.id for r in turn.outcome.replies] == [reply.id] and turn.outcome.queued_id is None
    assert bool(reply.buttons) is (intent is Intent.FILE)  # a file: the hand-off button


async def test_a_request_for_a_person_hands_off(sessions: SessionFactory, policy: Policy) -> None:
    async with sessions() as session:
        turn = await placed(session, said("Позовите оператора"), store=True)
        await decide(policy, session, turn, Recognised(Intent.PERSON, with_operators=False))
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
        await decide(policy, session, turn, Recognised(Intent.PERSON, with_operators=True))
        await session.commit()
    assert turn.message is not None
    assert turn.outcome.notices == [
        (
            "client_message",
            {
                "conversation_id": first.placed.id,
                "message_id": turn.message,  # told as its id after the commit
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
        await decide(policy, session, first, Recognised(Intent.GREETING, with_operators=False))
        await session.commit()
        second = await placed(
            session,
            said("Why is my invoice wrong?", visitor="a@example.com", channel=ChannelKind.EMAIL),
            store=True,
        )
        await decide(policy, session, second, Recognised(Intent.QUESTION, with_operators=False))
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
        await decide(policy, session, third, Recognised(Intent.PERSON, with_operators=True))
        await session.commit()
    assert [kind for kind, _ in third.outcome.notices] == ["client_message"]
    assert len(await replies_sent(sessions)) == 1  # no "still queued" past the cap


async def test_the_cap_counts_the_replies_made_earlier_in_the_same_run(
    sessions: SessionFactory, policy: Policy
) -> None:
    """A polled batch is counted once, before its first message: a reply the run made
    counts for the run's later messages although it is not written yet."""
    async with sessions() as session:
        first = await placed(
            session, said("Hello", visitor="b@example.com", channel=ChannelKind.EMAIL), store=True
        )
        answers = await CAPS.count(session, [first.sender.identity], NOW)
        greeting = Recognised(Intent.GREETING, with_operators=False)
        await policy(session, first, greeting, NOW, {}, answers)
        answers.add(first.outcome)
        second = await placed(
            session,
            said("Hello again", visitor="b@example.com", channel=ChannelKind.EMAIL),
            store=True,
        )
        await policy(session, second, greeting, NOW, {}, answers)
        await session.commit()
    assert second.placed.status is ConversationStatus.QUEUED and not second.outcome.tell_client
    assert [r.text for r in await replies_sent(sessions)] == [say("greeting", "en")]


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
