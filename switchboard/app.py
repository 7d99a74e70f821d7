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
import functools
import gc
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from pydantic import SecretStr
from redis.asyncio import Redis

from admin.accounts import Accounts
from admin.console_api import ConsoleApi
from admin.desk import Desk
from admin.macros import Macros
from admin.metrics import metrics_handler
from admin.reports import Report, build_report, run_daily_summaries
from admin.reports_page import ReportOptions, ReportsPage
from admin.team_page import TeamPage
from admin.telegram import AdminBot, AdminBotOptions, Audience
from admin.web import OperatorConsole
from bot.engine import Engine
from bot.handover import Handover
from bot.history import web_files, web_history
from bot.knowledge import VECTORS_DIR, KnowledgeBase
from bot.late_apology import LateApology
from bot.outbox import Outbox
from bot.retention import Retention
from bot.typing import TypingSignals
from channels.attachment_store import AttachmentStore
from channels.email import EmailAdapter, MailServer
from channels.http_guard import http_guard, parse_networks
from channels.rate_limits import SharedSendRateLimiter
from channels.telegram import TelegramChannel, poller_name
from channels.uploads import Uploads
from channels.vk import VkChannel
from channels.vk import poller_name as vk_poller_name
from channels.web import WebChat
from channels.web_relay import FrameRelay
from core.buckets import Buckets
from core.contracts import ChannelAdapter, ChannelKind
from core.db import (
    SessionFactory,
    create_engine,
    fill_pool,
    read_session_factory,
    session_factory,
    upgrade,
    wait_for_database,
    write_lock,
)
from core.events import DeskFeed
from core.leases import RedisPollerLease, job_lease
from core.models import utcnow
from core.retry import Backoff
from core.send_ledger import RedisSendLedger
from identity.codes import ProofCodes
from identity.recognition import Recognition
from routing.assignment import Dispatcher
from routing.notices import FeedNotifier
from routing.presence import Presence
from routing.queue import OperatorQueue
from routing.rebuild import rebuild_queue
from routing.reconcile import QueueReconciler, repair_counts
from routing.service_levels import BusinessCalendar, ServiceLevels
from routing.watcher import SlaWatcher
from switchboard.redis_server import connect_redis
from switchboard.settings import Settings
from switchboard.single_process import one_gateway_per_sqlite_file
from switchboard.start_checks import prepare_accounts, refuse_unsafe_settings
from switchboard.start_deadline import start_deadline
from switchboard.var_dir import local_secret, private_sqlite_file, secure_var_dir

__all__ = ["Gateway", "open_gateway", "serve", "settle_collector"]

log = logging.getLogger(__name__)

SAMPLE_KB = Path(__file__).with_name("sample_kb") / "bank.yaml"
DATABASE_WAIT = 60.0
"""At start-up, seconds to wait for a database that does not answer yet (restarting)."""
RESTART = Backoff(first=1.0, longest=60.0)
"""A crashed long-lived task is started again after this backoff."""
STOP_WAIT = 15.0
"""Seconds a clean stop waits for the background tasks to finish their clean-up."""
RECANCEL_EVERY = 1.0
"""Seconds between cancellations of a task that has not stopped (a library swallowed one)."""
UPLOADS_DIR = "uploads"
"""Under VAR_DIR: files uploaded for a message not sent yet (`channels.uploads`)."""
UPLOADS_SWEEP_SECONDS = 3600.0
"""How often each process removes the uploads no message named within a day."""
CONSOLE_FILE_BYTES = 10 * 1024 * 1024
"""The largest file an operator attaches in the console: what most mail servers take."""
YOUNG_OBJECTS_PER_COLLECTION = 20_000
"""Python's default (700) runs the cycle collector every few messages of a busy gateway."""


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
    desk: Desk
    web_chat: WebChat
    adapters: dict[ChannelKind, ChannelAdapter]
    http: web.Application
    clock: Callable[[], dt.datetime]
    accounts: Accounts
    metrics_http: web.Application | None = None
    metrics_url: str | None = None
    admin_bot: AdminBot | None = None
    uploads: tuple[Uploads, ...] = ()
    background: list[asyncio.Task[None]] = field(default_factory=list)

    def sla_watcher(self) -> SlaWatcher:
        """The SLA watcher: it tells the desk, and the client when late (`late_apology`)."""
        late = LateApology(self.sessions, self.outbox, self.clock)
        return SlaWatcher(
            self.queue,
            self.sessions,
            FeedNotifier(self.feed),
            late=late if self.settings.late_apology else None,
        )


