"""The recognise step: what a message is, through real SQLite and Redis."""

from __future__ import annotations

import datetime as dt

import pytest
from pipeline_parts import NOW, placed, said
from redis.asyncio import Redis

from bot.pipeline.recognise import Intent, Recognise, find_rating
from core.contracts import Action, Attachment, AttachmentKind, Button, ChannelKind
from core.db import SessionFactory
from core.events import DeskFeed
from core.messages import add_reply
from core.models import Author, ConversationStatus
from core.texts import TEXTS
from identity.codes import ProofCodes
from identity.recognition import Recognition
from routing.queue import OperatorQueue


@pytest.fixture
def recognise(redis: Redis, sessions: SessionFactory) -> Recognise:
    return Recognise(
        Recognition(
            sessions=sessions,
            codes=ProofCodes(redis),
            queue=OperatorQueue(redis),
            feed=DeskFeed(redis),
            desk_language="ru",
        )
    )


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("Здравствуйте!", Intent.GREETING),
        ("привeт", Intent.GREETING),  # a Latin "e" in a Russian word
        ("Good morning", Intent.GREETING),
        ("Спасибо большое", Intent.THANKS),
        ("thank you", Intent.THANKS),
        ("Позовите оператора", Intent.PERSON),
        ("I need a human", Intent.PERSON),
        ("Почему оператор списал деньги с карты дважды за один и тот же месяц?", Intent.QUESTION),
        ("Как заблокировать карту?", Intent.QUESTION),
        ("", Intent.EMPTY),
    ],
)
async def test_words_are_recognised_in_either_language(
    sessions: SessionFactory, recognise: Recognise, text: str, intent: Intent
) -> None:
    async with sessions() as session:
        turn = await placed(session, said(text), store=True)
        assert (await recognise(session, turn, NOW)).intent is intent


async def test_an_opener_naming_no_topic_is_vague_once_in_a_chat(
    sessions: SessionFactory, recognise: Recognise
) -> None:
    async with sessions() as session:
        turn = await placed(session, said("Здравствуйте, у меня вопрос"), store=True)
        assert (await recognise(session, turn, NOW)).intent is Intent.VAGUE
        await add_reply(
            session, turn.placed, text=TEXTS["describe"]["ru"], author=Author.BOT, at=NOW
        )
        await session.commit()
        again = await placed(session, said("помогите"), store=True)
        assert (await recognise(session, again, NOW)).intent is Intent.QUESTION
        letter = said("Здравствуйте, у меня вопрос", channel=ChannelKind.EMAIL, visitor="a@b.c")
        mailed = await placed(session, letter, store=True)
        assert (await recognise(session, mailed, NOW)).intent is Intent.QUESTION
        number = await placed(session, said("12345", visitor="other"), store=True)
        assert (await recognise(session, number, NOW)).intent is Intent.QUESTION


async def test_start_files_and_stickers(sessions: SessionFactory, recognise: Recognise) -> None:
    cases = [
        (said("/start", action=Action.START), Intent.START),
        (said("", attachments=(Attachment(AttachmentKind.STICKER),)), Intent.STICKER),
        (said("", attachments=(Attachment(AttachmentKind.DOCUMENT, name="a.pdf"),)), Intent.FILE),
        (said("", action=Action.HANDOFF), Intent.PERSON),
    ]
    async with sessions() as session:
        for inbound, intent in cases:
            turn = await placed(session, inbound, store=True)
            assert (await recognise(session, turn, NOW)).intent is intent, inbound


