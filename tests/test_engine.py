"""The engine's dialogue policy, through the real gateway: sample KB, real Redis queue, real DB.

Each test feeds `InboundMessage`s to the engine (the sink every channel calls) and asserts
what the client was sent (stored outbound messages, delivered through the web channel),
what the conversation became, and what the live queue holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import sqlite3
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from stepping_clock import SteppingClock

from admin.desk.errors import DeskError
from core.contracts import Action, Attachment, AttachmentKind, ChannelKind, InboundMessage
from core.models import (
    Author,
    Conversation,
    ConversationEvent,
    ConversationStatus,
    Delivery,
    Direction,
    EventKind,
    Identity,
    KbMiss,
    Message,
)
from routing.presence import PresenceState
from routing.rebuild import entry_for
from switchboard.app import Gateway

_ids = itertools.count(1)


def said(
    text: str = "",
    *,
    visitor: str = "visitor-1",
    channel: ChannelKind = ChannelKind.WEB,
    platform_id: str | None = None,
    **fields: object,
) -> InboundMessage:
    return InboundMessage(
        channel=channel,
        external_user_id=visitor,
        chat_id=visitor,
        platform_message_id=platform_id or f"m{next(_ids)}",
        text=text,
        **fields,  # type: ignore[arg-type]
    )


async def replies(gateway: Gateway, visitor: str = "visitor-1") -> list[Message]:
    """Everything sent to the client so far, oldest first (after the outbox has run)."""
    await gateway.outbox.drain()
    async with gateway.sessions() as session:
        return list(
            await session.scalars(
                select(Message)
                .join(Identity, Message.identity_id == Identity.id)
                .where(
                    Identity.external_id == visitor,
                    Message.direction == Direction.OUT,
                    Message.private.is_(False),
                )
                .order_by(Message.id)
            )
        )


async def conversations(gateway: Gateway) -> Sequence[Conversation]:
    async with gateway.sessions() as session:
        return list(await session.scalars(select(Conversation).order_by(Conversation.id)))


async def events(gateway: Gateway, conversation_id: int) -> list[EventKind]:
    async with gateway.sessions() as session:
        return list(
            await session.scalars(
                select(ConversationEvent.kind)
                .where(ConversationEvent.conversation_id == conversation_id)
                .order_by(ConversationEvent.id)
            )
        )


async def test_a_known_question_is_answered_from_the_knowledge_base(gateway: Gateway) -> None:
    await gateway.engine.handle(said("Я потерял карту, что делать?"))

    sent = await replies(gateway)
    assert len(sent) == 1
    assert sent[0].author is Author.BOT and sent[0].delivery is Delivery.SENT
    assert sent[0].kb_article_id is not None
    article = gateway.knowledge.index.article(sent[0].kb_article_id)
    assert article is not None and article.category == "lost_card"
    assert sent[0].text == article.answer
    [conversation] = await conversations(gateway)
    assert conversation.status is ConversationStatus.BOT
    assert conversation.category == "lost_card"
    assert EventKind.BOT_ANSWERED in await events(gateway, conversation.id)
    assert await gateway.queue.waiting() == []


async def test_an_unknown_question_is_queued_and_the_client_told_when(gateway: Gateway) -> None:
    await gateway.engine.handle(said("Почему мой кот боится пылесоса и как его успокоить?"))

    [conversation] = await conversations(gateway)
    assert conversation.status is ConversationStatus.QUEUED
    assert conversation.sla_deadline is not None and conversation.group
    waiting = await gateway.queue.waiting()
    assert [entry.conversation_id for entry in waiting] == [conversation.id]
    [told] = await replies(gateway)
    assert "оператор" in told.text and "1-й в очереди" in told.text
    async with gateway.sessions() as session:
        misses = list(await session.scalars(select(KbMiss.question)))
    assert misses == ["Почему мой кот боится пылесоса и как его успокоить?"]
    assert {EventKind.HANDED_OFF, EventKind.QUEUED} <= set(await events(gateway, conversation.id))
    assert conversation.category == "general"  # no article is a guess: the desk's default


async def test_a_hand_off_after_an_answer_takes_the_category_its_own_evidence_supports(
    gateway: Gateway,
) -> None:
    """Answered about card delivery, then a double charge the bot is unsure of: the fraud
    desk's category, not the delivery answer's; an off-topic question after it keeps the
    conversation's."""
    await gateway.engine.handle(said("Сколько идёт доставка карты?"))
    [conversation] = await conversations(gateway)
    assert conversation.category == "cards"

    await gateway.engine.handle(said("списали деньги дважды за одну покупку"))
    [conversation] = await conversations(gateway)
    assert conversation.status is ConversationStatus.QUEUED
    assert conversation.category == "fraud"
    [entry] = await gateway.queue.waiting()
    assert entry.category == "fraud"


async def test_an_off_topic_hand_off_after_an_answer_keeps_the_conversations_category(
    gateway: Gateway,
) -> None:
    await gateway.engine.handle(said("Сколько идёт доставка карты?"))
    await gateway.engine.handle(said("Почему мой кот боится пылесоса и как его успокоить?"))

    [conversation] = await conversations(gateway)
    assert conversation.status is ConversationStatus.QUEUED
    assert conversation.category == "cards"


async def test_a_question_only_the_other_languages_article_answers_says_so(
    gateway: Gateway,
) -> None:
    await gateway.engine.handle(said("How do I close my account?"))

    [answer] = await replies(gateway)
    article = gateway.knowledge.index.article("account-close")
    assert article is not None and article.language == "ru"
    assert answer.kb_article_id == "account-close"
    assert answer.text == f"We have this answer in Russian only:\n\n{article.answer}"


@pytest.mark.parametrize("settings", [{"kb_other_language": "handoff"}], indirect=True)
async def test_a_desk_may_hand_off_instead_of_answering_in_the_other_language(
    gateway: Gateway,
) -> None:
    await gateway.engine.handle(said("How do I close my account?"))

    [conversation] = await conversations(gateway)
    assert conversation.status is ConversationStatus.QUEUED
    assert conversation.category == "account"  # the article it would have answered with
    [told] = await replies(gateway)
    assert told.kb_article_id is None and "operator" in told.text


async def test_asking_for_a_person_hands_off_in_the_clients_language(gateway: Gateway) -> None:
    await gateway.engine.handle(said("I want to talk to a human operator"))

    [conversation] = await conversations(gateway)
    assert conversation.status is ConversationStatus.QUEUED
    [told] = await replies(gateway)
    assert "operator" in told.text and "queue" in told.text


