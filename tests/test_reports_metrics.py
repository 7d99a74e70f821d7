"""`/metrics` over real HTTP: the Prometheus text parser reads it, and the figures follow
the stored facts and the live Redis queue."""

from __future__ import annotations

import datetime as dt

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis
from reports_week import NOW, seed_week

from admin.metrics import metrics_handler
from core.contracts import ChannelKind
from core.db import SessionFactory
from core.events import record
from core.models import Author, Conversation, Delivery, Direction, EventKind, Message
from routing.queue import OperatorQueue, QueueEntry

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(client: TestClient[web.Request, web.Application]) -> Samples:
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(await response.text()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def app_for(sessions: SessionFactory, queue: OperatorQueue | None) -> web.Application:
    app = web.Application()
    app.router.add_get("/metrics", metrics_handler(sessions, queue=queue, clock=lambda: NOW))
    return app


async def test_metrics_follow_the_facts_and_the_queue(
    sessions: SessionFactory, redis: Redis
) -> None:
    week = await seed_week(sessions)
    queue = OperatorQueue(redis, clock=lambda: NOW)
    async with sessions() as session:
        c6 = await session.get(Conversation, week.conversations["C6"])
        assert c6 is not None
    await queue.enqueue(
        QueueEntry(
            c6.id,
            "support",
            1,
            NOW + dt.timedelta(hours=1),
            NOW - dt.timedelta(minutes=10),
            c6.client_id,
            "telegram",
            "cards",
        )
    )

    async with TestClient(TestServer(app_for(sessions, queue))) as client:
        before = await scrape(client)
        assert before[("switchboard_queue_length", (("group", "support"),))] == 1
        assert before[("switchboard_queue_length", (("group", "fraud"),))] == 0  # a known group
        assert before[("switchboard_queue_oldest_wait_seconds", (("group", "support"),))] == 600
        assert before[("switchboard_conversations", (("status", "closed"),))] == 6
        assert before[("switchboard_conversations", (("status", "queued"),))] == 2
        assert before[("switchboard_conversations", (("status", "assigned"),))] == 0
        assert before[("switchboard_bot_answers_total", ())] == 4
        assert before[("switchboard_handoffs_total", (("reason", "asked"),))] == 3
        assert before[("switchboard_handoffs_total", (("reason", "kb_miss"),))] == 3
        assert before[("switchboard_sla_breaches_total", (("group", "support"),))] == 1
        assert before[("switchboard_sla_breaches_total", (("group", "fraud"),))] == 1
        assert not any(name == "switchboard_messages_total" for name, _ in before)
        assert not any(name == "switchboard_undelivered_total" for name, _ in before)
        assert before[("switchboard_replies_awaiting_retry", (("channel", "vk"),))] == 0

        async with sessions() as session:
            session.add_all(
                [
                    Message(
                        conversation_id=c6.id,
                        channel=ChannelKind.TELEGRAM,
                        direction=Direction.IN,
                        author=Author.CLIENT,
                        text="где оператор?",
                        channel_message_id="1:1",
                    ),
                    Message(
                        conversation_id=c6.id,
                        channel=ChannelKind.TELEGRAM,
                        direction=Direction.OUT,
                        author=Author.OPERATOR,
                        text="Здравствуйте!",
                    ),
                    Message(
                        conversation_id=c6.id,
                        channel=ChannelKind.TELEGRAM,
                        direction=Direction.OUT,
                        author=Author.OPERATOR,
                        text="заметка",
                        private=True,
                    ),
                ]
            )
            await session.commit()
        await queue.remove(c6.id)
        after = await scrape(client)

    telegram_in = ("switchboard_messages_total", (("channel", "telegram"), ("direction", "in")))
    telegram_out = ("switchboard_messages_total", (("channel", "telegram"), ("direction", "out")))
    assert (after[telegram_in], after[telegram_out]) == (
        1,
        1,
    )  # the private note is not a message out
    assert after[("switchboard_queue_length", (("group", "support"),))] == 0
    assert after[("switchboard_queue_oldest_wait_seconds", (("group", "support"),))] == 0


async def test_undelivered_replies_count_by_fault_and_retries_wait_by_channel(
    sessions: SessionFactory,
) -> None:
    """What an on-call admin alerts on: a burst of `configuration` (a revoked token) or of
    replies waiting for a retry (a platform down)."""
    week = await seed_week(sessions)
    async with sessions() as session:
        c6 = await session.get(Conversation, week.conversations["C6"])
        assert c6 is not None
        for fault in ("recipient", "recipient", "configuration"):
            record(session, c6, EventKind.UNDELIVERED, NOW, message_id=1, error="…", fault=fault)
        for attempts, channel in ((2, ChannelKind.VK), (1, ChannelKind.VK), (0, ChannelKind.EMAIL)):
            session.add(
                Message(
                    conversation_id=c6.id,
                    channel=channel,
                    direction=Direction.OUT,
                    author=Author.OPERATOR,
                    text="ответ",
                    delivery=Delivery.PENDING,
                    attempts=attempts,  # none yet: a new reply, not a retry
                )
            )
        await session.commit()
    async with TestClient(TestServer(app_for(sessions, None))) as client:
        samples = await scrape(client)
    assert samples[("switchboard_undelivered_total", (("fault", "recipient"),))] == 2
    assert samples[("switchboard_undelivered_total", (("fault", "configuration"),))] == 1
    assert samples[("switchboard_replies_awaiting_retry", (("channel", "vk"),))] == 2
    assert samples[("switchboard_replies_awaiting_retry", (("channel", "email"),))] == 0


async def test_without_a_queue_the_database_gives_the_waiting_figures(
    sessions: SessionFactory,
) -> None:
    await seed_week(sessions)
    async with TestClient(TestServer(app_for(sessions, None))) as client:
        samples = await scrape(client)
    # C6 (support, queued Fri 17:50) and C7 (fraud, Sun 20:00) are queued in the database
    assert samples[("switchboard_queue_length", (("group", "support"),))] == 1
    assert samples[("switchboard_queue_oldest_wait_seconds", (("group", "fraud"),))] == 16 * 3600
    assert samples[("switchboard_queue_oldest_wait_seconds", (("group", "support"),))] == (
        2 * 86400 + 18 * 3600 + 10 * 60
    )


async def test_each_app_has_its_own_registry(sessions: SessionFactory) -> None:
    async with (
        TestClient(TestServer(app_for(sessions, None))) as first,
        TestClient(TestServer(app_for(sessions, None))) as second,
    ):
        assert ("switchboard_conversations", (("status", "bot"),)) in await scrape(first)
        assert ("switchboard_conversations", (("status", "bot"),)) in await scrape(second)
    assert REGISTRY.get_sample_value("switchboard_bot_answers_total") is None


async def test_an_empty_desk_scrapes_zeros(sessions: SessionFactory) -> None:
    async with TestClient(TestServer(app_for(sessions, None))) as client:
        samples = await scrape(client)
    assert samples[("switchboard_bot_answers_total", ())] == 0
    assert samples[("switchboard_conversations", (("status", "queued"),))] == 0