@contextlib.asynccontextmanager
async def open_gateway(
    settings: Settings, *, clock: Callable[[], dt.datetime] = utcnow
) -> AsyncIterator[Gateway]:
    secure_var_dir(settings.var_dir)
    private_sqlite_file(settings.resolved_database_url)
    database = create_engine(settings.resolved_database_url)
    try:
        await wait_for_database(database, within=DATABASE_WAIT)
        await upgrade(database)
        await fill_pool(database)
        async with connect_redis(settings.redis_url, settings.var_dir) as redis:
            sessions = session_factory(database)
            knowledge = KnowledgeBase(sessions, redis, settings.var_dir / VECTORS_DIR)
            if settings.sample_kb:
                await knowledge.seed_if_empty(SAMPLE_KB)
            await knowledge.recalibrate_if_outdated()
            await knowledge.load()
            levels = ServiceLevels.load(
                settings.sla_config,
                BusinessCalendar(settings.zone, settings.opening_hours, settings.working_days),
            )
            queue = OperatorQueue(redis)
            await rebuild_queue(sessions, queue)
            feed = DeskFeed(redis)
            visitors_reads = read_session_factory(database)
            web_uploads = visitor_uploads(settings)
            web_chat = WebChat(
                history=functools.partial(web_history, visitors_reads),
                files=functools.partial(web_files, visitors_reads),
                buckets=Buckets(redis),
                trusted_proxies=settings.trusted_proxies,
                language=settings.language,
                relay=FrameRelay(redis),
                prechat=settings.web_prechat_form,
                uploads=web_uploads,
            )
            adapters: dict[ChannelKind, ChannelAdapter] = {ChannelKind.WEB: web_chat}
            adapters.update(_channels(settings, redis))
            writes = write_lock(database)
            outbox = Outbox(
                sessions,
                adapters,
                feed,
                clock,
                writes=writes,
                deadline=dt.timedelta(hours=settings.reply_deadline_hours),
            )
            codes = ProofCodes(redis, pepper=local_secret(settings.var_dir))
            recognition = Recognition(
                sessions=sessions,
                codes=codes,
                queue=queue,
                feed=feed,
                desk_language=settings.language,
            )
            handover = Handover(
                sessions=sessions,
                dispatcher=Dispatcher(queue),
                outbox=outbox,
                feed=feed,
                clock=clock,
                push=settings.auto_assign,
            )
            engine = Engine(
                sessions=sessions,
                knowledge=knowledge,
                queue=queue,
                levels=levels,
                outbox=outbox,
                feed=feed,
                recognition=recognition,
                handover=handover,
                clock=clock,
                language=settings.language,
                answer_caps={
                    **{kind: settings.bot_answers_per_hour for kind in ChannelKind},
                    ChannelKind.EMAIL: settings.email.bot_answers_per_hour,
                },
                writes=writes,
                other_language=settings.kb_other_language,
            )
            presence = Presence(redis, clock=clock)
            desk = Desk.build(
                sessions=sessions,
                queue=queue,
                outbox=outbox,
                feed=feed,
                clock=clock,
                knowledge=knowledge,
                presence=presence,
                handover=handover,
                visitor_uploads=web_uploads,
                typing=TypingSignals(adapters),
                levels=levels,
            )
            accounts = Accounts(
                sessions, redis, session_ttl=dt.timedelta(hours=settings.session_hours)
            )
            admin_bot = _admin_bot(
                settings,
                desk=desk,
                feed=feed,
                sessions=sessions,
                redis=redis,
                presence=presence,
                levels=levels,
                accounts=accounts,
            )
            http = web.Application(
                client_max_size=2 * 1024 * 1024,
                middlewares=[
                    http_guard(
                        trusted_proxies=parse_networks(settings.trusted_proxies),
                        allowed_hosts=settings.hosts_served,
                    )
                ],
            )
            http.add_routes(web_chat.routes())
            telegram = adapters.get(ChannelKind.TELEGRAM)
            if isinstance(telegram, TelegramChannel) and settings.telegram.mode == "webhook":
                http.add_routes([telegram.webhook_route(settings.telegram.webhook_path)])
            replies_files = Uploads(
                settings.var_dir / UPLOADS_DIR / "console",
                settings.var_dir / "admin_files" / "console",
                CONSOLE_FILE_BYTES,
            )
            console = OperatorConsole(
                desk, feed, accounts, macros=Macros(sessions, clock), uploads=replies_files
            )
            http.add_routes(console.routes())
            http.add_routes(
                ConsoleApi(
                    sessions=sessions,
                    accounts=accounts,
                    merging=desk.merging,
                    forgetting=desk.forgetting,
                    uploads=replies_files,
                ).routes()
            )
            http.add_routes(
                ReportsPage(
                    sessions,
                    levels.calendar,
                    accounts,
                    ReportOptions(
                        settings.recontact_days,
                        dt.timedelta(minutes=settings.idle_close_minutes),
                        settings.language,
                    ),
                    clock,
                    category_title=levels.title,
                ).routes()
            )
            http.add_routes(
                TeamPage(
                    sessions,
                    accounts,
                    redis,
                    groups=levels.groups,
                    base_url=settings.base_url,
                    presence=presence,
                    queue=queue,
                ).routes()
            )
            http.on_shutdown.append(lambda _app: console.aclose())  # open consoles would stall it
            metrics_http = _metrics(settings, http, sessions, queue)
            gateway = Gateway(
                settings=settings,
                sessions=sessions,
                redis=redis,
                knowledge=knowledge,
                queue=queue,
                levels=levels,
                feed=feed,
                outbox=outbox,
                engine=engine,
                desk=desk,
                web_chat=web_chat,
                adapters=adapters,
                http=http,
                clock=clock,
                accounts=accounts,
                metrics_http=metrics_http,
                admin_bot=admin_bot,
                uploads=(web_uploads, replies_files) if web_uploads else (replies_files,),
            )
            try:
                yield gateway
            finally:
                for task in gateway.background:
                    task.cancel()
                await asyncio.gather(*gateway.background, return_exceptions=True)
                await engine.drain()
                await outbox.drain()
                for adapter in adapters.values():
                    await adapter.aclose()
                if admin_bot is not None:
                    await admin_bot.aclose()
    finally:
        await database.dispose()


