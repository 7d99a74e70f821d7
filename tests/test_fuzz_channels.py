"""Fuzzing the engine through the channels: random Unicode texts (lone surrogates and odd
digits included), button payloads, edits, attachments and contacts, sent by the local
Telegram and VK servers to the real aiogram and VK clients. Whatever arrives, no input
may stop the channel or lose a message: after each random batch the poll position has
moved past it, every message in it is stored, and a plain question written after it is
answered. Bounded: a few dozen batches per channel."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from channel_harness import until
from fake_telegram import FakeTelegram
from fake_vk import FakeVk
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from channels.delivery import RetryPolicy
from channels.telegram import TelegramChannel
from channels.vk import VkChannel
from core.contracts import ChannelKind
from core.models import Direction, Message
from switchboard.app import Gateway

RETRY = RetryPolicy(attempts=2, base_delay=0.05, max_delay=0.1)
FUZZ = settings(
    max_examples=12,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
QUESTION = "Я потерял карту, что делать?"
_witnesses = itertools.count(900_001)

any_char = st.characters(exclude_categories=())  # surrogates and controls too
texts = st.one_of(
    st.text(max_size=60),
    st.text(any_char, max_size=12),
    st.sampled_from(
        [
            "²",
            "①",
            "𝟓",
            "٣",
            "1",
            "5",
            "3)",
            "0",
            "9" * 30,
            "/start",
            "/start ²",
            "/link",
            "оператор",
            "связать",
            "да",
            "123456",
            "+7 999 123-45-67",
            "a@b.ru",
            "\x00",
            "\ud800",
            "",
        ]
    ),
)
button_data = st.one_of(
    st.text(max_size=40),
    st.builds(
        lambda action, payload: f"{action}:{payload}",
        st.sampled_from(["rate", "choose", "handoff", "start", "contact"]),
        texts,
    ),
)
telegram_action = st.one_of(
    st.tuples(st.just("text"), texts),
    st.tuples(st.just("press"), button_data),
    st.tuples(st.just("edit"), texts),
    st.tuples(st.just("photo"), texts),
    st.tuples(st.just("document"), texts),
    st.tuples(st.just("contact"), texts),
)


async def stored_ids(gateway: Gateway, channel: ChannelKind) -> set[str]:
    async with gateway.sessions() as session:
        return {
            i
            for i in await session.scalars(
                select(Message.channel_message_id).where(
                    Message.channel == channel, Message.direction == Direction.IN
                )
            )
            if i
        }


@contextlib.asynccontextmanager
async def running(gateway: Gateway, channel: Any) -> AsyncIterator[None]:
    gateway.adapters[channel.kind] = channel
    task = asyncio.create_task(channel.run(gateway.engine))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await gateway.outbox.drain()
        gateway.adapters.pop(channel.kind)
        await channel.aclose()


@pytest.fixture
async def telegram_bot(gateway: Gateway, telegram: FakeTelegram) -> AsyncIterator[FakeTelegram]:
    channel = TelegramChannel(
        telegram.token, api_base=telegram.base_url, poll_timeout=1, request_timeout=5, retry=RETRY
    )
    async with running(gateway, channel):
        yield telegram


@pytest.fixture
async def vk_bot(gateway: Gateway, vk: FakeVk) -> AsyncIterator[FakeVk]:
    channel = VkChannel(
        vk.token, vk.group_id, api_base=vk.base_url, wait=1, request_timeout=5, retry=RETRY
    )
    async with running(gateway, channel):
        await until(lambda: vk.lp_requests > 0, timeout=10)  # events from now on reach it
        yield vk


@FUZZ
@given(batch=st.lists(st.tuples(st.integers(1, 3), telegram_action), min_size=1, max_size=6))
async def test_no_telegram_input_stops_the_channel(
    gateway: Gateway, telegram_bot: FakeTelegram, batch: list[tuple[int, tuple[str, Any]]]
) -> None:
    telegram = telegram_bot
    expected: set[str] = set()
    last: dict[int, int] = {}
    for user_number, (kind, value) in batch:
        user = 800_000 + user_number
        if kind == "text":
            sent = telegram.client_message(user, value)
        elif kind == "press":
            telegram.client_press(user, value, message_id=last.get(user, 1))
            continue
        elif kind == "edit" and user in last:
            telegram.client_edit(user, last[user], value)
            continue
        elif kind == "photo":
            sent = telegram.client_photo(user, caption=value or None)
        elif kind == "document":
            sent = telegram.client_document(
                user, (value or "file")[:40] + ".pdf", b"%PDF-1.4", "application/pdf"
            )
        else:
            sent = telegram.client_contact(user, value or "0", owner_id=user)
        last[user] = sent["message_id"]
        expected.add(f"{user}:{sent['message_id']}")
    witness = next(_witnesses)
    telegram.client_message(witness, QUESTION)
    await until(lambda: telegram.pending == 0 and bool(telegram.texts_to(witness)), timeout=20)
    assert "заблокируйте карту" in telegram.texts_to(witness)[0].lower()
    assert expected <= await stored_ids(gateway, ChannelKind.TELEGRAM)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
vk_payloads = st.one_of(
    st.dictionaries(st.text(max_size=8), json_values, max_size=3),
    st.builds(lambda data: {"sb": data}, st.one_of(button_data, json_values)),
    st.just({"command": "start"}),
)
vk_attachments = st.lists(
    st.one_of(
        st.dictionaries(
            st.sampled_from(["type", "photo", "doc", "sticker"]), json_values, max_size=3
        ),
        st.just({"type": "photo", "photo": {"owner_id": 1, "id": 2, "sizes": [{"url": 3}]}}),
        st.just({"type": "doc", "doc": {"title": None, "size": "big"}}),
    ),
    max_size=2,
)
vk_action = st.one_of(
    st.tuples(st.just("text"), st.tuples(texts, vk_payloads | st.none(), vk_attachments)),
    st.tuples(st.just("press"), vk_payloads),
    st.tuples(st.just("edit"), texts),
)


@FUZZ
@given(batch=st.lists(st.tuples(st.integers(1, 3), vk_action), min_size=1, max_size=6))
async def test_no_vk_input_stops_the_channel(
    gateway: Gateway, vk_bot: FakeVk, batch: list[tuple[int, tuple[str, Any]]]
) -> None:
    vk = vk_bot
    expected: set[str] = set()
    last: dict[int, dict[str, Any]] = {}
    for user_number, (kind, value) in batch:
        user = 800_000 + user_number
        if kind == "text":
            text, payload, attachments = value
            sent = vk.client_message(user, text, payload=payload, attachments=attachments)
            last[user] = sent
            expected.add(f"{user}:{sent['conversation_message_id']}")
        elif kind == "press":
            vk.client_press(user, value, conversation_message_id=1)
        elif user in last:
            vk.client_edit(last[user], value)
    witness = next(_witnesses)
    vk.client_message(witness, QUESTION)
    await until(lambda: bool(vk.texts_to(witness)), timeout=20)  # every earlier event stored
    assert "заблокируйте карту" in vk.texts_to(witness)[0].lower()
    assert expected <= await stored_ids(gateway, ChannelKind.VK)
