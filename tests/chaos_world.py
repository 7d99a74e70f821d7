"""The chaos run (bench/chaos.py prints it at size, tests/test_chaos.py asserts it small):
gateway processes on a private PostgreSQL and a private server Redis, Telegram clients and
web chat visitors writing, some asking for a person, while one process after another is
SIGKILLed and restarted, Redis is killed and restarted once and PostgreSQL once. At the
end it counts what was stored, delivered, duplicated, left pending and queued.

Private servers, so that their restarts touch nobody else: PostgreSQL from the system's
binaries (initdb as the postgres user when run as root), redis-server with its AOF."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from glob import glob
from pathlib import Path
from typing import Any

import aiohttp
from fake_telegram import FakeTelegram

ROOT = Path(__file__).resolve().parent.parent
OPERATOR_REPLY = "Здравствуйте, я оператор, помогу."
QUESTIONS = ("Я потерял карту, что делать?", "карту украли", "Как заблокировать потерянную карту")
HANDOFF = "Почему мой кот боится пылесоса и как его успокоить?"
"""Not in the sample KB: the bot hands the conversation to the operators' queue."""
LEASE_SECONDS = "2"
START_TIMEOUT = "90"
"""A gateway not started by then (a start cut short by a crash of Redis or PostgreSQL)
stops and is started again, as by its supervisor."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivatePostgres:
    """A PostgreSQL server of its own in `folder`, on a free loopback port."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        binaries = sorted(glob("/usr/lib/postgresql/*/bin"))
        self.bin = Path(binaries[-1]) if binaries else Path(shutil.which("pg_ctl") or "").parent
        self.data = folder / "data"
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        if not self.data.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0:
                shutil.chown(self.folder, "postgres")
            self._run(
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            )
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.folder / "log"),
            "-w",
            "-o",
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=200",
            "start",
        )

    def crash(self) -> None:
        """Stop as a power cut would (immediate: no checkpoint), then start again."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        self.start()

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop")


class PrivateRedis:
    """A server redis-server in `folder` with its AOF (every second), on a free port."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "/usr/bin/redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.folder),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(400):
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.1),
            ):
                return
            time.sleep(0.025)

    def crash(self) -> None:
        self.stop()
        self.start()

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()


@dataclass
class ChaosReport:
    sent: collections.Counter[str] = field(default_factory=collections.Counter)
    """Client messages sent, by channel ("telegram", "vk", "email", "web")."""
    stored_in: int = 0
    duplicate_in: int = 0
    out_pending: int = 0
    out_failed: int = 0
    replies_lost: collections.Counter[str] = field(default_factory=collections.Counter)
    """Replies the database calls sent that the client's platform never got, by channel."""
    replies_repeated: collections.Counter[str] = field(default_factory=collections.Counter)
    """Replies a client got more often than the database sent them, by channel."""
    web_unanswered: int = 0
    handed_off: int = 0
    taken: int = 0
    closed: int = 0
    queued: int = 0
    queue_mismatch: int = 0
    kills: int = 0
    failovers: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def lost(self) -> int:
        return (
            (sum(self.sent.values()) - self.stored_in)
            + sum(self.replies_lost.values())
            + self.out_failed
            + self.web_unanswered
        )

    @property
    def stuck(self) -> int:
        return self.out_pending + self.queue_mismatch

    @property
    def telegram_duplicates(self) -> int:
        return self.replies_repeated["telegram"]

    def lines(self) -> list[str]:
        failover = (
            f"max {max(self.failovers):.1f} s, mean "
            f"{sum(self.failovers) / len(self.failovers):.1f} s over {len(self.failovers)}"
            if self.failovers
            else "no poller holder was killed"
        )
        sent = " + ".join(f"{n} {channel}" for channel, n in sorted(self.sent.items()))
        return [
            (
                f"{sent} messages in {self.seconds:.0f} s; "
                f"{self.kills} gateway kills, Redis killed once, PostgreSQL crashed once"
            ),
            f"inbound stored {self.stored_in} (duplicates {self.duplicate_in})",
            (
                f"lost {self.lost}; stuck {self.stuck} (pending {self.out_pending}, "
                f"queue mismatches {self.queue_mismatch})"
            ),
            (
                f"replies lost by channel: {dict(self.replies_lost) or 0}; repeated: "
                f"{dict(self.replies_repeated) or 0}; web questions without an answer in "
                f"history: {self.web_unanswered}; failed sends: {self.out_failed}"
            ),
            (
                f"handed off {self.handed_off}; operators took {self.taken} and closed "
                f"{self.closed}; in the queue at the end {self.queued}"
            ),
            f"poller failover after a kill: {failover}",
        ]


class Gateway:
    def __init__(self, name: str, work: Path, env: dict[str, str]) -> None:
        self.name, self.work, self.env = name, work, env
        self.process: asyncio.subprocess.Process | None = None
        self.url: str | None = None

    async def start(self, attempts: int = 10) -> None:
        """Start the process, and start it again when it exits before it is ready, as its
        supervisor (systemd's Restart=on-failure) would: a gateway waits for PostgreSQL
        only so long at start-up (`DATABASE_WAIT`), stops when Redis is away, and stops
        when its start does not finish within START_TIMEOUT."""
        for _ in range(attempts - 1):
            with contextlib.suppress(RuntimeError):
                await self._start_once()
                return
            await asyncio.sleep(1)  # a supervisor's restart delay
        await self._start_once()

    async def _start_once(self) -> None:
        with (self.work / f"{self.name}.log").open("a") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                str(ROOT / "tests" / "gateway_process.py"),
                env={**self.env, "VAR_DIR": str(self.work / self.name)},
                cwd=str(self.work),
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
        assert self.process.stdout is not None
        line = (await asyncio.wait_for(self.process.stdout.readline(), 300)).decode().split()
        if line[:1] != ["ready"]:
            await self.kill()
            raise RuntimeError(
                f"gateway {self.name} did not start: see {self.work}/{self.name}.log"
            )
        self.url = line[2]

    async def kill(self) -> None:
        self.url = None
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()


def visitor_address(n: int) -> str:
    """The n-th web visitor's own address, as a TLS proxy would name it to the gateway."""
    return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


class WebClient:
    """A visitor's page: keeps what it sent until acked and sends it again after a
    reconnect, to whichever gateway is up (as the real page does), one socket at a time.
    Each visitor comes from its own `address`, as the TLS proxy in front of the gateways
    names it: the per-address limits would otherwise count every visitor of the run as one
    (one message a second once a burst of 60 is spent) and refuse most of their messages."""

    def __init__(self, gateways: list[Gateway], address: str) -> None:
        self.gateways = gateways
        self.http = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True), headers={"X-Forwarded-For": address}
        )
        self.unacked: dict[str, str] = {}
        self.sent: list[str] = []
        self.visitor: str | None = None
        self._socket = asyncio.Lock()

    async def send(self, text: str) -> None:
        message_id = uuid.uuid4().hex
        self.unacked[message_id] = text
        self.sent.append(message_id)

    async def flush(self) -> None:
        """Deliver every unacked message; reconnecting on failure."""
        async with self._socket:
            await self._flush()

    async def _flush(self) -> None:
        for _ in range(20):
            if not self.unacked:
                return
            live = [g for g in self.gateways if g.url]
            if not live:
                await asyncio.sleep(0.5)
                continue
            base = random.choice(live).url
            refused_for = 0.0
            try:
                if self.visitor is None:
                    async with self.http.get(f"{base}/") as page:
                        self.visitor = page.cookies["sb_visitor"].value
                async with self.http.ws_connect(f"{base}/ws") as ws:
                    await ws.receive_json(timeout=10)  # history
                    for message_id, text in list(self.unacked.items()):
                        await ws.send_json({"type": "message", "id": message_id, "text": text})
                        while True:
                            frame = await ws.receive_json(timeout=15)
                            if frame.get("type") == "ack" and frame.get("id") == message_id:
                                self.unacked.pop(message_id)
                                break
                            if frame.get("type") == "error" and frame.get("id") == message_id:
                                # not stored: sent again on the next round, after the
                                # wait a "slow down" asks for
                                refused_for = max(refused_for, float(frame.get("retry_in", 0.3)))
                                break
            except (TimeoutError, aiohttp.ClientError, TypeError, ValueError, KeyError):
                refused_for = 0.3
            await asyncio.sleep(refused_for)

    async def close(self) -> None:
        await self.http.close()


class OperatorConsole:
    """An operator at the web console, on whichever gateway is up: takes the next waiting
    conversation, answers it and closes it; after a reconnect, first closes what it holds."""

    def __init__(self, gateways: list[Gateway], session_token: str) -> None:
        from admin.signin import SESSION_COOKIE

        self.gateways = gateways
        self.http = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True), cookies={SESSION_COOKIE: session_token}
        )
        self.holding: set[int] = set()
        self.taken: set[int] = set()
        self.closed: set[int] = set()

    async def work(self, until: asyncio.Event) -> None:
        while not until.is_set():
            live = [g for g in self.gateways if g.url]
            if not live:
                await asyncio.sleep(0.5)
                continue
            try:
                url = f"{random.choice(live).url}/operator/ws"
                async with self.http.ws_connect(url, params={"lang": "en"}) as ws:
                    while not until.is_set():
                        await self._close_held(ws)
                        frame = await _command(ws, "next")
                        if frame["type"] == "error":
                            await asyncio.sleep(0.5)
                            continue
                        conversation_id = int(frame["conversation"]["id"])
                        self.taken.add(conversation_id)
                        self.holding.add(conversation_id)
                        await _command(
                            ws, "reply", conversation_id=conversation_id, text=OPERATOR_REPLY
                        )
            except (TimeoutError, aiohttp.ClientError, KeyError, TypeError, ValueError):
                await asyncio.sleep(0.3)

    async def _close_held(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        for conversation_id in sorted(self.holding):
            frame = await _command(ws, "close", conversation_id=conversation_id)
            if frame["type"] == "error" and frame.get("code") == "failed":
                return  # Redis or the database away: try again later
            self.holding.discard(conversation_id)
            if frame["type"] != "error":
                self.closed.add(conversation_id)

    async def close(self) -> None:
        await self.http.close()


async def _command(
    ws: aiohttp.ClientWebSocketResponse, cmd: str, **fields: object
) -> dict[str, Any]:
    """Send a console command; its answer (a conversation or an error, not a live update)."""
    await ws.send_json({"cmd": cmd, **fields})
    while True:
        frame = await ws.receive_json(timeout=15)
        if frame.get("type") in ("conversation", "error") and not frame.get("live"):
            return dict(frame)


@dataclass
class Mail:
    dovecot: Any
    smtp: Any
    mailbox: str


@contextlib.asynccontextmanager
async def servers(work: Path) -> AsyncIterator[tuple[PrivatePostgres, PrivateRedis, Mail]]:
    from mail_servers import started_dovecot, started_smtp_relay

    postgres, redis = PrivatePostgres(work / "pg"), PrivateRedis(work / "redis")
    await asyncio.to_thread(postgres.start)
    redis.start()
    try:
        async with contextlib.AsyncExitStack() as mail:
            dovecot = await mail.enter_async_context(started_dovecot())
            smtp = mail.enter_context(started_smtp_relay(dovecot))
            yield postgres, redis, Mail(dovecot, smtp, await dovecot.add_user())
    finally:
        redis.stop()
        await asyncio.to_thread(postgres.stop)


async def run_chaos(
    *,
    telegram_messages: int,
    web_visitors: int,
    web_messages: int,
    vk_messages: int = 0,
    email_messages: int = 0,
    operators: int = 2,
    processes: int = 3,
    kill_every: float = 5.0,
    rate: float = 40.0,
    settle_seconds: float = 180.0,
) -> ChaosReport:
    from fake_vk import FakeVk
    from mail_servers import PASSWORD as mail_password

    report = ChaosReport()
    telegram, vk = FakeTelegram(), FakeVk()
    await telegram.start()
    await vk.start()
    work = Path(tempfile.mkdtemp(prefix="sb-chaos-"))
    work.chmod(0o755)
    try:
        async with servers(work) as (postgres, redis, mail):
            env = {
                **os.environ,
                "DATABASE_URL": postgres.url,
                "REDIS_URL": redis.url,
                "HTTP_PORT": "0",
                "SAMPLE_KB": "true",
                "LEASE_SECONDS": LEASE_SECONDS,
                "START_TIMEOUT_SECONDS": START_TIMEOUT,
                "TEST_LEASE_TTL": LEASE_SECONDS,
                "TELEGRAM__TOKEN": telegram.token,
                "TELEGRAM__API_BASE": telegram.base_url,
                "TEST_GLOBAL_RATE": "100000",
                "TRUSTED_PROXIES": "127.0.0.1",  # the run stands in for the TLS proxy
                "VK__TOKEN": vk.token,
                "VK__GROUP_ID": str(vk.group_id),
                "VK__API_BASE": vk.base_url,
                "EMAIL__ADDRESS": mail.mailbox,
                "EMAIL__IMAP_HOST": "127.0.0.1",
                "EMAIL__IMAP_PORT": str(mail.dovecot.port),
                "EMAIL__IMAP_SECURITY": "plain",
                "EMAIL__IMAP_PASSWORD": mail_password,
                "EMAIL__SMTP_HOST": mail.smtp.host,
                "EMAIL__SMTP_PORT": str(mail.smtp.port),
                "EMAIL__SMTP_SECURITY": "plain",
                "EMAIL__SMTP_USER": mail.smtp.user,
                "EMAIL__SMTP_PASSWORD": mail.smtp.password,
                "EMAIL__POLL_INTERVAL": "0.5",
                "EMAIL__BOT_ANSWERS_PER_HOUR": "100000",
            }
            gateways = [Gateway(f"gw{n}", work, env) for n in range(processes)]
            await gateways[0].start()  # migrates; the others start beside each other
            await asyncio.gather(*(g.start() for g in gateways[1:]))
            web = [WebClient(gateways, visitor_address(n)) for n in range(web_visitors)]
            consoles = [
                OperatorConsole(gateways, token)
                for token in await _operators(postgres.url, redis.url, operators)
            ]
            started = time.monotonic()
            stop_operators = asyncio.Event()
            working = [asyncio.create_task(c.work(stop_operators)) for c in consoles]
            try:
                counts = {
                    "telegram": telegram_messages,
                    "vk": vk_messages,
                    "email": email_messages,
                    "web": web_messages if web else 0,
                }
                traffic = asyncio.create_task(
                    _traffic(Clients(telegram, vk, mail, web), counts, rate, report)
                )
                await _chaos(traffic, gateways, postgres, redis, telegram, kill_every, report)
                await traffic
                stop_operators.set()
                await asyncio.gather(*working)
                report.taken = sum(len(c.taken) for c in consoles)
                report.closed = sum(len(c.closed) for c in consoles)
                await _settle(report, web, postgres.url, settle_seconds)
                report.seconds = time.monotonic() - started
                await _count(report, telegram, vk, mail, web, postgres.url, redis.url)
            finally:
                stop_operators.set()
                for task in working:
                    task.cancel()
                for gateway in gateways:
                    await gateway.kill()
                await asyncio.gather(*(w.close() for w in web), *(c.close() for c in consoles))
    except BaseException:
        print(f"chaos run failed; its logs are in {work}", file=sys.stderr)
        raise
    else:
        shutil.rmtree(work, ignore_errors=True)
    finally:
        await telegram.close()
        await vk.close()
    return report


async def _operators(database_url: str, redis_url: str, count: int) -> list[str]:
    """`count` operators serving every group, each with a console session: the tokens."""
    from redis.asyncio import Redis

    from admin.accounts import Accounts
    from core.db import create_engine, session_factory
    from routing.service_levels import BusinessCalendar, ServiceLevels
    from switchboard.settings import Settings

    settings = Settings()
    groups = ServiceLevels.load(
        settings.sla_config,
        BusinessCalendar(settings.zone, settings.opening_hours, settings.working_days),
    ).groups
    engine, client = create_engine(database_url), Redis.from_url(redis_url, decode_responses=True)
    try:
        sessions = session_factory(engine)
        accounts = Accounts(sessions, client)
        tokens = []
        for n in range(count):
            operator = await accounts.save(f"Operator {n}", login=f"op{n}", groups=list(groups))
            async with sessions() as session:
                tokens.append(accounts.console.open(session, operator.id, "127.0.0.1"))
                await session.commit()
        return tokens
    finally:
        await client.aclose()
        await engine.dispose()


@dataclass
class Clients:
    telegram: FakeTelegram
    vk: Any
    mail: Mail
    web: list[WebClient]


async def _traffic(
    clients: Clients, counts: dict[str, int], rate: float, report: ChaosReport
) -> None:
    """Every client writes once, at `rate` messages a second across the channels (in a
    shuffled order), one in ten asking for a person."""
    order = [channel for channel, n in counts.items() for _ in range(n)]
    random.Random(7).shuffle(order)
    started = time.monotonic()
    flushing: set[asyncio.Task[None]] = set()
    for n, channel in enumerate(order):
        if (wait := started + n / rate - time.monotonic()) > 0:
            await asyncio.sleep(wait)
        text = f"{HANDOFF} {n}" if n % 10 == 0 else f"{QUESTIONS[n % len(QUESTIONS)]} {n}"
        number = report.sent[channel]
        report.sent[channel] += 1
        if channel == "telegram":
            clients.telegram.client_message(60_000_000 + number, text)
        elif channel == "vk":
            clients.vk.client_message(70_000_000 + number, text)
        elif channel == "email":
            await asyncio.to_thread(_letter, clients.mail, number, text)
        else:
            client = clients.web[number % len(clients.web)]
            await client.send(text)
            task = asyncio.create_task(client.flush())
            flushing.add(task)
            task.add_done_callback(flushing.discard)
    await asyncio.gather(*flushing)
    await asyncio.gather(*(client.flush() for client in clients.web))


def _letter(mail: Mail, number: int, text: str) -> None:
    from mail_servers import client_letter

    sender = f"client{number}@client.test"
    letter = client_letter(
        mail.mailbox, text, sender=sender, message_id=f"<chaos{number}@client.test>"
    )
    mail.dovecot.deliver(mail.mailbox, letter.as_bytes(), sender=sender)


async def _chaos(
    traffic: asyncio.Task[None],
    gateways: list[Gateway],
    postgres: PrivatePostgres,
    redis: PrivateRedis,
    telegram: FakeTelegram,
    kill_every: float,
    report: ChaosReport,
) -> None:
    from redis.asyncio import Redis

    from channels.telegram import poller_name
    from core import keys

    watcher = Redis.from_url(redis.url, decode_responses=True, socket_timeout=1)
    lease_key = keys.poller_lease(poller_name(telegram.token))
    round_ = 0
    restarts: list[asyncio.Task[None]] = []
    try:
        while not traffic.done():
            await asyncio.wait({traffic}, timeout=kill_every)
            if traffic.done():
                break
            round_ += 1
            if round_ == 2:
                redis.crash()
                continue
            if round_ == 4:
                await asyncio.to_thread(postgres.crash)
                continue
            live = [g for g in gateways if g.url]
            if len(live) < 2:
                continue
            holder = None
            with contextlib.suppress(Exception):
                holder = await watcher.get(lease_key)
            holders = [g for g in live if holder and g.process and f":{g.process.pid}:" in holder]
            victim = holders[0] if holders and report.kills % 2 == 0 else random.choice(live)
            held = victim in holders
            await victim.kill()
            report.kills += 1
            killed_at = time.monotonic()
            restarts.append(asyncio.create_task(victim.start()))
            if held:
                while time.monotonic() - killed_at < 60:
                    with contextlib.suppress(Exception):
                        now = await watcher.get(lease_key)
                        if now and now != holder:
                            report.failovers.append(time.monotonic() - killed_at)
                            break
                    await asyncio.sleep(0.1)
        await asyncio.gather(*restarts)
    finally:
        await watcher.aclose()


async def _settle(
    report: ChaosReport, web: list[WebClient], database_url: str, seconds: float
) -> None:
    """Wait until every message sent is stored and no reply is pending (at most `seconds`)."""
    from sqlalchemy import func, select

    from core.db import create_engine, session_factory
    from core.models import Delivery, Direction, Message

    engine = create_engine(database_url)
    try:
        sessions = session_factory(engine)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                async with sessions() as session:
                    pending = await session.scalar(
                        select(func.count(Message.id)).where(
                            Message.direction == Direction.OUT, Message.delivery == Delivery.PENDING
                        )
                    )
                    stored = await session.scalar(
                        select(func.count(Message.id)).where(Message.direction == Direction.IN)
                    )
                if (
                    (stored or 0) >= sum(report.sent.values())
                    and not pending
                    and not any(w.unacked for w in web)
                ):
                    await asyncio.sleep(2)  # the last replies' marks
                    return
            await asyncio.gather(*(w.flush() for w in web if w.unacked))  # the pages retry
            await asyncio.sleep(0.5)
    finally:
        await engine.dispose()


async def _count(
    report: ChaosReport,
    telegram: FakeTelegram,
    vk: Any,
    mail: Mail,
    web: list[WebClient],
    database_url: str,
    redis_url: str,
) -> None:
    from redis.asyncio import Redis
    from sqlalchemy import func, select

    from core.contracts import ChannelKind
    from core.db import create_engine, session_factory
    from core.models import Conversation, Delivery, Direction, Identity, Message, Operator
    from routing.queue import OperatorQueue
    from routing.rebuild import LIVE

    engine = create_engine(database_url)
    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        async with session_factory(engine)() as session:
            inbound = (
                await session.execute(
                    select(Message.channel, Message.channel_message_id, func.count())
                    .where(Message.direction == Direction.IN)
                    .group_by(Message.channel, Message.channel_message_id)
                )
            ).all()
            report.stored_in = len(inbound)
            report.duplicate_in = sum(n - 1 for *_, n in inbound)
            out = (
                await session.execute(
                    select(Identity.channel, Identity.external_id, Message.delivery, func.count())
                    .join(Identity, Identity.id == Message.identity_id)
                    .where(Message.direction == Direction.OUT)
                    .group_by(Identity.channel, Identity.external_id, Message.delivery)
                )
            ).all()
            live = set(
                await session.scalars(select(Conversation.id).where(Conversation.status.in_(LIVE)))
            )
            report.handed_off = int(
                await session.scalar(
                    select(func.count(Conversation.id)).where(Conversation.queued_at.is_not(None))
                )
                or 0
            )
            operator_ids = list(await session.scalars(select(Operator.id)))
            web_answered = set(
                await session.scalars(
                    select(Message.channel_message_id).where(
                        Message.direction == Direction.IN,
                        Message.channel == ChannelKind.WEB,
                        Message.conversation_id.in_(
                            select(Message.conversation_id).where(
                                Message.direction == Direction.OUT
                            )
                        ),
                    )
                )
            )
        expected: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        for channel, external_id, delivery, n in out:
            if delivery is Delivery.PENDING:
                report.out_pending += n
            elif delivery is Delivery.FAILED:
                report.out_failed += n
            elif channel in (ChannelKind.TELEGRAM, ChannelKind.VK, ChannelKind.EMAIL):
                expected[channel.value][str(external_id).lower()] += n
        received = {
            "telegram": collections.Counter(str(m["chat"]["id"]) for m in telegram.sent),
            "vk": collections.Counter(str(m["peer_id"]) for m in vk.sent),
            "email": collections.Counter(
                rcpt.lower() for letter in mail.smtp.outside for rcpt in letter.rcpt_tos
            ),
        }
        for kind, got in received.items():
            wanted = expected[kind]
            report.replies_lost[kind] = sum(max(0, n - got[user]) for user, n in wanted.items())
            report.replies_repeated[kind] = sum(max(0, n - wanted[user]) for user, n in got.items())
        asked = {f"{w.visitor}:{m}" for w in web for m in w.sent}
        report.web_unanswered = len(asked - web_answered)
        queue = OperatorQueue(client)
        in_queue = collections.Counter(entry.conversation_id for entry in await queue.waiting())
        for operator_id in operator_ids:
            in_queue.update(await queue.assigned(operator_id))
        report.queued = len(in_queue)
        report.queue_mismatch = len(live ^ set(in_queue)) + sum(
            n - 1 for n in in_queue.values() if n > 1
        )
    finally:
        await client.aclose()
        await engine.dispose()


def dumps(report: ChaosReport) -> str:
    return json.dumps(
        {
            **report.__dict__,
            "lost": report.lost,
            "stuck": report.stuck,
        }
    )