@contextlib.asynccontextmanager
async def running(
    gateway: Gateway, *, host: str | None = None, port: int | None = None
) -> AsyncIterator[str]:
    """Start the HTTP server, the channels and the background work; yield the base URL."""
    runner = web.AppRunner(gateway.http, access_log=None)
    await runner.setup()
    site = web.TCPSite(
        runner,
        host or gateway.settings.http_host,
        gateway.settings.http_port if port is None else port,
    )
    await site.start()
    bound = runner.addresses[0]
    base_url = f"http://{bound[0]}:{bound[1]}"
    metrics_runner = None
    if gateway.metrics_http is not None:
        metrics_runner = web.AppRunner(gateway.metrics_http, access_log=None)
        await metrics_runner.setup()
        await web.TCPSite(metrics_runner, "127.0.0.1", gateway.settings.metrics_port).start()
        metrics_bound = metrics_runner.addresses[0]
        gateway.metrics_url = f"http://{metrics_bound[0]}:{metrics_bound[1]}/metrics"
    tasks = gateway.background

    def start(name: str, work: Callable[..., object], *args: object) -> None:
        tasks.append(asyncio.create_task(_keep_running(name, work, *args), name=name))

    def once_across_processes(name: str, work: Callable[[], Awaitable[None]]) -> None:
        start(name, _once_across_processes, gateway, name, work)

    for adapter in gateway.adapters.values():
        receive = functools.partial(adapter.run, gateway.engine)
        if isinstance(adapter, EmailAdapter):  # one reader per mailbox across the processes
            receive = functools.partial(
                _once_across_processes, gateway, f"email:{gateway.settings.email.address}", receive
            )
        start(adapter.kind.value, receive)
    start("kb-watch", gateway.knowledge.watch)
    # The periodic jobs and the repairs run in one process at a time.
    settings = gateway.settings
    once_across_processes("idle-closer", functools.partial(_close_idle, gateway))
    if settings.retention_days:
        retention = Retention(
            gateway.sessions, dt.timedelta(days=settings.retention_days), gateway.clock
        )
        once_across_processes("retention", retention.run)
    once_across_processes(
        "outbox-sweeper",
        functools.partial(gateway.outbox.sweeper.run, settings.outbox_sweep_seconds),
    )
    # Every process renews the send lease of the replies it is sending, and sweeps its
    # VAR_DIR's unsent uploads (a shared VAR_DIR is swept by all, harmlessly).
    start("outbox-claims", gateway.outbox.claims.hold)
    start("uploads-sweeper", _sweep_uploads, gateway.uploads)
    reconciler = QueueReconciler(gateway.sessions, gateway.queue, gateway.feed)
    once_across_processes(
        "queue-reconciler", functools.partial(reconciler.run, settings.queue_reconcile_seconds)
    )
    if gateway.admin_bot is not None:  # the daily summary runs under the admin bot's lease
        start("admin-bot", gateway.admin_bot.run)
    once_across_processes("sla-watcher", functools.partial(_watch_sla, gateway.sla_watcher()))
    await gateway.outbox.sweeper.resend_pending()
    try:
        yield base_url
    finally:
        await _stop_all(tasks)
        if metrics_runner is not None:
            await metrics_runner.cleanup()
        await runner.cleanup()