async def test_the_handoff_button_hands_off(gateway: Gateway) -> None:
    await gateway.engine.handle(said("", action=Action.HANDOFF))
    [conversation] = await conversations(gateway)
    assert conversation.status is ConversationStatus.QUEUED


async def test_a_redelivered_message_is_stored_and_answered_once(gateway: Gateway) -> None:
    question = said("Я потерял карту", platform_id="dup-1")
    await gateway.engine.handle(question)
    await gateway.engine.handle(question)

    async with gateway.sessions() as session:
        stored = await session.scalar(
            select(func.count(Message.id)).where(Message.direction == Direction.IN)
        )
    assert stored == 1
    assert len(await replies(gateway)) == 1


async def test_a_polled_batch_is_handled_as_its_messages_one_by_one(gateway: Gateway) -> None:
    """One unit of work for a batch: new clients, a client writing twice, a redelivery and
    an edit inside it, and the whole batch delivered again."""
    batch = [
        said("Я потерял карту, что делать?", visitor="tg-a", platform_id="b-1"),
        said(
            "Почему мой кот боится пылесоса и как его успокоить?", visitor="tg-b", platform_id="b-2"
        ),
        said("спасибо", visitor="tg-a", platform_id="b-3"),
        said("Я потерял карту, что делать?", visitor="tg-a", platform_id="b-1"),
        said("Почему мой пёс боится пылесоса?", visitor="tg-b", platform_id="b-2", edited=True),
        said("позовите оператора", visitor="tg-c", platform_id="b-4"),
    ]
    await gateway.engine.handle_many(batch)
    await gateway.engine.handle_many(batch)

    first, thanks = await replies(gateway, "tg-a")
    assert first.kb_article_id is not None
    article = gateway.knowledge.index.article(first.kb_article_id)
    assert article is not None and article.category == "lost_card"
    assert thanks.text.startswith("Пожалуйста!")
    [queued_b] = await replies(gateway, "tg-b")
    [queued_c] = await replies(gateway, "tg-c")
    assert "1-й в очереди" in queued_b.text and "2-й в очереди" in queued_c.text
    by_client = {c.client_id: c for c in await conversations(gateway)}
    assert len(by_client) == 3  # one per client
    async with gateway.sessions() as session:
        inbound = list(
            await session.scalars(
                select(Message).where(Message.direction == Direction.IN).order_by(Message.id)
            )
        )
    assert [m.channel_message_id for m in inbound] == ["b-1", "b-2", "b-3", "b-4"]
    assert inbound[1].text == "Почему мой пёс боится пылесоса?"  # the edit applied once
    assert inbound[0].conversation_id == inbound[2].conversation_id
    waiting = await gateway.queue.waiting()
    assert [e.conversation_id for e in waiting] == [
        inbound[1].conversation_id,
        inbound[3].conversation_id,
    ]
    assert [await events(gateway, inbound[0].conversation_id)] == [
        [EventKind.CREATED, EventKind.BOT_ANSWERED]
    ]


async def test_small_talk_and_non_text_get_their_own_replies(gateway: Gateway) -> None:
    await gateway.engine.handle(said("Здравствуйте!"))
    await gateway.engine.handle(said("спасибо"))
    await gateway.engine.handle(said("   "))
    await gateway.engine.handle(
        said("", attachments=(Attachment(AttachmentKind.STICKER, file_id="s1"),))
    )
    await gateway.engine.handle(
        said(
            "",
            attachments=(
                Attachment(AttachmentKind.PHOTO, file_id="p1", mime="image/jpeg", size=1000),
            ),
        )
    )

    texts = [m.text for m in await replies(gateway)]
    assert texts[0].startswith("Здравствуйте! Я бот поддержки")
    assert texts[1].startswith("Пожалуйста!")
    assert "пустое" in texts[2]
    assert "стикер" in texts[3]
    assert texts[4].startswith("Файл получил")
    [conversation] = await conversations(gateway)
    assert conversation.status is ConversationStatus.BOT
    async with gateway.sessions() as session:
        inbound = list(
            await session.scalars(
                select(Message).where(Message.direction == Direction.IN).order_by(Message.id)
            )
        )
    assert [m.attachments[0]["file_id"] for m in inbound if m.attachments] == ["s1", "p1"]


async def test_asked_again_the_bot_does_not_repeat_its_answer_but_offers_a_person(
    gateway: Gateway,
) -> None:
    await gateway.engine.handle(said("Я потерял карту"))
    await gateway.engine.handle(said("потерял карту, что делать?"))
    await gateway.engine.handle(said("что делать если потерял карту"))

    answer, again, third = await replies(gateway)
    assert answer.kb_article_id == "card-lost"
    assert (
        again.text
        == third.text
        == (
            "Об этом — мой ответ выше, другого у меня нет. Если он не помог, нажмите «Позвать "
            "оператора»: передам вопрос оператору."
        )
    )
    assert [b["action"] for b in again.buttons] == ["handoff"]
    await gateway.engine.handle(said("Как поменять ПИН-код?"))  # another topic: answered
    assert (await replies(gateway))[-1].kb_article_id == "card-pin"


async def test_the_bots_last_words_count_within_one_batch_and_across_batches(
    gateway: Gateway,
) -> None:
    """The bot's last words are read once per batch: a question asked twice in one batch,
    and again in the next batch beside another client's, is answered once each time."""
    SAME = "Об этом — мой ответ выше"
    await gateway.engine.handle_many(
        [said("Я потерял карту"), said("потерял карту, что делать?"), said("Как поменять ПИН-код?")]
    )
    await gateway.engine.handle_many(
        [
            said("Как поменять ПИН-код?"),
            said("Я потерял карту", visitor="visitor-2"),
            said("Я потерял карту"),
            said("потерял карту, что делать?"),
        ]
    )

    mine = await replies(gateway)
    assert [(m.kb_article_id, m.text.startswith(SAME)) for m in mine] == [
        ("card-lost", False),
        ("card-lost", True),
        ("card-pin", False),
        ("card-pin", True),
        ("card-lost", False),
        ("card-lost", True),
    ]
    [theirs] = await replies(gateway, "visitor-2")
    assert theirs.kb_article_id == "card-lost" and not theirs.text.startswith(SAME)


async def test_choices_offered_again_instead_of_picked_go_to_the_operators(
    gateway: Gateway,
) -> None:
    """The client wrote rather than pick: none of the choices fits, and offering the same
    again would not help; the miss is kept for the KB's gaps."""
    await gateway.engine.handle(said("карта"))
    offered = (await replies(gateway))[-1]
    assert offered.text.startswith("Уточните")
    await gateway.engine.handle(said("карта!"))

    assert (await replies(gateway))[-1].text.startswith("Передаю ваш вопрос оператору")
    async with gateway.sessions() as session:
        assert await session.scalar(select(func.count(KbMiss.id))) == 1


