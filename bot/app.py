"""Wiring: build every part from the settings, hand each what it needs, run, shut down.

`open_gateway(settings)` is the lifespan: one async context manager that connects the
database and Redis, loads the knowledge base, rebuilds the live queue from the database,
builds the channels, the engine, the operators' desk and the HTTP app, and closes it all
on exit. `serve(gateway)` runs it: the HTTP server, every channel's receiver, and the
background work (pending sends, KB reloads, SLA watch, idle conversations).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from redis.asyncio import Redis

from admin.desk import OperatorDesk
from admin.metrics import metrics_handler
from admin.web import OperatorConsole
from bot.contracts import ChannelAdapter, ChannelKind
from bot.db import SessionFactory, create_engine, session_factory, upgrade
from bot.engine import Engine
from bot.events import DeskFeed
from bot.history import web_history
from bot.knowledge import KnowledgeBase
from bot.models import utcnow
from bot.outbox import Outbox
from bot.redis_server import connect_redis
from bot.settings import Settings
from channels.web import WebChat
from routing.presence import Presence
from routing.queue import OperatorQueue
from routing.rebuild import rebuild_queue
from routing.service_levels import BusinessCalendar, ServiceLevels

__all__ = ["Gateway", "open_gateway", "serve"]

log = logging.getLogger(__name__)

SAMPLE_KB = Path(__file__).with_name("sample_kb") / "bank.yaml"


@dataclass
class Gateway:
    settings: Settings
    sessions: SessionFactory
    redis: Redis
    knowledge: KnowledgeBase
    queue: OperatorQueue
    levels: ServiceLevels
    feed: DeskFeed
    outbox: Outbox
    engine: Engine
    desk: OperatorDesk
    web_chat: WebChat
    adapters: dict[ChannelKind, ChannelAdapter]
    http: web.Application
    clock: Callable[[], dt.datetime]
    background: list[asyncio.Task[None]] = field(default_factory=list)


@contextlib.asynccontextmanager
async def open_gateway(settings: Settings, *,
                       clock: Callable[[], dt.datetime] = utcnow) -> AsyncIterator[Gateway]:
    database = create_engine(settings.resolved_database_url)
    try:
        await upgrade(database)
        async with connect_redis(settings.redis_url, settings.var_dir) as redis:
            sessions = session_factory(database)
            knowledge = KnowledgeBase(sessions, redis)
            if settings.sample_kb:
                await knowledge.seed_if_empty(SAMPLE_KB)
            await knowledge.load()
            levels = ServiceLevels.load(settings.sla_config, BusinessCalendar(
                settings.zone, settings.opening_hours, settings.working_days))
            queue = OperatorQueue(redis)
            await rebuild_queue(sessions, queue)
            feed = DeskFeed(redis)
            web_chat = WebChat(history=lambda visitor: web_history(sessions, visitor))
            adapters: dict[ChannelKind, ChannelAdapter] = {ChannelKind.WEB: web_chat}
            outbox = Outbox(sessions, adapters, feed, clock)
            engine = Engine(
                sessions=sessions, knowledge=knowledge, queue=queue, levels=levels, outbox=outbox, feed=feed, clock=clock, language=settings.language,
                answer_caps={ChannelKind.EMAIL: settings.email.bot_answers_per_hour})
            desk = OperatorDesk(sessions=sessions, queue=queue, outbox=outbox, feed=feed, clock=clock,
                                knowledge=knowledge, presence=Presence(redis, clock=clock))
            http = web.Application(client_max_size=2 * 1024 * 1024)
            http.add_routes(web_chat.routes())
            console = OperatorConsole(desk, feed, settings.operator_token.get_secret_value())
            http.add_routes(console.routes())
            http.on_shutdown.append(lambda _app: console.aclose())  # open consoles would stall it
            gateway = Gateway(settings=settings, sessions=sessions, redis=redis, knowledge=knowledge,
                              queue=queue, levels=levels, feed=feed, outbox=outbox,
                              engine=engine, desk=desk, web_chat=web_chat, adapters=adapters,
                              http=http, clock=clock)
            try:
                yield gateway
            finally:
                for task in gateway.background:
                    task.cancel()
                await asyncio.gather(*gateway.background, return_exceptions=True)
                await outbox.drain()
                for adapter in adapters.values():
                    await adapter.aclose()
    finally:
        await database.dispose()


@contextlib.asynccontextmanager
async def running(gateway: Gateway, *, host: str | None = None,
                  port: int | None = None) -> AsyncIterator[str]:
    """Start the HTTP server, the channels and the background work; yield the base URL."""
    runner = web.AppRunner(gateway.http, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host or gateway.settings.http_host,
                       gateway.settings.http_port if port is None else port)
    await site.start()
    bound = runner.addresses[0]
    base_url = f"http://{bound[0]}:{bound[1]}"
    tasks = gateway.background
    for adapter in gateway.adapters.values():
        tasks.append(asyncio.create_task(_keep_running(adapter.kind.value, adapter.run, gateway.engine)))
    tasks.append(asyncio.create_task(_keep_running("kb-watch", gateway.knowledge.watch)))
    tasks.append(asyncio.create_task(_keep_running("idle-closer", _close_idle, gateway)))
    await gateway.outbox.resend_pending()
    try:
        yield base_url
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        tasks.clear()
        await runner.cleanup()


async def serve(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM, then shut down cleanly (the embedded Redis too)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with open_gateway(settings) as gateway, running(gateway) as url:
        log.info("Switchboard is up: web chat %s/ , operator console %s/operator", url, url)
        print(f"Switchboard is up:\n  web chat          {url}/\n  operator console  {url}/operator"
              f"  (token: OPERATOR_TOKEN)", flush=True)
        await stop.wait()
        log.info("shutting down")


async def _close_idle(gateway: Gateway) -> None:
    idle = dt.timedelta(minutes=gateway.settings.idle_close_minutes)
    while True:
        await gateway.engine.close_idle(idle)
        await asyncio.sleep(60)


async def _keep_running(name: str, work: Callable[..., object], *args: object) -> None:
    """Run a long-lived task; if it crashes, log it and start it again after a pause."""
    delay = 1.0
    while True:
        try:
            await work(*args)  # type: ignore[misc]
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s stopped; restarting in %.0f s", name, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 60.0)