async def serve(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM, then shut down cleanly (the embedded Redis too). On
    SQLite, refuse to start beside another gateway process (`DatabaseInUse`)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    refuse_unsafe_settings(settings)
    with one_gateway_per_sqlite_file(settings.resolved_database_url):
        await _serve_until(stop, settings)


async def _serve_until(stop: asyncio.Event, settings: Settings) -> None:
    async with contextlib.AsyncExitStack() as started:
        async with start_deadline(settings.start_timeout_seconds):
            gateway = await started.enter_async_context(open_gateway(settings))
            first_sign_in = await prepare_accounts(gateway)
            url = await started.enter_async_context(running(gateway))
        settle_collector()
        log.info("Switchboard is up: web chat %s/ , operator console %s/operator", url, url)
        print(
            f"Switchboard is up:\n  web chat          {url}/\n  operator console  {url}/operator",
            flush=True,
        )
        if first_sign_in:
            print(
                f"  sign in as the local admin (one-time link, 15 min):\n  {first_sign_in}",
                flush=True,
            )
        await stop.wait()
        log.info("shutting down")


def settle_collector() -> None:
    """Once a long-running gateway has started: what exists now (the KB index, the ORM's and
    aiogram's models) lives as long as the process, so it is frozen out of the cycle
    collector's walks, and young objects are collected less often. Each message makes
    thousands of short-lived objects; with the defaults the collector took a fifth of the
    engine's CPU."""
    gc.collect()
    gc.freeze()
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, YOUNG_OBJECTS_PER_COLLECTION), middle, old)