async def test_in_the_queue_the_same_answer_is_not_given_twice(gateway: Gateway) -> None:
    await waiting_with_an_answer(gateway)
    told = len(await replies(gateway))
    await gateway.engine.handle(said("потерял карту, что делать?"))

    assert [m.kb_article_id for m in (await replies(gateway))[told:]] in ([], [None])
    [conversation] = await conversations(gateway)
    assert conversation.status is ConversationStatus.QUEUED


async def test_an_opener_with_no_topic_is_asked_what_it_is_about_not_queued(
    gateway: Gateway,
) -> None:
    """«Здравствуйте, у меня вопрос» gives an operator nothing to act on: the bot asks once
    (a person is a button away); a second such message goes to the operators."""
    await gateway.engine.handle(said("Здравствуйте, у меня вопрос"))
    [asked] = await replies(gateway)
    assert asked.text.startswith("Слушаю вас! Опишите, пожалуйста, ваш вопрос")
    assert [b["action"] for b in asked.buttons] == ["handoff"]
    assert await gateway.queue.waiting() == []

    await gateway.engine.handle(said("Я потерял карту"))
    assert (await replies(gateway))[-1].kb_article_id == "card-lost"

    await gateway.engine.handle(said("hi, I need help", visitor="second"))
    await gateway.engine.handle(said("помогите", visitor="second"))
    assert (await replies(gateway, "second"))[-1].text.startswith("Передаю ваш вопрос оператору")
    assert len(await gateway.queue.waiting()) == 1


async def test_a_card_number_is_masked_before_it_is_kept_and_the_client_is_warned(
    gateway: Gateway, db_engine: AsyncEngine
) -> None:
    """Nowhere in the database (the message, its search copy, the KB's miss list), in a
    letter's subject neither; the client hears why, and then the bot's answer as usual."""
    await gateway.engine.handle(said("Почему мой кот боится пылесоса? Карта 4111 1111 1111 1111"))
    await gateway.engine.handle(
        said(
            "Оплата не прошла",
            channel=ChannelKind.EMAIL,
            visitor="nina@example.com",
            subject="Карта 5555555555554444",
        )
    )

    warning, handed_off = (m.text for m in await replies(gateway))
    assert warning.startswith("Похоже, в сообщении был номер банковской карты: мы его скрыли.")
    assert handed_off.startswith("Передаю ваш вопрос оператору")
    async with gateway.sessions() as session:
        stored = list(
            await session.scalars(
                select(Message.text).where(Message.direction == Direction.IN).order_by(Message.id)
            )
        )
    assert stored[0] == "Почему мой кот боится пылесоса? Карта •••• 1111"
    async with db_engine.connect() as connection:
        for table in ("messages", "kb_misses", "conversations"):
            rows = (await connection.execute(text(f"SELECT * FROM {table}"))).all()
            kept = " ".join(str(value) for row in rows for value in row)
            assert "4111" not in kept.replace("•••• 1111", "") and "5555555555554444" not in kept
    assert (await replies(gateway, "nina@example.com"))[0].text.startswith("Похоже")


async def test_an_operators_card_number_is_neither_sent_nor_kept(gateway: Gateway) -> None:
    await gateway.engine.handle(said("позовите оператора"))
    anna = await gateway.desk.operators.register("Анна")
    view = await gateway.desk.actions.take_next(anna.id)
    await gateway.desk.actions.reply(anna.id, view.id, "Карта 4111 1111 1111 1111 закрыта")

    assert (await replies(gateway))[-1].text == "Карта •••• 1111 закрыта"


async def test_huge_and_emoji_only_messages_are_kept_whole(gateway: Gateway) -> None:
    huge = "Мне не приходит смс с кодом. " * 3500  # about 100 kB
    await gateway.engine.handle(said(huge))
    await gateway.engine.handle(said("🙂🙂🙂"))

    async with gateway.sessions() as session:
        stored = list(
            await session.scalars(
                select(Message.text).where(Message.direction == Direction.IN).order_by(Message.id)
            )
        )
    assert stored == [huge, "🙂🙂🙂"]
    assert len(await replies(gateway)) == 2


async def test_an_edit_replaces_the_stored_text_without_a_second_answer(gateway: Gateway) -> None:
    await gateway.engine.handle(said("Я потерял карту", platform_id="e-1"))
    await gateway.engine.handle(said("Я потерял кредитную карту", platform_id="e-1", edited=True))

    async with gateway.sessions() as session:
        [message] = list(
            await session.scalars(select(Message).where(Message.direction == Direction.IN))
        )
    assert message.text == "Я потерял кредитную карту"
    assert message.original_text == "Я потерял карту"
    assert len(await replies(gateway)) == 1


async def test_a_queued_client_writing_again_is_acknowledged_once_and_not_queued_twice(
    gateway: Gateway,
) -> None:
    await gateway.engine.handle(said("позовите оператора"))
    await gateway.engine.handle(said("карта на имя Ивана"))
    await gateway.engine.handle(said("номер договора 123"))
    await gateway.engine.handle(said("привет"))

    assert len(await gateway.queue.waiting()) == 1
    [conversation] = await conversations(gateway)
    texts = [m.text for m in await replies(gateway)]
    # Tuesday 13:00 in Moscow; a general question has 8 business hours (09:00-18:00)
    assert texts[0] == (
        "Передаю ваш вопрос оператору. Вы 1-й в очереди, ответим завтра до 12:00 (МСК)."
    )
    assert len(texts) == 2 and "уже в очереди" in texts[1] and "увидит" in texts[1]
    assert (await events(gateway, conversation.id)).count(EventKind.QUEUE_ACKNOWLEDGED) == 1
    async with gateway.sessions() as session:
        inbound = await session.scalar(
            select(func.count(Message.id)).where(
                Message.conversation_id == conversation.id, Message.direction == Direction.IN
            )
        )
    assert inbound == 4


