"""Replies the channel could not deliver now: kept PENDING with a next attempt time, sent
later by the outbox's sweeper in each chat's order, or marked undelivered (and the desk
told) when the failure is permanent or the deadline passed. Real gateway, real aiogram
against the local Bot API server."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from channel_harness import until
from fake_telegram import FakeTelegram
from redis_waits import listeners, subscribed
from sqlalchemy import select
from stepping_clock import SteppingClock

from bot.outbox import Outbox
from channels.delivery import RetryPolicy
from channels.telegram import TelegramChannel
from core import keys
from core.contracts import (
    ChannelKind,
    DeliveryFault,
    DeliveryReceipt,
    InboundMessage,
    InboundSink,
    OutboundMessage,
)
from core.messages import SEND_LEASE
from core.models import ConversationEvent, Delivery, Direction, EventKind, Message
from switchboard.app import Gateway

USER = 4242
RETRY = RetryPolicy(attempts=3, base_delay=0.05, max_delay=0.1)


@dataclass
class World:
    gateway: Gateway
    telegram: FakeTelegram
    clock: SteppingClock
    channel: TelegramChannel


@pytest.fixture
async def world(
    gateway: Gateway, telegram: FakeTelegram, clock: SteppingClock
) -> AsyncIterator[World]:
    channel = TelegramChannel(
        telegram.token, api_base=telegram.base_url, poll_timeout=1, request_timeout=3, retry=RETRY
    )
    gateway.adapters[ChannelKind.TELEGRAM] = channel
    try:
        yield World(gateway, telegram, clock, channel)
    finally:
        await gateway.outbox.drain()
        gateway.adapters.pop(ChannelKind.TELEGRAM)
        await channel.aclose()


async def client_writes(world: World, text: str, message_id: int) -> None:
    """A message from the Telegram client, through the engine (as the poller hands it in)."""
    await world.gateway.engine.handle(
        InboundMessage(
            channel=ChannelKind.TELEGRAM,
            external_user_id=str(USER),
            chat_id=str(USER),
            platform_message_id=f"{USER}:{message_id}",
            text=text,
            display_name="Иван",
        )
    )
    await world.gateway.outbox.drain()


async def replies(world: World) -> list[Message]:
    async with world.gateway.sessions() as session:
        return list(
            await session.scalars(
                select(Message).where(Message.direction == Direction.OUT).order_by(Message.id)
            )
        )


async def test_a_long_retry_after_is_sent_later_by_the_sweeper(world: World) -> None:
    world.telegram.fail("sendMessage", status=429, retry_after=600)
    await client_writes(world, "Я потерял карту, что делать?", 1)
    [reply] = await replies(world)
    assert reply.delivery is Delivery.PENDING and reply.attempts == 1
    assert reply.next_attempt_at is not None
    assert reply.next_attempt_at >= world.clock.now + dt.timedelta(seconds=600)
    assert world.telegram.texts_to(USER) == []

    assert await world.gateway.outbox.sweeper.sweep() == 0  # not due yet
    world.clock.advance(seconds=601)
    assert await world.gateway.outbox.sweeper.sweep() == 1
    await world.gateway.outbox.drain()
    [reply] = await replies(world)
    assert reply.delivery is Delivery.SENT
    assert "заблокируйте карту" in world.telegram.texts_to(USER)[0].lower()


async def test_a_bot_api_outage_is_survived(world: World) -> None:
    telegram = world.telegram
    port = int(telegram.base_url.rsplit(":", 1)[1])
    await telegram.close()  # the Bot API server is gone
    await client_writes(world, "Я потерял карту, что делать?", 1)
    [reply] = await replies(world)
    assert reply.delivery is Delivery.PENDING and reply.attempts == 1
    assert "gave up for now" in (reply.delivery_error or "")

    await telegram.start(port)  # back, a few minutes later
    world.clock.advance(minutes=5)
    assert await world.gateway.outbox.sweeper.sweep() == 1
    await world.gateway.outbox.drain()
    [reply] = await replies(world)
    assert reply.delivery is Delivery.SENT and reply.next_attempt_at is None
    assert "заблокируйте карту" in telegram.texts_to(USER)[0].lower()


async def test_replies_keep_their_order_in_a_chat(world: World) -> None:
    world.telegram.fail("sendMessage", status=429, retry_after=300)
    await client_writes(world, "Я потерял карту, что делать?", 1)
    await client_writes(world, "Спасибо", 2)  # its reply must wait behind the first
    first, second = await replies(world)
    assert first.delivery is Delivery.PENDING and first.attempts == 1
    assert second.delivery is Delivery.PENDING and second.attempts == 0
    assert world.telegram.texts_to(USER) == []

    world.clock.advance(seconds=301)
    assert await world.gateway.outbox.sweeper.sweep() == 2
    await world.gateway.outbox.drain()
    assert all(m.delivery is Delivery.SENT for m in await replies(world))
    sent = world.telegram.texts_to(USER)
    assert len(sent) == 2 and "заблокируйте карту" in sent[0].lower()
    assert sent[1] == second.text

    await client_writes(world, "Спасибо!", 3)  # the chat is free again: sent at once
    assert len(world.telegram.texts_to(USER)) == 3


async def notices(gateway: Gateway, into: list[dict[str, Any]]) -> None:
    async for notice in gateway.feed.listen():
        into.append(notice)


async def test_a_permanent_failure_is_undelivered_and_the_desk_is_told(world: World) -> None:
    heard: list[dict[str, Any]] = []
    others = await listeners(world.gateway.redis, keys.desk_events())
    listener = asyncio.create_task(notices(world.gateway, heard))
    await subscribed(world.gateway.redis, keys.desk_events(), others + 1)
    try:
        world.telegram.blocked.add(USER)
        await client_writes(world, "Я потерял карту, что делать?", 1)
        [reply] = await replies(world)
        assert reply.delivery is Delivery.FAILED and reply.next_attempt_at is None
        await until(lambda: any(n["kind"] == "undelivered" for n in heard), timeout=5)
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
    [notice] = [n for n in heard if n["kind"] == "undelivered"]
    assert notice["message_id"] == reply.id and notice["fault"] == "recipient"
    assert reply.delivery_fault is DeliveryFault.RECIPIENT
    async with world.gateway.sessions() as session:
        events = list(
            await session.scalars(
                select(ConversationEvent).where(ConversationEvent.kind == EventKind.UNDELIVERED)
            )
        )
    assert [(e.data["message_id"], e.data["fault"]) for e in events] == [(reply.id, "recipient")]
    assert await world.gateway.outbox.sweeper.sweep() == 0  # never tried again


async def test_a_wait_past_the_deadline_is_undelivered(world: World) -> None:
    world.telegram.fail("sendMessage", status=429, retry_after=25 * 3600)
    await client_writes(world, "Я потерял карту, что делать?", 1)
    [reply] = await replies(world)
    assert reply.delivery is Delivery.FAILED
    assert "not delivered within 24 h" in (reply.delivery_error or "")
    assert reply.delivery_fault is DeliveryFault.UNREACHABLE


async def test_a_reply_sent_again_a_day_later_has_its_own_deadline(world: World) -> None:
    """An operator's reply undelivered yesterday (the bot was blocked), sent again today into
    a Bot API outage: retried on the schedule, not given up for yesterday's deadline."""
    gateway = world.gateway
    await client_writes(world, "Хочу поговорить с оператором", 1)
    operator = await gateway.desk.operators.register("Анна")
    view = await gateway.desk.actions.take_next(operator.id)
    world.telegram.blocked.add(USER)
    await gateway.desk.actions.reply(operator.id, view.id, "Карта перевыпущена")
    await gateway.outbox.drain()
    [failed] = [m for m in await replies(world) if m.text == "Карта перевыпущена"]
    assert failed.delivery is Delivery.FAILED

    world.clock.advance(hours=30)  # the client unblocks the bot the next day
    world.telegram.blocked.discard(USER)
    world.telegram.fail("sendMessage", status=502, times=RETRY.attempts)
    await gateway.desk.resending.resend(operator.id, failed.id)
    await gateway.outbox.drain()
    [again] = [m for m in await replies(world) if m.id == failed.id]
    assert again.delivery is Delivery.PENDING and again.attempts == 1
    assert "Карта перевыпущена" not in world.telegram.texts_to(USER)

    world.clock.advance(minutes=1)  # the outage is over
    assert await gateway.outbox.sweeper.sweep() == 1
    await gateway.outbox.drain()
    [sent] = [m for m in await replies(world) if m.id == failed.id]
    assert sent.delivery is Delivery.SENT
    assert world.telegram.texts_to(USER).count("Карта перевыпущена") == 1