def _channels(settings: Settings, redis: Redis) -> dict[ChannelKind, ChannelAdapter]:
    """The platform channels whose settings are filled in. Pollers hold a Redis lease, so
    with several gateway processes exactly one polls each bot; the send limits (the
    platforms' own, per chat and per bot) are shared in Redis."""
    adapters: dict[ChannelKind, ChannelAdapter] = {}
    telegram = settings.telegram
    if telegram.token is not None:
        token = telegram.token.get_secret_value()
        adapters[ChannelKind.TELEGRAM] = TelegramChannel(
            token,
            api_base=telegram.api_base,
            mode=telegram.mode,
            webhook_url=telegram.webhook_url,
            webhook_secret=_secret(telegram.webhook_secret),
            lease=RedisPollerLease(redis, poller_name(token), ttl=settings.lease_seconds),
            ledger=RedisSendLedger(redis),
            limiter=SharedSendRateLimiter(
                redis,
                poller_name(token),
                per_chat_rate=1.0,
                per_chat_burst=3,
                global_rate=30.0,
                global_burst=30,
            ),
            files=AttachmentStore(
                settings.var_dir / "attachments" / "telegram", telegram.attachment_max_bytes
            ),
        )
    vk = settings.vk
    if vk.token is not None and vk.group_id is not None:
        adapters[ChannelKind.VK] = VkChannel(
            vk.token.get_secret_value(),
            vk.group_id,
            api_base=vk.api_base,
            lease=RedisPollerLease(redis, vk_poller_name(vk.group_id), ttl=settings.lease_seconds),
            limiter=SharedSendRateLimiter(
                redis,
                vk_poller_name(vk.group_id),
                per_chat_rate=1.0,
                per_chat_burst=3,
                global_rate=20.0,
                global_burst=20,
            ),
            files=AttachmentStore(settings.var_dir / "attachments" / "vk", vk.attachment_max_bytes),
        )
    mail = settings.email
    if mail.address and mail.imap_host and mail.smtp_host:
        adapters[ChannelKind.EMAIL] = EmailAdapter(
            address=mail.address,
            imap=MailServer(
                mail.imap_host,
                mail.imap_port,
                mail.imap_security,
                mail.imap_user or mail.address,
                _secret(mail.imap_password),
            ),
            smtp=MailServer(
                mail.smtp_host,
                mail.smtp_port,
                mail.smtp_security,
                mail.smtp_user,
                _secret(mail.smtp_password),
            ),
            folder=mail.imap_folder,
            processed_folder=mail.processed_folder,
            poll_interval=mail.poll_interval,
            attachment_dir=mail.attachment_dir or settings.var_dir / "attachments" / "email",
            attachment_max_bytes=mail.attachment_max_bytes,
            display_name=mail.display_name,
            trusted_authserv_ids=mail.trusted_authserv_ids,
        )
    return adapters


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def _metrics(
    settings: Settings, http: web.Application, sessions: SessionFactory, queue: OperatorQueue
) -> web.Application | None:
    """/metrics: behind METRICS_TOKEN on the main port; on its own loopback port with
    METRICS_PORT; open on the main port only when that is loopback and neither is set.
    Returns the separate metrics app, if any."""
    token = _secret(settings.metrics_token)
    repairs = functools.partial(repair_counts, queue)
    if token is not None or (settings.on_loopback and settings.metrics_port is None):
        http.router.add_get(
            "/metrics", metrics_handler(sessions, queue=queue, repairs=repairs, token=token)
        )
    if settings.metrics_port is None:
        return None
    separate = web.Application()
    separate.router.add_get("/metrics", metrics_handler(sessions, queue=queue, repairs=repairs))
    return separate