async def test_a_queued_client_asking_how_long_hears_their_place_now(
    gateway: Gateway, clock: SteppingClock
) -> None:
    """Their place as the queue has it now, and the deadline: once in a few minutes, so
    asking again at once adds nothing the operators do not see anyway."""
    await gateway.engine.handle(said("позовите оператора", visitor="first"))
    await gateway.engine.handle(said("позовите оператора"))
    await gateway.engine.handle(said("сколько ждать?"))
    await gateway.engine.handle(said("ау"))  # at once: the operators see it, the bot is silent
    await gateway.engine.handle(said("Спасибо, помогло!", visitor="first"))  # one ahead leaves
    clock.advance(minutes=3)
    await gateway.engine.handle(said("Долго ещё?"))
    clock.advance(minutes=3)
    await gateway.engine.handle(said("", action=Action.HANDOFF))  # the button again

    texts = [m.text for m in await replies(gateway)]
    # Tuesday 13:00 in Moscow; a general question has 8 business hours (09:00-18:00)
    assert texts == [
        "Передаю ваш вопрос оператору. Вы 2-й в очереди, ответим завтра до 12:00 (МСК).",
        "Ваш вопрос в очереди: вы 2-й, оператор ответит завтра до 12:00 (МСК). Он увидит все "
        "ваши сообщения.",
        "Ваш вопрос в очереди: вы 1-й, оператор ответит завтра до 12:00 (МСК). Он увидит все "
        "ваши сообщения.",
        "Ваш вопрос в очереди: вы 1-й, оператор ответит завтра до 12:00 (МСК). Он увидит все "
        "ваши сообщения.",
    ]
    [waiting] = await gateway.queue.waiting()
    [conversation] = [c for c in await conversations(gateway) if c.id == waiting.conversation_id]
    assert (await events(gateway, conversation.id)).count(EventKind.PLACE_TOLD) == 3


async def test_a_client_asking_after_the_deadline_hears_an_apology_not_a_time_gone_by(
    gateway: Gateway, clock: SteppingClock
) -> None:
    await gateway.engine.handle(said("Я потерял карту"))  # a lost card: 2 hours
    await gateway.engine.handle(said("", action=Action.HANDOFF))
    clock.advance(hours=3)
    await gateway.engine.handle(said("Алло? Есть кто?"))

    assert (await replies(gateway))[-1].text == (
        "Простите, что ответ задерживается: ваш вопрос в очереди, оператор ответит как можно "
        "скорее. Он увидит все ваши сообщения."
    )


async def test_a_queued_client_gets_what_the_kb_knows_and_may_take_the_question_off_the_queue(
    gateway: Gateway,
) -> None:
    """Waiting hours for a person, the client asks what the bot knows: it answers now, the
    conversation keeps its place and category; "question solved" closes it, out of the queue."""
    await gateway.engine.handle(said("Почему мой кот боится пылесоса и как его успокоить?"))
    [queued] = await conversations(gateway)
    deadline = queued.sla_deadline
    await gateway.engine.handle(said("Я потерял карту, что делать?"))

    answer = (await replies(gateway))[-1]
    article = gateway.knowledge.index.article("card-lost")
    assert article is not None and answer.kb_article_id == "card-lost"
    assert answer.text == (
        f"{article.answer}\n\nЕсли этого ответа достаточно, нажмите «Вопрос решён», и мы снимем "
        "вопрос с очереди. Если нет, вы остаётесь в очереди: оператор ответит."
    )
    assert answer.buttons == [
        {"label": "Вопрос решён", "action": "resolved", "payload": str(queued.id)}
    ]
    [conversation] = await conversations(gateway)
    assert conversation.status is ConversationStatus.QUEUED
    assert (conversation.category, conversation.sla_deadline) == ("general", deadline)
    assert [e.conversation_id for e in await gateway.queue.waiting()] == [queued.id]

    await gateway.engine.handle(said(action=Action.RESOLVED, payload=str(queued.id)))

    [conversation] = await conversations(gateway)
    assert conversation.status is ConversationStatus.CLOSED
    assert await gateway.queue.waiting() == []
    assert (await replies(gateway))[-1].text == (
        "Хорошо, сняли вопрос с очереди. Если понадобится помощь, просто напишите."
    )
    async with gateway.sessions() as session:
        closed = await session.scalar(
            select(ConversationEvent).where(
                ConversationEvent.conversation_id == queued.id,
                ConversationEvent.kind == EventKind.CLOSED,
            )
        )
    assert closed is not None and closed.data == {"by": "client"}


async def test_question_solved_pressed_again_is_thanked_and_reopens_nothing(
    gateway: Gateway,
) -> None:
    """The button stays under the answer: a second press, now or after a new question was
    queued, is thanked in the closed conversation; nothing reopens, nothing new opens, and
    the question waiting now stays queued."""
    await gateway.engine.handle(said("Почему мой кот боится пылесоса и как его успокоить?"))
    [first] = await conversations(gateway)

    def press() -> InboundMessage:
        return said(action=Action.RESOLVED, payload=str(first.id))

    await gateway.engine.handle(press())
    await gateway.engine.handle(press())
    assert [c.id for c in await conversations(gateway)] == [first.id]  # no empty new one
    await gateway.engine.handle(said("позовите оператора"))  # a new question, queued
    await gateway.engine.handle(press())

    closed, waiting = await conversations(gateway)
    assert (closed.id, closed.status) == (first.id, ConversationStatus.CLOSED)
    assert waiting.status is ConversationStatus.QUEUED
    assert [e.conversation_id for e in await gateway.queue.waiting()] == [waiting.id]
    assert EventKind.REOPENED not in await events(gateway, first.id)
    texts = [m.text for m in await replies(gateway)]
    assert texts.count("Пожалуйста! Если появятся ещё вопросы — пишите.") == 2


async def test_a_withdrawn_question_redis_still_lists_is_never_taken(gateway: Gateway) -> None:
    """The queue entry outlived the close (Redis away at that moment): taking it is refused
    as not waiting, and the entry goes, instead of an illegal closed -> assigned move."""
    await gateway.engine.handle(said("Почему мой кот боится пылесоса и как его успокоить?"))
    [queued] = await conversations(gateway)
    await gateway.engine.handle(said(action=Action.RESOLVED, payload=str(queued.id)))
    [closed] = await conversations(gateway)
    assert closed.status is ConversationStatus.CLOSED
    await gateway.queue.enqueue(entry_for(queued))
    anna = await gateway.desk.operators.register("Анна")

    with pytest.raises(DeskError) as refused:
        await gateway.desk.actions.take_next(anna.id)
    assert refused.value.key == "desk_not_queued"
    assert await gateway.queue.waiting() == []
    [still] = await conversations(gateway)
    assert (still.status, still.assigned_operator_id) == (ConversationStatus.CLOSED, None)


