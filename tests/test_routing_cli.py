"""`switchboard queue show | rebuild` against the test database and Redis."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from typer.testing import CliRunner

from core.contracts import ChannelKind
from core.db import SessionFactory
from core.models import Client, Conversation, ConversationStatus, Identity, utcnow
from routing.queue import OperatorQueue
from routing.rebuild import entry_for
from switchboard.commands.queue import queue_app


@pytest.fixture
async def stored(sessions: SessionFactory, redis: Redis) -> list[int]:
    now = utcnow()
    async with sessions() as session, session.begin():
        client = Client(display_name="Ольга")
        session.add(client)
        await session.flush()
        identity = Identity(client_id=client.id, channel=ChannelKind.VK, external_id="7")
        session.add(identity)
        await session.flush()
        rows = [
            Conversation(
                client_id=client.id,
                identity_id=identity.id,
                status=ConversationStatus.QUEUED,
                group=group,
                priority=priority,
                category=category,
                queued_at=now - dt.timedelta(minutes=minutes),
                sla_deadline=now + dt.timedelta(minutes=60 - minutes),
                last_channel=ChannelKind.VK,
                last_identity_id=identity.id,
            )
            for group, priority, category, minutes in (
                ("support", 2, "cards", 5),
                ("fraud", 1, "fraud", 75),
                ("support", 3, None, 1),
            )
        ]
        session.add_all(rows)
    queue = OperatorQueue(redis)
    async with sessions() as session:
        for conversation in (await session.scalars(select(Conversation))).all():
            await queue.enqueue(entry_for(conversation))
    return [c.id for c in rows]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, database_url: str, redis_url: str, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "160")


def test_show_lists_the_queue_in_take_order(stored: list[int], env: None) -> None:
    result = CliRunner().invoke(queue_app, ["show"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "Ольга" in line]
    assert [line.split()[1] for line in lines] == ["fraud", "support", "support"]
    assert "overdue 15m" in lines[0] and "1h15m" in lines[0]  # waited 75 min, 60 allowed
    assert "Waiting: 3" in result.output and "vk" in lines[1]
    only = CliRunner().invoke(queue_app, ["show", "--group", "support", "-n", "1"])
    assert only.exit_code == 0 and only.output.count("Ольга") == 1 and "cards" in only.output
    bad = CliRunner().invoke(queue_app, ["show", "--group", "no good"])
    assert bad.exit_code == 2 and "invalid group name" in bad.output


def test_rebuild_restores_a_flushed_queue(stored: list[int], env: None, redis_url: str) -> None:
    async def flush() -> None:
        client = Redis.from_url(redis_url)
        await client.flushdb()
        await client.aclose()

    asyncio.run(flush())
    result = CliRunner().invoke(queue_app, ["rebuild"])
    assert result.exit_code == 0, result.output
    assert "3 restored waiting, 0 assigned, 0 already in place, 0 stale" in result.output
    again = CliRunner().invoke(queue_app, ["rebuild"])
    assert "0 restored waiting, 0 assigned, 3 already in place" in again.output