def _admin_bot(
    settings: Settings,
    *,
    desk: Desk,
    feed: DeskFeed,
    sessions: SessionFactory,
    redis: Redis,
    presence: Presence,
    levels: ServiceLevels,
    accounts: Accounts,
) -> AdminBot | None:
    """The operators' Telegram bot, when ADMIN_BOT__TOKEN is set; polled by one process."""
    config = settings.admin_bot
    if config.token is None:
        return None
    token = config.token.get_secret_value()

    async def make_report(period: str, language: str) -> Report:
        return await build_report(
            sessions,
            levels.calendar,
            period,
            language=language,
            recontact_days=settings.recontact_days,
        )

    async def daily_summaries(send: Callable[[Report], Awaitable[None]]) -> None:
        if config.daily_summary_at is not None:
            await run_daily_summaries(
                sessions,
                levels.calendar,
                send,
                at=config.daily_summary_at,
                language=settings.language,
                recontact_days=settings.recontact_days,
            )

    options = AdminBotOptions(
        token=token,
        api_base=config.api_base,
        files_dir=settings.var_dir / "admin_files",
        poll_timeout=config.poll_timeout,
        audience=Audience(config.chat_id, config.forum, settings.language, settings.zone),
    )
    return AdminBot(
        options,
        desk=desk,
        feed=feed,
        sessions=sessions,
        redis=redis,
        presence=presence,
        lease=RedisPollerLease(redis, poller_name(token)),
        make_report=make_report,
        accounts=accounts,
        console_url=settings.base_url,
        daily_summaries=daily_summaries if config.daily_summary_at else None,
    )


async def _once_across_processes(
    gateway: Gateway, job: str, work: Callable[[], Awaitable[None]]
) -> None:
    """Run `work` in one gateway process at a time: the holder of the job's lease."""
    await job_lease(gateway.redis, job, ttl=gateway.settings.lease_seconds).hold(work)


async def _watch_sla(watcher: SlaWatcher) -> None:
    watcher.start()
    try:
        await asyncio.Future()
    finally:
        await watcher.stop()


def visitor_uploads(settings: Settings) -> Uploads | None:
    """Where the web chat keeps visitors' files (None: it takes none)."""
    if not settings.web_attachment_max_bytes:
        return None
    return Uploads(
        settings.var_dir / UPLOADS_DIR / "web",
        settings.var_dir / "attachments" / "web",
        settings.web_attachment_max_bytes,
    )


async def _sweep_uploads(uploads: Sequence[Uploads]) -> None:
    while True:
        for each in uploads:
            removed = await asyncio.to_thread(each.sweep)
            if removed:
                log.info("removed %d unsent upload(s) from %s", removed, each.directory)
        await asyncio.sleep(UPLOADS_SWEEP_SECONDS)


async def _close_idle(gateway: Gateway) -> None:
    """Close what no one is waiting on: a bot conversation gone quiet, and (when set) one
    whose client never answered the operator."""
    idle = dt.timedelta(minutes=gateway.settings.idle_close_minutes)
    unanswered = dt.timedelta(hours=gateway.settings.close_unanswered_hours)
    while True:
        await gateway.engine.close_idle(idle)
        if unanswered:
            closed = await gateway.desk.actions.close_unanswered(unanswered)
            if closed:
                log.info("closed %d conversation(s) the client did not answer", closed)
        await asyncio.sleep(60)


async def _stop_all(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel the background tasks and wait for them, but not for ever: a task stuck in its
    clean-up (a connection that never answers) is named in the log and left behind, so a
    stop always finishes. A task still running after a while is cancelled again: redis-py's
    pub/sub can swallow a cancellation that lands mid-read and go on listening."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STOP_WAIT
    running = set(tasks)
    while running:
        for task in running:
            task.cancel()
        left = deadline - loop.time()
        if left <= 0:
            break
        _, running = await asyncio.wait(running, timeout=min(RECANCEL_EVERY, left))
    for task in running:
        log.error("%s did not stop within %.0f s; left behind", task.get_name(), STOP_WAIT)
    tasks.clear()


async def _keep_running(name: str, work: Callable[..., object], *args: object) -> None:
    """Run a long-lived task; if it crashes, log it and start it again after a pause."""
    failures = 0
    while True:
        try:
            await work(*args)  # type: ignore[misc]
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            failures += 1
            delay = RESTART.delay(failures)
            log.exception("%s stopped; restarting in %.0f s", name, delay)
            await asyncio.sleep(delay)