async def test_question_solved_pressed_after_an_operator_took_it_stays_with_them(
    gateway: Gateway,
) -> None:
    await gateway.engine.handle(said("Почему мой кот боится пылесоса и как его успокоить?"))
    await gateway.engine.handle(said("Я потерял карту, что делать?"))
    anna = await gateway.desk.operators.register("Анна")
    view = await gateway.desk.actions.take_next(anna.id)
    await gateway.engine.handle(said(action=Action.RESOLVED, payload=str(view.id)))

    [conversation] = await conversations(gateway)
    assert conversation.status is ConversationStatus.ASSIGNED
    assert conversation.assigned_operator_id == anna.id
    assert (await replies(gateway))[-1].text.startswith(
        "Вашим вопросом уже занимается оператор Анна"
    )


async def test_in_a_letter_the_queued_answer_says_the_question_stays_queued(
    gateway: Gateway,
) -> None:
    for question in ("Почему мой кот боится пылесоса и как его успокоить?", "Я потерял карту?"):
        await gateway.engine.handle(
            said(question, channel=ChannelKind.EMAIL, visitor="nina@example.com")
        )

    answer = (await replies(gateway, "nina@example.com"))[-1]
    assert answer.kb_article_id == "card-lost" and not answer.buttons
    assert answer.text.endswith(
        "Если этого ответа достаточно, ответьте на письмо словами «Вопрос решён», и мы снимем "
        "вопрос с очереди. Если нет, вы остаётесь в очереди: оператор ответит."
    )
    [conversation] = await conversations(gateway)
    assert conversation.status is ConversationStatus.QUEUED

    await gateway.engine.handle(
        said("Вопрос решён", channel=ChannelKind.EMAIL, visitor="nina@example.com")
    )
    [conversation] = await conversations(gateway)
    assert conversation.status is ConversationStatus.CLOSED
    assert await gateway.queue.waiting() == []


async def test_a_client_still_queued_at_the_deadline_hears_an_apology_once(
    gateway: Gateway, clock: SteppingClock
) -> None:
    """Not a client whose question an operator holds: they are about to answer."""
    await gateway.engine.handle(said("Я потерял карту"))  # a lost card: 2 hours
    await gateway.engine.handle(said("", action=Action.HANDOFF))
    await gateway.engine.handle(said("Я потерял карту", visitor="waiting"))
    await gateway.engine.handle(said("", visitor="waiting", action=Action.HANDOFF))
    anna = await gateway.desk.operators.register("Анна")
    await gateway.desk.actions.take_next(anna.id)  # the first in the queue: visitor-1's
    watcher = gateway.sla_watcher()
    clock.advance(hours=3)
    await watcher.run_once(clock.now)
    clock.advance(minutes=1)
    await watcher.run_once(clock.now)

    apology = (
        "Простите, что ответ задерживается: ваш вопрос в очереди, оператор ответит как можно "
        "скорее. Он увидит все ваши сообщения."
    )
    assert [m.text for m in await replies(gateway, "waiting")].count(apology) == 1
    assert apology not in [m.text for m in await replies(gateway)]  # Anna holds it


@pytest.mark.parametrize("settings", [{"late_apology": False}], indirect=True)
async def test_a_desk_may_leave_a_late_client_in_silence(
    gateway: Gateway, clock: SteppingClock
) -> None:
    await gateway.engine.handle(said("позовите оператора"))
    told = len(await replies(gateway))
    clock.advance(days=3)
    report = await gateway.sla_watcher().run_once(clock.now)

    assert len(report.breaches) == 1 and len(await replies(gateway)) == told


async def test_a_queued_follow_up_is_answered_only_when_its_answer_holds_after_the_question(
    gateway: Gateway,
) -> None:
    """«а ставка какая?» after a question about a credit card is not about deposits: the
    operators have it. A new question of its own («как поменять пин-код») is answered."""
    await gateway.engine.handle(said("хочу оформить кредитную карту"))
    [queued] = await conversations(gateway)
    assert queued.status is ConversationStatus.QUEUED
    await gateway.engine.handle(said("а процентная ставка какая"))
    assert gateway.knowledge.index.decide("а процентная ставка какая").decision.value == "answer"

    follow_up = (await replies(gateway))[-1]
    assert follow_up.kb_article_id is None and follow_up.text.startswith("Получили ваше сообщение")

    await gateway.engine.handle(said("как поменять пин код"))
    assert (await replies(gateway))[-1].kb_article_id == "card-pin"
    assert [e.conversation_id for e in await gateway.queue.waiting()] == [queued.id]


async def waiting_with_an_answer(gateway: Gateway) -> Conversation:
    """A client in the queue whom the bot has since answered from the KB."""
    await gateway.engine.handle(said("Почему мой кот боится пылесоса и как его успокоить?"))
    await gateway.engine.handle(said("Я потерял карту, что делать?"))
    [conversation] = await conversations(gateway)
    assert (await replies(gateway))[-1].kb_article_id == "card-lost"
    return conversation


_WITHDRAWN = "Хорошо, сняли вопрос с очереди. Если понадобится помощь, просто напишите."


async def assert_taken_off_the_queue(gateway: Gateway, heard: str = _WITHDRAWN) -> None:
    """The client's one conversation is closed by the client, out of the queue, and they
    were told `heard`."""
    [conversation] = await conversations(gateway)
    assert conversation.status is ConversationStatus.CLOSED
    assert await gateway.queue.waiting() == []
    assert (await replies(gateway))[-1].text == heard
    view = await gateway.desk.conversations.view(conversation.id)  # the console says by whom
    assert (view.status, view.closed_by, view.rating) == ("closed", "client", None)


@pytest.mark.parametrize(
    ("words", "heard"),
    [
        ("Спасибо, помогло!", _WITHDRAWN),
        ("всё получилось, спасибо большое", _WITHDRAWN),
        (
            "Thanks, solved",
            "Good: your question is off the queue. If you need help again, just write.",
        ),
    ],
)
async def test_a_queued_client_who_writes_that_the_answer_helped_is_taken_off_the_queue(
    gateway: Gateway, words: str, heard: str
) -> None:
    await waiting_with_an_answer(gateway)
    await gateway.engine.handle(said(words))

    await assert_taken_off_the_queue(gateway, heard)


async def test_a_queued_client_who_sorted_it_out_alone_is_taken_off_the_queue(
    gateway: Gateway,
) -> None:
    await gateway.engine.handle(said("Почему мой кот боится пылесоса и как его успокоить?"))
    await gateway.engine.handle(said("Разобрался сам, спасибо"))

    await assert_taken_off_the_queue(gateway)


