"""No input stops a channel: odd digits are not numbers, and a message the engine fails on
by itself is quarantined (stored with its error, the client told, operators given the
conversation) while the rest of its batch goes on and the poll position moves past it.
Through the real aiogram client and the local Bot API server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from channel_harness import until
from fake_telegram import FakeTelegram
from sqlalchemy import select

from channels.delivery import RetryPolicy
from channels.telegram import TelegramChannel
from core.contracts import ChannelKind
from core.models import (
    Conversation,
    ConversationEvent,
    ConversationStatus,
    Direction,
    EventKind,
    Message,
)
from core.texts import say
from switchboard.app import Gateway

A, B, C = 5001, 5002, 5003
RETRY = RetryPolicy(attempts=3, base_delay=0.05, max_delay=0.1)


@dataclass
class Bot:
    gateway: Gateway
    telegram: FakeTelegram

    @contextlib.asynccontextmanager
    async def polling(self) -> AsyncIterator[None]:
        channel = TelegramChannel(
            self.telegram.token,
            api_base=self.telegram.base_url,
            poll_timeout=1,
            request_timeout=5,
            retry=RETRY,
        )
        self.gateway.adapters[ChannelKind.TELEGRAM] = channel
        task = asyncio.create_task(channel.run(self.gateway.engine))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await self.gateway.outbox.drain()
            self.gateway.adapters.pop(ChannelKind.TELEGRAM)
            await channel.aclose()


@pytest.fixture
def bot(gateway: Gateway, telegram: FakeTelegram) -> Bot:
    return Bot(gateway, telegram)


async def inbound_count(gateway: Gateway) -> int:
    async with gateway.sessions() as session:
        return len(
            list(await session.scalars(select(Message.id).where(Message.direction == Direction.IN)))
        )


@pytest.mark.parametrize("odd", ["²", "①", "𝟓", "٣", "9" * 5000])
async def test_an_odd_number_as_a_choice_or_a_rating_stops_nobody(bot: Bot, odd: str) -> None:
    telegram = bot.telegram
    telegram.client_message(A, odd)  # a choice typed
    telegram.client_message(B, "Я потерял карту, что делать?")
    telegram.client_press(C, f"rate:{odd}:5", message_id=1)  # rating payloads
    telegram.client_press(C, f"rate:1:{odd}", message_id=1)
    telegram.client_press(C, "rate:99999999999999999:5", message_id=1)
    telegram.client_message(C, f"{odd}.")
    async with bot.polling():
        await until(
            lambda: telegram.pending == 0 and all(telegram.texts_to(user) for user in (A, B, C)),
            timeout=20,
        )
    assert "заблокируйте карту" in telegram.texts_to(B)[0].lower()
    assert await inbound_count(bot.gateway) == 6


async def test_a_message_that_fails_alone_is_quarantined_and_the_others_go_on(bot: Bot) -> None:
    telegram = bot.telegram
    telegram.client_message(A, "Здравствуйте")
    telegram.client_message(B, "Вопрос \ud800 про карту")  # a lone surrogate: unstorable as is
    telegram.client_message(C, "Я потерял карту, что делать?")
    async with bot.polling():
        await until(
            lambda: telegram.pending == 0 and all(telegram.texts_to(user) for user in (A, B, C)),
            timeout=20,
        )
    assert "заблокируйте карту" in telegram.texts_to(C)[0].lower()
    assert telegram.texts_to(B) == [say("quarantined", "ru")]

    async with bot.gateway.sessions() as session:
        [kept] = await session.scalars(
            select(Message).where(
                Message.direction == Direction.IN, Message.text.contains("про карту")
            )
        )
        assert kept.text == "Вопрос \ufffd про карту"
        [event] = await session.scalars(
            select(ConversationEvent).where(ConversationEvent.kind == EventKind.QUARANTINED)
        )
        assert event.conversation_id == kept.conversation_id
        assert event.data["message_id"] == kept.id and "surrogate" in event.data["error"]
        conversation = await session.get(Conversation, kept.conversation_id)
    assert conversation is not None and conversation.status is ConversationStatus.QUEUED
    assert await bot.gateway.queue.locate(conversation.id) is not None
    assert await inbound_count(bot.gateway) == 3