async def test_a_number_picks_an_offered_article(
    sessions: SessionFactory, recognise: Recognise
) -> None:
    async with sessions() as session:
        turn = await placed(session, said("Карта"), store=True)
        await add_reply(
            session,
            turn.placed,
            text="Which one?",
            author=Author.BOT,
            at=NOW,
            buttons=[
                Button("Lost", Action.CHOOSE, "lost_card"),
                Button("Blocked", Action.CHOOSE, "blocked_card"),
            ],
        )
        await session.commit()
        second = await placed(session, said("2."), store=True)
        picked = await recognise(session, second, NOW)
        third = await placed(session, said("7"), store=True)
        out_of_range = await recognise(session, third, NOW)
    assert (picked.intent, picked.article_id) == (Intent.CHOICE, "blocked_card")
    assert out_of_range.intent is Intent.QUESTION


async def test_with_an_operator_only_a_request_for_a_person_counts(
    sessions: SessionFactory, recognise: Recognise
) -> None:
    async with sessions() as session:
        turn = await placed(session, said("Вопрос"), store=True)
        turn.placed.status = ConversationStatus.ASSIGNED
        await session.commit()
        hello = await placed(session, said("Привет"), store=True)
        wait = await placed(session, said("сколько ждать?"), store=True)
        person = await placed(session, said("оператор где?"), store=True)
        assert (await recognise(session, hello, NOW)).intent is Intent.FOR_OPERATORS
        assert (await recognise(session, wait, NOW)).intent is Intent.FOR_OPERATORS
        recognised = await recognise(session, person, NOW)
    assert recognised.intent is Intent.PERSON and recognised.with_operators


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("сколько ждать?", Intent.WAITING),
        ("ау, есть кто живой?", Intent.WAITING),
        ("почему так долго", Intent.WAITING),
        ("жду уже 20 минут", Intent.WAITING),
        ("оператор где?", Intent.WAITING),
        ("???", Intent.WAITING),
        ("how long will it take?", Intent.WAITING),
        ("any update?", Intent.WAITING),
        ("Есть новости по моему вопросу?", Intent.WAITING),
        ("что с моей заявкой?", Intent.WAITING),
        ("what's the status?", Intent.WAITING),
        ("ок, жду", Intent.FOR_OPERATORS),
        ("Привет", Intent.FOR_OPERATORS),
        ("сколько ждать карту?", Intent.FOR_OPERATORS),
        ("когда будет ответ по моему заявлению", Intent.FOR_OPERATORS),
        ("how long does a transfer take", Intent.FOR_OPERATORS),
        ("как подать заявку на ипотеку", Intent.FOR_OPERATORS),
    ],
)
async def test_in_the_queue_a_question_about_the_wait_is_told_from_one_with_a_topic(
    sessions: SessionFactory, recognise: Recognise, text: str, intent: Intent
) -> None:
    async with sessions() as session:
        turn = await placed(session, said("Вопрос"), store=True)
        turn.placed.status = ConversationStatus.QUEUED
        await session.commit()
        asked = await placed(session, said(text), store=True)
        assert (await recognise(session, asked, NOW)).intent is intent


async def test_a_typed_digit_rates_a_closed_conversation_asked_to_be_rated(
    sessions: SessionFactory,
) -> None:
    async with sessions() as session:
        turn = await placed(session, said("Вопрос"), store=True)
        turn.placed.status = ConversationStatus.CLOSED
        turn.placed.resolved_at = NOW
        await add_reply(
            session,
            turn.placed,
            text="Rate us",
            author=Author.BOT,
            at=NOW,
            buttons=[Button("5", Action.RATE, f"{turn.placed.id}:5")],
        )
        await session.commit()
        client = turn.sender.client
        rating = await find_rating(session, said("4"), client, NOW + dt.timedelta(hours=1))
        late = await find_rating(session, said("4"), client, NOW + dt.timedelta(days=4))
        button = await find_rating(
            session, said("", action=Action.RATE, payload=f"{turn.placed.id}:2"), client, NOW
        )
        not_a_rating = await find_rating(session, said("6"), client, NOW)
    assert rating is not None and (rating.conversation.id, rating.score) == (turn.placed.id, 4)
    assert button is not None and button.score == 2
    assert late is None and not_a_rating is None