async def test_thanks_for_the_queued_answer_get_the_button_again(gateway: Gateway) -> None:
    queued = await waiting_with_an_answer(gateway)
    await gateway.engine.handle(said("спасибо"))

    offer = (await replies(gateway))[-1]
    assert offer.text == (
        "Пожалуйста! Если ответ помог, нажмите «Вопрос решён», и мы снимем вопрос с очереди. "
        "Если нет, оператор ответит."
    )
    assert offer.buttons == [
        {"label": "Вопрос решён", "action": "resolved", "payload": str(queued.id)}
    ]
    [conversation] = await conversations(gateway)
    assert conversation.status is ConversationStatus.QUEUED


@pytest.mark.parametrize(
    "words",
    [
        "не помогло",
        "помогло, но карту так и не нашёл",
        "а если не помогло?",
        "Didn't help",
        "Получилось?",
    ],
)
async def test_a_queued_client_who_has_a_but_stays_in_the_queue(
    gateway: Gateway, words: str
) -> None:
    queued = await waiting_with_an_answer(gateway)
    await gateway.engine.handle(said(words))

    [conversation] = await conversations(gateway)
    assert conversation.status is ConversationStatus.QUEUED
    assert [e.conversation_id for e in await gateway.queue.waiting()] == [queued.id]
    assert (await replies(gateway))[-1].text.startswith(("Получили ваше сообщение", "Got your"))


async def test_thanks_before_the_bot_answered_in_the_queue_get_no_reply(
    gateway: Gateway,
) -> None:
    """The answer before the hand-off is what the client asked a person about: thanks after
    it are for the operators, who still have the question; the bot says nothing back, and
    the next message gets the acknowledgement."""
    await gateway.engine.handle(said("Я потерял карту, что делать?"))
    await gateway.engine.handle(said("позовите оператора"))
    told = len(await replies(gateway))
    await gateway.engine.handle(said("спасибо"))
    await gateway.engine.handle(said("ок"))

    [conversation] = await conversations(gateway)
    assert conversation.status is ConversationStatus.QUEUED
    assert len(await gateway.queue.waiting()) == 1
    assert len(await replies(gateway)) == told
    await gateway.engine.handle(said("номер договора 123"))
    assert (await replies(gateway))[-1].text.startswith("Получили ваше сообщение")


@pytest.mark.parametrize(
    ("words", "offer"),
    [
        ("отмена, уже не надо", "Снять вопрос с очереди? Если помощь больше не нужна"),
        ("мне больше не нужна помощь", "Снять вопрос с очереди? Если помощь больше не нужна"),
        ("I don't need it anymore", "Shall we take your question off the queue?"),
    ],
)
async def test_a_queued_client_who_needs_no_help_any_more_is_offered_the_button(
    gateway: Gateway, words: str, offer: str
) -> None:
    """Not the KB's article about cancelling a transfer: the button, which closes it."""
    await gateway.engine.handle(said("Почему мой кот боится пылесоса и как его успокоить?"))
    [queued] = await conversations(gateway)
    await gateway.engine.handle(said(words))

    last = (await replies(gateway))[-1]
    assert last.text.startswith(offer) and last.kb_article_id is None
    assert last.buttons == [
        {"label": last.buttons[0]["label"], "action": "resolved", "payload": str(queued.id)}
    ]
    assert [e.conversation_id for e in await gateway.queue.waiting()] == [queued.id]
    await gateway.engine.handle(said(action=Action.RESOLVED, payload=str(queued.id)))
    assert await gateway.queue.waiting() == []


@pytest.mark.parametrize("words", ["мне не нужна эта карта", "не надо блокировать карту"])
async def test_a_queued_request_not_to_do_something_stays_in_the_queue(
    gateway: Gateway, words: str
) -> None:
    await gateway.engine.handle(said("Почему мой кот боится пылесоса и как его успокоить?"))
    await gateway.engine.handle(said(words))

    assert not (await replies(gateway))[-1].text.startswith("Снять вопрос с очереди?")
    assert len(await gateway.queue.waiting()) == 1


async def test_operator_flow_and_rating_by_typed_digit(
    gateway: Gateway, clock: SteppingClock
) -> None:
    await gateway.engine.handle(said("позовите оператора"))
    operator = await gateway.desk.operators.register("Анна")
    view = await gateway.desk.actions.take_next(operator.id)
    clock.advance(minutes=3)
    await gateway.desk.actions.reply(operator.id, view.id, "Здравствуйте, это Анна. Чем помочь?")
    await gateway.engine.handle(said("оператор!"))  # a person is already on it: said once
    await gateway.engine.handle(said("позовите оператора"))
    await gateway.engine.handle(said("Спасибо, уже разобрался"))
    clock.advance(minutes=1)
    await gateway.desk.actions.close(operator.id, view.id)
    await gateway.engine.handle(said("5"))

    texts = [m.text for m in await replies(gateway)]
    assert texts[1] == "Вам отвечает оператор Анна."
    assert texts[2] == "Здравствуйте, это Анна. Чем помочь?"
    assert texts[3] == (
        "Вашим вопросом уже занимается оператор Анна: пишите здесь, оператор видит все ваши "
        "сообщения."
    )
    assert "Оцените" in texts[4] and texts[5] == "Спасибо за оценку!"
    [conversation] = await conversations(gateway)
    assert conversation.status is ConversationStatus.CLOSED
    assert conversation.rating == 5
    assert conversation.first_response_at is not None and conversation.resolved_at is not None
    assert (conversation.resolved_at - conversation.first_response_at).total_seconds() == 60
    kinds = await events(gateway, conversation.id)
    assert (
        kinds.index(EventKind.TAKEN)
        < kinds.index(EventKind.FIRST_RESPONSE)
        < kinds.index(EventKind.CLOSED)
        < kinds.index(EventKind.RATED)
    )
    assert await gateway.queue.waiting() == []


async def closed_by_an_operator(gateway: Gateway) -> None:
    """The client asked for a person, whose reply and close asked them for a rating."""
    await gateway.engine.handle(said("позовите оператора"))
    operator = await gateway.desk.operators.register("Анна")
    view = await gateway.desk.actions.take_next(operator.id)
    await gateway.desk.actions.reply(operator.id, view.id, "Готово, карта разблокирована.")
    await gateway.desk.actions.close(operator.id, view.id)


