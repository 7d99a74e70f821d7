"""The live queue repaired from the database while the gateway runs: a hand-off made while
Redis was down reaches the queue within seconds of Redis coming back, without a restart;
a conversation the database closed is dropped; the repairs are on /metrics."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from sqlalchemy import select, update
from stepping_clock import SteppingClock
from waiting import eventually

from core.contracts import ChannelKind, InboundMessage
from core.db import SessionFactory
from core.models import Conversation, ConversationStatus
from routing.rebuild import entry_for
from routing.reconcile import QueueReconciler
from switchboard.app import open_gateway, running
from switchboard.redis_server import embedded_redis
from switchboard.settings import Settings


async def test_a_handoff_during_a_redis_outage_reaches_the_queue_without_a_restart(
    settings: Settings, sessions: SessionFactory, clock: SteppingClock, tmp_path: Path
) -> None:
    redis_dir = tmp_path / "own-redis"
    first_redis, second_redis = embedded_redis(redis_dir), embedded_redis(redis_dir)
    url = await first_redis.__aenter__()
    own = settings.model_copy(update={"redis_url": url, "queue_reconcile_seconds": 0.2})
    back = False
    try:
        async with (
            open_gateway(own, clock=clock) as gateway,
            running(gateway, host="127.0.0.1", port=0) as base_url,
        ):
            await first_redis.__aexit__(None, None, None)  # Redis goes down…
            await gateway.engine.handle(
                InboundMessage(  # …as a client asks for a person
                    channel=ChannelKind.WEB,
                    external_user_id="visitor-1",
                    chat_id="visitor-1",
                    platform_message_id="visitor-1:1",
                    text="Позовите оператора, пожалуйста",
                )
            )
            async with sessions() as session:
                conversation = await session.scalar(select(Conversation))
            assert conversation is not None and conversation.status is ConversationStatus.QUEUED

            await second_redis.__aenter__()  # …and comes back, same socket, same data
            back = True
            assert await gateway.queue.locate(conversation.id) is None

            async def queued() -> bool:
                return await gateway.queue.locate(conversation.id) is not None

            await eventually(queued, 10, what="the handoff queued after the outage")
            located = await gateway.queue.locate(conversation.id)
            assert located is not None and located.holder is None and located.position == 1

            # The database closes it while the queue keeps it (a close whose Redis write
            # was lost).
            async with sessions() as session:
                await session.execute(update(Conversation).values(status=ConversationStatus.CLOSED))
                await session.commit()

            async def dropped() -> bool:
                return await gateway.queue.locate(conversation.id) is None

            await eventually(dropped, 10, what="the closed conversation dropped")
            async with aiohttp.ClientSession() as http, http.get(f"{base_url}/metrics") as response:
                metrics = await response.text()
    finally:
        if back:
            await second_redis.__aexit__(None, None, None)
    assert 'switchboard_queue_repairs_total{kind="added"} 1.0' in metrics
    assert 'switchboard_queue_repairs_total{kind="removed"} 1.0' in metrics


async def test_a_conversation_in_flight_is_not_repaired(
    settings: Settings, sessions: SessionFactory, clock: SteppingClock, tmp_path: Path
) -> None:
    """A difference seen once (a hand-off between its commit and its queue entry) is left
    alone; only one seen on two passes in a row is repaired."""
    async with open_gateway(settings, clock=clock) as gateway:
        await gateway.engine.handle(
            InboundMessage(
                channel=ChannelKind.WEB,
                external_user_id="visitor-2",
                chat_id="visitor-2",
                platform_message_id="visitor-2:1",
                text="Позовите оператора",
            )
        )
        async with sessions() as session:
            conversation = await session.scalar(select(Conversation))
        assert conversation is not None
        assert await gateway.queue.remove(conversation.id)  # as if its entry were not made yet
        reconciler = QueueReconciler(gateway.sessions, gateway.queue, gateway.feed)
        first = await reconciler.reconcile()
        assert first.added == () and await gateway.queue.locate(conversation.id) is None
        await gateway.queue.enqueue(entry_for(conversation))  # the engine's entry arrives
        second = await reconciler.reconcile()
        assert second.added == () and second.removed == ()
