"""Telegram and VK through the whole gateway: the real engine, knowledge base, queue,
outbox and operators' desk, with aiogram and vkbottle talking HTTP to local servers."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from channel_harness import until
from fake_telegram import FakeTelegram
from fake_vk import FakeVk
from sqlalchemy import func, select

from channels.attachment_store import AttachmentStore
from channels.delivery import RetryPolicy
from channels.telegram import TelegramChannel
from channels.vk import VkChannel
from core.contracts import ChannelKind, DeliveryFault
from core.models import (
    Conversation,
    ConversationEvent,
    ConversationStatus,
    Delivery,
    Direction,
    EventKind,
    Message,
)
from switchboard.app import Gateway

TG_USER, VK_USER = 3003, 6006
RETRY = RetryPolicy(attempts=4, base_delay=0.05, max_delay=0.2)


@dataclass
class Platforms:
    telegram: FakeTelegram
    vk: FakeVk
    gateway: Gateway


@pytest.fixture
async def platforms(
    gateway: Gateway, telegram: FakeTelegram, vk: FakeVk
) -> AsyncIterator[Platforms]:
    channels: list[TelegramChannel | VkChannel] = [
        TelegramChannel(
            telegram.token,
            api_base=telegram.base_url,
            poll_timeout=1,
            request_timeout=5,
            retry=RETRY,
            files=AttachmentStore(gateway.settings.var_dir / "attachments" / "telegram", 10**6),
        ),
        VkChannel(
            vk.token,
            vk.group_id,
            api_base=vk.base_url,
            wait=1,
            request_timeout=5,
            retry=RETRY,
            files=AttachmentStore(gateway.settings.var_dir / "attachments" / "vk", 10**6),
        ),
    ]
    for channel in channels:
        gateway.adapters[channel.kind] = channel
    tasks = [asyncio.create_task(channel.run(gateway.engine)) for channel in channels]
    try:
        yield Platforms(telegram, vk, gateway)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await gateway.outbox.drain()
        for channel in channels:
            gateway.adapters.pop(channel.kind)
            await channel.aclose()


async def conversation_of(gateway: Gateway, channel: ChannelKind) -> Conversation:
    async with gateway.sessions() as session:
        found = await session.scalar(
            select(Conversation)
            .where(Conversation.last_channel == channel)
            .order_by(Conversation.id.desc())
        )
    assert found is not None
    return found


async def test_client_question_answered_in_telegram_and_vk(platforms: Platforms) -> None:
    telegram, vk = platforms.telegram, platforms.vk
    telegram.client_message(TG_USER, "Я потерял карту, что делать?")
    await until(lambda: bool(telegram.texts_to(TG_USER)), timeout=10)
    assert "заблокируйте карту" in telegram.texts_to(TG_USER)[0].lower()
    await until(lambda: vk.lp_requests > 0)
    vk.client_message(VK_USER, "карту украли")
    await until(lambda: bool(vk.texts_to(VK_USER)), timeout=10)
    assert "заблокируйте карту" in vk.texts_to(VK_USER)[0].lower()
    # the replies are marked sent with the platform's message ids
    async with platforms.gateway.sessions() as session:
        sent = list(
            await session.scalars(select(Message).where(Message.direction == Direction.OUT))
        )
    assert {m.channel for m in sent} == {ChannelKind.TELEGRAM, ChannelKind.VK}


async def test_handoff_photo_operator_reply_split_and_rating(platforms: Platforms) -> None:
    telegram, gateway = platforms.telegram, platforms.gateway
    telegram.client_message(TG_USER, "Позовите оператора, пожалуйста")
    await until(lambda: bool(telegram.texts_to(TG_USER)), timeout=10)
    conversation = await conversation_of(gateway, ChannelKind.TELEGRAM)
    assert conversation.status is ConversationStatus.QUEUED
    telegram.client_photo(TG_USER, caption="скриншот ошибки", content=b"\xff\xd8" + b"p" * 3000)
    await until(lambda: telegram.pending == 0, timeout=10)

    operator = await gateway.desk.operators.register("Ольга")
    view = await gateway.desk.actions.take_next(operator.id)
    assert view.id == conversation.id and view.channel == "telegram"
    [photo_message] = [m for m in view.messages if m.attachments]
    assert photo_message.text == "скриншот ошибки"
    assert photo_message.attachments[0]["kind"] == "photo"
    assert photo_message.attachments[0]["file_id"] in telegram.files
    assert photo_message.attachments[0]["size"] == 3002
    kept = Path(str(photo_message.attachments[0]["stored_path"]))  # for the console to open
    assert kept.read_bytes() == b"\xff\xd8" + b"p" * 3000

    # while the operator writes, the client sees "typing…" (once in a few seconds at most)
    assert await gateway.desk.typing.started(operator.id, conversation.id)
    assert not await gateway.desk.typing.started(operator.id, conversation.id)
    [action] = telegram.calls_of("sendChatAction")
    assert (int(action.params["chat_id"]), action.params["action"]) == (TG_USER, "typing")

    before = len(telegram.texts_to(TG_USER))
    long_reply = "\n\n".join(f"Шаг {i}: " + "подробное объяснение " * 40 for i in range(8))
    assert len(long_reply) > 4096
    await gateway.desk.actions.reply(operator.id, conversation.id, long_reply)
    await until(lambda: len(telegram.texts_to(TG_USER)) >= before + 2, timeout=10)
    pieces = telegram.texts_to(TG_USER)[before:]
    assert len(pieces) == 2 and all(len(p) <= 4096 for p in pieces)
    assert pieces[0].startswith("Шаг 0") and pieces[1].startswith("Шаг")

    await gateway.desk.actions.close(operator.id, conversation.id)
    await until(lambda: "inline_keyboard" in telegram.sent[-1].get("reply_markup", {}), timeout=10)
    rating_message = telegram.sent[-1]
    buttons = rating_message["reply_markup"]["inline_keyboard"][0]
    assert len(buttons) == 5
    telegram.client_press(
        TG_USER, buttons[4]["callback_data"], message_id=rating_message["message_id"]
    )
    await until(lambda: bool(telegram.callback_answers), timeout=10)

    async def rated_five() -> bool:
        async with gateway.sessions() as session:
            return (await session.get(Conversation, conversation.id)).rating == 5  # type: ignore[union-attr]

    await until(rated_five, timeout=10, what="the rating of 5 stored")


async def test_a_queued_telegram_client_gets_the_kb_answer_and_takes_the_question_off(
    platforms: Platforms,
) -> None:
    telegram, gateway = platforms.telegram, platforms.gateway
    telegram.client_message(TG_USER, "Позовите оператора, пожалуйста")
    await until(lambda: bool(telegram.texts_to(TG_USER)), timeout=10)
    conversation = await conversation_of(gateway, ChannelKind.TELEGRAM)
    assert conversation.status is ConversationStatus.QUEUED

    telegram.client_message(TG_USER, "Я потерял карту, что делать?")
    await until(lambda: "Вопрос решён" in telegram.texts_to(TG_USER)[-1], timeout=10)
    answer = telegram.sent[-1]
    assert "заблокируйте карту" in answer["text"].lower()
    [[solved]] = answer["reply_markup"]["inline_keyboard"]
    assert solved == {"text": "Вопрос решён", "callback_data": f"resolved:{conversation.id}"}
    assert await gateway.queue.waiting() != []

    telegram.client_press(TG_USER, solved["callback_data"], message_id=answer["message_id"])
    await until(lambda: "сняли вопрос с очереди" in telegram.texts_to(TG_USER)[-1], timeout=10)
    closed = await conversation_of(gateway, ChannelKind.TELEGRAM)
    assert (closed.id, closed.status) == (conversation.id, ConversationStatus.CLOSED)
    assert await gateway.queue.waiting() == []


async def test_vk_handoff_operator_reply_and_callback_rating(platforms: Platforms) -> None:
    vk, gateway = platforms.vk, platforms.gateway
    await until(lambda: vk.lp_requests > 0)
    screenshot = b"\xff\xd8" + b"v" * 2000
    sizes = [{"type": "x", "url": vk.host_file("x.jpg", screenshot), "width": 604, "height": 403}]
    vk.client_message(
        VK_USER,
        "Хочу поговорить с оператором",
        attachments=[{"type": "photo", "photo": {"id": 9, "owner_id": VK_USER, "sizes": sizes}}],
    )
    await until(lambda: bool(vk.texts_to(VK_USER)), timeout=10)
    operator = await gateway.desk.operators.register("Ирина")
    view = await gateway.desk.actions.take_next(operator.id)
    assert view.channel == "vk"
    [photo] = [a for m in view.messages for a in m.attachments]
    assert Path(str(photo["stored_path"])).read_bytes() == screenshot  # for the console to open
    assert await gateway.desk.typing.started(operator.id, view.id)  # "typing…" in the dialog
    [activity] = vk.activities
    assert (int(activity["peer_id"]), activity["type"]) == (VK_USER, "typing")
    reply = "Здравствуйте! Я Ирина, смотрю ваш вопрос."
    await gateway.desk.actions.reply(operator.id, view.id, reply)
    await until(lambda: reply in vk.texts_to(VK_USER), timeout=10)

    await gateway.desk.actions.close(operator.id, view.id)  # asks for a rating with buttons
    await until(lambda: bool(vk.sent[-1]["keyboard"]), timeout=10)
    rating = vk.sent[-1]
    five = rating["keyboard"]["buttons"][0][4]["action"]
    assert five["type"] == "callback"
    vk.client_press(
        VK_USER,
        json.loads(five["payload"]),
        conversation_message_id=rating["conversation_message_id"],
    )
    await until(lambda: bool(vk.event_answers), timeout=10)

    async def rated_five() -> bool:
        async with gateway.sessions() as session:
            return (await session.get(Conversation, view.id)).rating == 5  # type: ignore[union-attr]

    await until(rated_five, timeout=10, what="the rating of 5 stored")


async def test_429_through_the_outbox_is_retried_and_delivered_once(platforms: Platforms) -> None:
    telegram, gateway = platforms.telegram, platforms.gateway
    telegram.fail("sendMessage", status=429, retry_after=1)
    telegram.client_message(TG_USER, "Как заблокировать потерянную карту")
    await until(lambda: bool(telegram.texts_to(TG_USER)), timeout=10)
    rejected, accepted = telegram.calls_of("sendMessage")[:2]
    assert rejected.status == 429 and accepted.at - rejected.at >= 1.0
    await gateway.outbox.drain()
    assert len(telegram.texts_to(TG_USER)) == 1
    async with gateway.sessions() as session:
        states = list(
            await session.scalars(
                select(Message.delivery).where(Message.direction == Direction.OUT)
            )
        )
    assert states == [Delivery.SENT]


async def test_redelivered_updates_are_processed_once(platforms: Platforms) -> None:
    """Telegram may deliver an update again (confirmation lost): stored and answered once."""
    telegram, gateway = platforms.telegram, platforms.gateway
    first = telegram.client_message(TG_USER, "Я потерял карту, что делать?")
    await until(lambda: bool(telegram.texts_to(TG_USER)), timeout=10)
    telegram.push("message", first)  # the same message, a new update_id
    telegram.client_message(TG_USER, "спасибо")
    await until(lambda: telegram.pending == 0, timeout=10)
    await gateway.outbox.drain()
    async with gateway.sessions() as session:
        stored = await session.scalar(
            select(func.count()).select_from(Message).where(Message.direction == Direction.IN)
        )
    assert stored == 2


async def test_a_reply_that_cannot_be_delivered_is_marked_and_recorded(
    platforms: Platforms,
) -> None:
    telegram, gateway = platforms.telegram, platforms.gateway
    telegram.blocked.add(TG_USER)  # the client blocked the bot
    telegram.client_message(TG_USER, "Я потерял карту, что делать?")
    await until(lambda: telegram.pending == 0, timeout=10)
    await gateway.outbox.drain()
    async with gateway.sessions() as session:
        reply = await session.scalar(select(Message).where(Message.direction == Direction.OUT))
        events = list(await session.scalars(select(ConversationEvent.kind)))
    assert reply is not None and reply.delivery is Delivery.FAILED
    assert "blocked" in (reply.delivery_error or "")
    assert reply.delivery_fault is DeliveryFault.RECIPIENT
    assert EventKind.UNDELIVERED in events
    assert telegram.texts_to(TG_USER) == []