@pytest.mark.parametrize(
    "words",
    ["Спасибо большое, всё отлично!", "супер, хорошего дня", "Great, thank you so much", "👍🏻"],
)
async def test_kind_words_after_the_operator_closed_are_thanked_not_queued(
    gateway: Gateway, words: str
) -> None:
    await closed_by_an_operator(gateway)
    await gateway.engine.handle(said(words))

    assert (await replies(gateway))[-1].text in {
        "Пожалуйста! Если появятся ещё вопросы — пишите.",
        "You're welcome! Write any time you have another question.",
    }
    assert await gateway.queue.waiting() == []
    [conversation] = await conversations(gateway)  # no new one for the thanks
    assert conversation.status is ConversationStatus.CLOSED
    assert EventKind.REOPENED not in await events(gateway, conversation.id)


async def test_a_thank_you_letter_to_a_closed_conversation_does_not_reopen_it(
    gateway: Gateway,
) -> None:
    """Reopening would count the conversation unresolved in the reports."""
    letter = {"channel": ChannelKind.EMAIL, "visitor": "nina@example.com"}
    await gateway.engine.handle(said("Позовите оператора", **letter))  # type: ignore[arg-type]
    operator = await gateway.desk.operators.register("Анна")
    view = await gateway.desk.actions.take_next(operator.id)
    await gateway.desk.actions.close(operator.id, view.id)
    thanks = said("Спасибо большое!", thread_hint=view.id, **letter)  # type: ignore[arg-type]
    await gateway.engine.handle(thanks)

    [conversation] = await conversations(gateway)
    assert conversation.status is ConversationStatus.CLOSED
    assert EventKind.REOPENED not in await events(gateway, conversation.id)
    assert (await replies(gateway, "nina@example.com"))[-1].text == (
        "Пожалуйста! Если появятся ещё вопросы — пишите."
    )


@pytest.mark.parametrize(
    ("words", "score"),
    [
        ("5, спасибо!", 5),
        ("4 из 5", 4),
        ("на 3", 3),
        ("⭐⭐⭐⭐", 4),
        ("I give 5 stars", 5),
        ("5 zvezd", 5),
    ],
)
async def test_a_rating_typed_in_words_after_the_request_is_the_rating(
    gateway: Gateway, words: str, score: int
) -> None:
    await closed_by_an_operator(gateway)
    await gateway.engine.handle(said(words))

    [conversation] = await conversations(gateway)
    assert conversation.rating == score
    assert (await replies(gateway))[-1].text in {"Спасибо за оценку!", "Thank you for the rating!"}
    assert await gateway.queue.waiting() == []
    assert (await gateway.desk.conversations.view(conversation.id)).closed_by == "operator"


async def test_a_number_in_a_new_question_after_the_request_is_not_a_rating(
    gateway: Gateway,
) -> None:
    await closed_by_an_operator(gateway)
    await gateway.engine.handle(said("5 карт заблокировано, что делать"))

    closed, *_ = await conversations(gateway)
    assert closed.rating is None


async def test_asking_for_a_person_an_operator_already_is_names_them_once_per_holder(
    gateway: Gateway,
) -> None:
    await gateway.engine.handle(said("позовите оператора"))
    anna = await gateway.desk.operators.register("Анна")
    boris = await gateway.desk.operators.register("Борис")
    view = await gateway.desk.actions.take_next(anna.id)
    await gateway.engine.handle(said("оператор!"))
    await gateway.engine.handle(said("оператор!"))
    await gateway.desk.transfers.transfer(anna.id, view.id, to_operator=str(boris.id))
    await gateway.engine.handle(said("оператор!"))

    texts = [m.text for m in await replies(gateway)]
    assert texts[1:] == [
        "Вам отвечает оператор Анна.",
        "Вашим вопросом уже занимается оператор Анна: пишите здесь, оператор видит все ваши "
        "сообщения.",
        "Вам отвечает оператор Борис.",
        "Вашим вопросом уже занимается оператор Борис: пишите здесь, оператор видит все ваши "
        "сообщения.",
    ]
    [conversation] = await conversations(gateway)
    assert (await events(gateway, conversation.id)).count(EventKind.HOLDER_ACKNOWLEDGED) == 2


async def test_email_robots_are_stored_not_answered_and_bounces_recorded(gateway: Gateway) -> None:
    first = said(
        "Здравствуйте, я потерял карту",
        visitor="anna@example.org",
        channel=ChannelKind.EMAIL,
        platform_id="<q1@example.org>",
        subject="Карта",
    )
    await gateway.engine.handle(first)
    [answer] = await replies(gateway, "anna@example.org")
    await gateway.engine.handle(
        said(
            "Я в отпуске до понедельника",
            visitor="anna@example.org",
            channel=ChannelKind.EMAIL,
            automated=True,
        )
    )
    await gateway.engine.handle(
        said(
            "Delivery failed",
            visitor="mailer-daemon@example.org",
            channel=ChannelKind.EMAIL,
            automated=True,
            bounce=True,
            reply_to=("<q1@example.org>",),
        )
    )

    assert len(await replies(gateway, "anna@example.org")) == 1
    assert answer.text and answer.author is Author.BOT
    [conversation, *_] = await conversations(gateway)
    assert conversation.subject == "Карта"


async def test_an_email_reply_finds_its_conversation_by_headers(gateway: Gateway) -> None:
    email: dict[str, Any] = {"visitor": "ivan@example.org", "channel": ChannelKind.EMAIL}
    await gateway.engine.handle(said("позовите оператора", platform_id="<a1@example.org>", **email))
    operator = await gateway.desk.operators.register("Олег")
    first = await gateway.desk.actions.take_next(operator.id)
    assert len(await replies(gateway, "ivan@example.org")) == 1  # no letter says who took it
    await gateway.desk.actions.close(operator.id, first.id)

    await gateway.engine.handle(
        said(
            "Ещё вопрос по старой теме",
            platform_id="<a2@example.org>",
            reply_to=("<a1@example.org>",),
            **email,
        )
    )
    await gateway.engine.handle(
        said("Совсем новый вопрос", platform_id="<a3@example.org>", thread_hint=first.id, **email)
    )
    await gateway.engine.handle(
        say_new := said(
            "А это письмо без заголовков ответа", platform_id="<a4@example.org>", **email
        )
    )

    reopened, *others = await conversations(gateway)
    assert reopened.id == first.id
    assert EventKind.REOPENED in await events(gateway, first.id)
    async with gateway.sessions() as session:
        threads = dict(
            (
                await session.execute(
                    select(Message.channel_message_id, Message.conversation_id).where(
                        Message.direction == Direction.IN
                    )
                )
            ).all()
        )
    assert threads["<a2@example.org>"] == threads["<a3@example.org>"] == first.id
    assert threads[say_new.platform_message_id] == first.id  # still open: the same conversation
    assert others == []


