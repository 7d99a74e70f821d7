"""The admin bot's test world: the real gateway (engine, queue, desk, outbox) serving, the
admin bot polling its own local Bot API server, and clients writing through a second
Telegram bot and a VK community on their local servers. Import the fixtures from here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fake_telegram import FakeTelegram
from fake_telegram_forum import ForumTelegram
from fake_vk import FakeVk
from pydantic import SecretStr
from sqlalchemy import select
from waiting import eventually  # the suite's one polling helper, exported to the admin bot tests

from channels.attachment_store import AttachmentStore
from channels.delivery import RetryPolicy
from channels.telegram import TelegramChannel
from channels.vk import VkChannel
from core import keys
from core.contracts import ChannelKind
from core.models import Conversation, Operator, OperatorRole
from routing.presence import PresenceState
from switchboard.app import Gateway, running
from switchboard.settings import AdminBotSettings, Settings

__all__ = [
    "ADMIN_TOKEN",
    "World",
    "admin_bot_settings",
    "admin_telegram",
    "settings",
    "world",
    "eventually",
]

ADMIN_TOKEN = "777001:ADMIN-fake-token"
RETRY = RetryPolicy(attempts=4, base_delay=0.05, max_delay=0.2)


@dataclass
class World:
    gateway: Gateway
    admin: ForumTelegram
    telegram: FakeTelegram
    vk: FakeVk
    url: str = ""

    async def operator(
        self,
        name: str,
        telegram_id: int,
        *,
        groups: tuple[str, ...] = ("support",),
        online: bool = True,
        language: str = "ru",
        role: OperatorRole = OperatorRole.OPERATOR,
    ) -> Operator:
        operator = await self.gateway.desk.operators.register(
            name, groups=groups, telegram_user_id=telegram_id, language=language, role=role
        )
        if online:
            await self.gateway.desk.presence.set(operator.id, PresenceState.ONLINE)
        return operator

    async def conversation(self, channel: ChannelKind) -> Conversation:
        async with self.gateway.sessions() as session:
            found = await session.scalar(
                select(Conversation)
                .where(Conversation.last_channel == channel)
                .order_by(Conversation.id.desc())
            )
        assert found is not None
        return found

    async def reload(self, conversation_id: int) -> Conversation:
        async with self.gateway.sessions() as session:
            found = await session.get(Conversation, conversation_id)
        assert found is not None
        return found

    def admin_texts(self, chat_id: int) -> list[str]:
        return self.admin.texts_to(chat_id)

    def cards(self, chat_id: int) -> list[dict[str, Any]]:
        return [
            m
            for m in self.admin.sent
            if m["chat"]["id"] == chat_id and m.get("text", "").startswith("🆕")
        ]

    def press(self, user_id: int, message: dict[str, Any], data_prefix: str) -> None:
        buttons = [b for row in message["reply_markup"]["inline_keyboard"] for b in row]
        data = next(
            b["callback_data"] for b in buttons if b["callback_data"].startswith(data_prefix)
        )
        self.admin.client_press(user_id, data, message_id=message["message_id"])


@pytest.fixture
async def admin_telegram() -> AsyncIterator[ForumTelegram]:
    server = ForumTelegram(ADMIN_TOKEN, username="switchboard_admin_bot")
    await server.start()
    yield server
    await server.close()


@pytest.fixture
def admin_bot_settings(admin_telegram: ForumTelegram) -> AdminBotSettings:
    return AdminBotSettings(
        token=SecretStr(ADMIN_TOKEN), api_base=admin_telegram.base_url, poll_timeout=1
    )


@pytest.fixture
def settings(settings: Settings, admin_bot_settings: AdminBotSettings) -> Settings:
    return settings.model_copy(update={"admin_bot": admin_bot_settings})


@pytest.fixture
async def world(
    gateway: Gateway, admin_telegram: ForumTelegram, tmp_path: Path
) -> AsyncIterator[World]:
    telegram, vk = FakeTelegram(), FakeVk()
    await telegram.start()
    await vk.start()
    channels: list[TelegramChannel | VkChannel] = [
        TelegramChannel(
            telegram.token,
            api_base=telegram.base_url,
            poll_timeout=1,
            request_timeout=5,
            retry=RETRY,
            files=AttachmentStore(tmp_path / "client-files", 1_000_000),
        ),
        VkChannel(
            vk.token, vk.group_id, api_base=vk.base_url, wait=1, request_timeout=5, retry=RETRY
        ),
    ]
    for channel in channels:
        gateway.adapters[channel.kind] = channel
    try:
        async with running(gateway, host="127.0.0.1", port=0) as url:
            await eventually(lambda: _subscribed(gateway))
            await eventually(lambda: vk.lp_requests > 0)
            yield World(gateway, admin_telegram, telegram, vk, url)
            await gateway.outbox.drain()
    finally:
        for channel in channels:
            gateway.adapters.pop(channel.kind)
            await channel.aclose()
        await telegram.close()
        await vk.close()


async def _subscribed(gateway: Gateway) -> bool:
    counts = await gateway.redis.pubsub_numsub(keys.desk_events())
    return any(int(n) > 0 for _, n in counts)