async def test_a_reply_left_pending_by_a_dead_send_is_taken_by_the_sweeper(world: World) -> None:
    """A reply nobody marked sent (the process died mid-send) goes once its lease ends."""
    gateway = world.gateway
    gateway.adapters.pop(ChannelKind.TELEGRAM)  # the send never happens in this process…
    gateway.adapters[ChannelKind.TELEGRAM] = _Silent()
    await client_writes(world, "Я потерял карту, что делать?", 1)
    gateway.adapters[ChannelKind.TELEGRAM] = world.channel
    [reply] = await replies(world)
    assert reply.delivery is Delivery.PENDING and reply.attempts == 0
    assert await gateway.outbox.sweeper.sweep() == 0  # still within its send lease
    world.clock.advance(minutes=3)
    assert await gateway.outbox.sweeper.sweep() == 1
    await gateway.outbox.drain()
    assert "заблокируйте карту" in world.telegram.texts_to(USER)[0].lower()


async def test_a_live_process_keeps_its_slow_send_from_the_other_sweepers(world: World) -> None:
    """A send this process is still making (held by a rate limit, a slow platform) has its
    lease renewed: another process's sweeper never takes it, however long it takes."""
    gateway = world.gateway
    slow = _Slow()
    gateway.adapters[ChannelKind.TELEGRAM] = slow
    await gateway.engine.handle(
        InboundMessage(
            channel=ChannelKind.TELEGRAM,
            external_user_id=str(USER),
            chat_id=str(USER),
            platform_message_id=f"{USER}:1",
            text="Я потерял карту, что делать?",
            display_name="Иван",
        )
    )
    await until(lambda: slow.started.is_set())
    other = Outbox(
        gateway.sessions, {ChannelKind.TELEGRAM: world.channel}, gateway.feed, world.clock
    )
    for _ in range(4):  # two minutes, well past one send lease
        world.clock.advance(seconds=SEND_LEASE.total_seconds() / 2)
        assert await gateway.outbox.claims.renew() == 1
        assert await other.sweeper.sweep() == 0
    slow.release.set()
    await gateway.outbox.drain()
    [reply] = await replies(world)
    assert reply.delivery is Delivery.SENT
    assert world.telegram.texts_to(USER) == []  # sent once, by the slow channel only


class _Slow:
    """A channel whose send waits until the test lets it through."""

    kind = ChannelKind.TELEGRAM

    def __init__(self) -> None:
        self.started, self.release = asyncio.Event(), asyncio.Event()

    async def send(self, message: OutboundMessage) -> DeliveryReceipt:
        self.started.set()
        await self.release.wait()
        return DeliveryReceipt(f"{message.chat_id}:1")

    async def run(self, sink: InboundSink) -> None: ...

    async def aclose(self) -> None: ...


class _Silent:
    """A channel whose send never returns (a process about to die)."""

    kind = ChannelKind.TELEGRAM

    async def send(self, message: OutboundMessage) -> DeliveryReceipt:
        raise asyncio.CancelledError

    async def run(self, sink: InboundSink) -> None: ...

    async def aclose(self) -> None: ...