@pytest.mark.parametrize("settings", [{"auto_assign": True}], indirect=True)
async def test_online_operators_get_conversations_pushed(gateway: Gateway) -> None:
    anna = await gateway.desk.operators.register("Анна", capacity=1)
    await gateway.desk.presence.set(anna.id, PresenceState.ONLINE)

    await gateway.engine.handle(said("позовите оператора", visitor="first"))
    await gateway.engine.handle(said("позовите оператора", visitor="second"))

    first, second = await conversations(gateway)
    assert first.status is ConversationStatus.ASSIGNED and first.assigned_operator_id == anna.id
    assert second.status is ConversationStatus.QUEUED  # Anna is at capacity
    [told] = await replies(gateway, "first")  # the hand-off reply names her, once
    assert told.text == "Передаю ваш вопрос оператору — вам скоро ответит Анна."
    assert [e.conversation_id for e in await gateway.queue.waiting()] == [second.id]

    await gateway.desk.actions.close(
        anna.id, first.id
    )  # a free slot: the next one is pushed to her
    [_, second] = await conversations(gateway)
    assert second.status is ConversationStatus.ASSIGNED and second.assigned_operator_id == anna.id
    # Queued then, the second client hears her name when she gets the conversation.
    assert (await replies(gateway, "second"))[-1].text == "Вам отвечает оператор Анна."
    assert await gateway.queue.waiting() == []
    async with gateway.sessions() as session:
        pushed = list(
            await session.scalars(
                select(ConversationEvent.data).where(ConversationEvent.kind == EventKind.TAKEN)
            )
        )
    assert [p.get("pushed") for p in pushed] == [True, True]


@pytest.mark.parametrize("settings", [{"auto_assign": True}], indirect=True)
async def test_a_withdrawn_question_redis_still_lists_is_never_pushed(gateway: Gateway) -> None:
    await gateway.engine.handle(said("позовите оператора"))
    [queued] = await conversations(gateway)
    await gateway.engine.handle(said(action=Action.RESOLVED, payload=str(queued.id)))
    await gateway.queue.enqueue(entry_for(queued))  # the close's removal never reached Redis
    anna = await gateway.desk.operators.register("Анна")

    await gateway.desk.presence.set(anna.id, PresenceState.ONLINE)  # work is pushed to her

    [still] = await conversations(gateway)
    assert (still.status, still.assigned_operator_id) == (ConversationStatus.CLOSED, None)
    assert await gateway.queue.waiting() == []
    assert await gateway.queue.assigned(anna.id) == []


async def test_out_of_hours_the_client_is_told_when_operators_are_back(
    gateway: Gateway, clock: SteppingClock
) -> None:
    clock.now = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)  # Saturday 13:00 in Moscow
    await gateway.engine.handle(said("позовите оператора"))

    [told] = await replies(gateway)
    assert told.text == (
        "Передаю ваш вопрос оператору. Сейчас нерабочее время: операторы вернутся "
        "30.11 в 09:00 (МСК), и ответим 30.11 до 17:00 (МСК)."
    )


async def test_out_of_hours_a_round_the_clock_category_is_promised_as_usual(
    gateway: Gateway, clock: SteppingClock
) -> None:
    """A lost card has a 2-hour SLA on the wall clock: its operators work at night too,
    so the client is not told to wait for Monday's opening."""
    clock.now = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)  # Saturday 13:00 in Moscow
    await gateway.engine.handle(said("Я потерял карту"))
    await gateway.engine.handle(said("", action=Action.HANDOFF))

    [conversation] = await conversations(gateway)
    assert conversation.category == "lost_card"
    *_, told = await replies(gateway)
    # two hours ahead reads the same on any clock: said as a span, not a Moscow time
    assert told.text == "Передаю ваш вопрос оператору. Вы 1-й в очереди, ответим в течение 2 часов."


@contextlib.asynccontextmanager
async def database_interrupted(
    gateway: Gateway, database_url: str, db_engine: AsyncEngine
) -> AsyncIterator[None]:
    """What interrupts this kind of database. SQLite: another process holds the write lock
    through the block and a moment after it, so the gateway meets it. PostgreSQL: the server
    drops every connection of the gateway's pool, as a restart does, and the test fixtures'
    own (`db_engine`, which empties the tables after the test, opens new ones)."""
    if database_url.startswith("sqlite"):
        holder = sqlite3.connect(database_url.split(":///", 1)[1], isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
            await asyncio.sleep(1.5)  # how long the other writer holds the lock
        finally:
            holder.execute("COMMIT")
            holder.close()
        return
    async with gateway.sessions() as session:
        await session.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    await db_engine.dispose()
    yield


async def test_an_interrupted_database_costs_no_message(
    gateway: Gateway, database_url: str, db_engine: AsyncEngine
) -> None:
    """The gateway waits for a locked SQLite and reconnects to a restarted PostgreSQL; either
    way the message is stored and answered, not lost or failed."""
    await gateway.engine.handle(said("привет"))  # the gateway's pool now holds connections
    async with database_interrupted(gateway, database_url, db_engine):
        handled = asyncio.create_task(
            gateway.engine.handle(said("Я потерял карту", platform_id="interrupted"))
        )
    await asyncio.wait_for(handled, 60)

    async with gateway.sessions() as session:
        stored = await session.scalar(
            select(Message.text).where(Message.channel_message_id == "interrupted")
        )
    assert stored == "Я потерял карту"
    assert len(await replies(gateway)) == 2


async def test_russian_typed_in_latin_letters_is_answered_in_russian(gateway: Gateway) -> None:
    """No «We have this answer in Russian only» note, and the button in Russian: the client
    writes Russian, only in other letters; the bot's own texts follow (the hand-off)."""
    await gateway.engine.handle(said("privet"))
    await gateway.engine.handle(said("poteryal kartu, chto delat?"))
    await gateway.engine.handle(said("spasibo"))
    await gateway.engine.handle(said("pozovite operatora"))

    greeting, answer, thanks, queued = await replies(gateway)
    assert greeting.text.startswith("Здравствуйте!")
    article = gateway.knowledge.index.article("card-lost")
    assert article is not None and answer.text == article.answer
    assert [b["label"] for b in answer.buttons] == ["Позвать оператора"]
    assert thanks.text == "Пожалуйста! Если появятся ещё вопросы — пишите."
    assert queued.text.startswith("Передаю ваш вопрос оператору")  # the client is Russian
    assert len(await gateway.queue.waiting()) == 1
