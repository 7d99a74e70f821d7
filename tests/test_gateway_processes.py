"""Two real gateway processes on one PostgreSQL database and one Redis: the mailbox is read
by one of them and taken over when it dies, each periodic job runs in one of them, and a web
visitor sees what is sent to them on either process. Always on PostgreSQL (tests/postgres.py)."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from mail_servers import PASSWORD, Dovecot, SmtpRelay, client_letter, dovecot, mailbox, smtp_server  # noqa: F401
from postgres import postgres_url  # noqa: F401
from redis.asyncio import Redis
from sqlalchemy import func, select
from waiting import eventually
from web_client import Visitor

from core import keys
from core.contracts import ChannelKind
from core.db import create_engine, session_factory
from core.models import Direction, Message

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "Я потерял карту, что делать?"
LEASE_SECONDS = 2.0


class GatewayProcess:
    def __init__(self, process: asyncio.subprocess.Process, url: str, log: Path) -> None:
        self.process, self.url, self.log = process, url, log
        self.pid = process.pid

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
        await self.process.wait()


@pytest.fixture
async def gateways(
    tmp_path: Path,
    postgres_url: str,
    redis_url: str,
    dovecot: Dovecot,  # noqa: F811
    smtp_server: SmtpRelay,
    mailbox: str,
) -> AsyncIterator[list[GatewayProcess]]:  # noqa: F811
    """Two gateway processes with the email channel on one mailbox."""
    env = {
        **os.environ,
        "DATABASE_URL": postgres_url,
        "REDIS_URL": redis_url,
        "HTTP_PORT": "0",
        "SAMPLE_KB": "true",
        "LEASE_SECONDS": str(LEASE_SECONDS),
        "EMAIL__ADDRESS": mailbox,
        "EMAIL__IMAP_HOST": "127.0.0.1",
        "EMAIL__IMAP_PORT": str(dovecot.port),
        "EMAIL__IMAP_SECURITY": "plain",
        "EMAIL__IMAP_PASSWORD": PASSWORD,
        "EMAIL__SMTP_HOST": smtp_server.host,
        "EMAIL__SMTP_PORT": str(smtp_server.port),
        "EMAIL__SMTP_SECURITY": "plain",
        "EMAIL__SMTP_USER": smtp_server.user,
        "EMAIL__SMTP_PASSWORD": smtp_server.password,
        "EMAIL__POLL_INTERVAL": "0.5",
        "EMAIL__BOT_ANSWERS_PER_HOUR": "1000",
    }
    started: list[GatewayProcess] = []
    try:
        for name in ("a", "b"):
            log = tmp_path / f"{name}.log"
            with log.open("w") as stderr:
                process = await asyncio.create_subprocess_exec(
                    sys.executable,
                    str(ROOT / "tests" / "gateway_process.py"),
                    env={**env, "VAR_DIR": str(tmp_path / name)},
                    cwd=str(tmp_path),
                    stdout=asyncio.subprocess.PIPE,
                    stderr=stderr,
                )
            assert process.stdout is not None
            line = (await asyncio.wait_for(process.stdout.readline(), 300)).decode().split()
            assert line[:1] == ["ready"], f"{name} did not start: {log.read_text()[-3000:]}"
            started.append(GatewayProcess(process, line[2], log))
        yield started
    finally:
        for gateway in started:
            await gateway.kill()


async def holder_pid(redis: Redis, job: str) -> int | None:
    value = await redis.get(keys.job_lease(job))
    return int(str(value).split(":")[1]) if value else None


def held_by(redis: Redis, job: str, pids: set[int]) -> Callable[[], bool | Awaitable[bool]]:
    """A check for `eventually` (typed so that it infers a bool)."""

    async def check() -> bool:
        return await holder_pid(redis, job) in pids

    return check


async def test_two_processes_split_the_work_and_take_over(
    gateways: list[GatewayProcess],
    redis: Redis,
    postgres_url: str,  # noqa: F811
    dovecot: Dovecot,
    smtp_server: SmtpRelay,
    mailbox: str,
) -> None:  # noqa: F811
    a, b = gateways
    pids = {a.pid, b.pid}
    jobs = ("idle-closer", "sla-watcher", f"email:{mailbox}")
    for job in jobs:
        await eventually(held_by(redis, job, pids), 20, what=f"a holder of {job}")

    # A visitor with a tab on each process: each tab sees all of it.
    async with Visitor(a.url) as visitor:
        other_tab = Visitor(b.url)
        await other_tab.http.close()
        other_tab.http = visitor.http  # the same browser, the same cookie
        await other_tab.connect()
        since = other_tab.ws.mark()
        await visitor.say(QUESTION)
        answer = await visitor.reply(since=0, author="bot")
        echo = await other_tab.ws.expect(
            lambda f: f["type"] == "message" and f["message"]["author"] == "client", since=since
        )
        assert echo["message"]["text"] == QUESTION
        assert (await other_tab.reply(since=since, author="bot"))["id"] == answer["id"]
        await other_tab.ws.aclose()

    def letters(first: int, last: int) -> None:
        for n in range(first, last):
            client = f"client{n}@client.test"
            dovecot.deliver(
                mailbox,
                client_letter(
                    mailbox, QUESTION, sender=client, message_id=f"<p{n}@client.test>"
                ).as_bytes(),
                sender=client,
            )

    letters(0, 10)
    await eventually(lambda: len(smtp_server.outside) >= 10, 60, what="10 answers by email")
    reader = await holder_pid(redis, f"email:{mailbox}")
    dead, survivor = (a, b) if reader == a.pid else (b, a)
    await dead.kill()
    killed_at = time.monotonic()
    letters(10, 20)
    await eventually(lambda: len(smtp_server.outside) >= 20, 60, what="10 more after the takeover")
    took = time.monotonic() - killed_at
    for job in jobs:
        await eventually(held_by(redis, job, {survivor.pid}), 20, what=f"{job} taken over")
    print(f"\nmailbox taken over: 10 letters answered {took:.1f} s after its reader was killed")
    assert took < 15

    engine = create_engine(postgres_url)
    try:
        async with session_factory(engine)() as session:
            stored = await session.scalar(
                select(func.count(Message.id)).where(
                    Message.channel == ChannelKind.EMAIL, Message.direction == Direction.IN
                )
            )
    finally:
        await engine.dispose()
    assert stored == 20  # each letter stored once
    answered = collections.Counter(r.rcpt_tos[0] for r in smtp_server.outside)
    assert sorted(answered) == sorted(f"client{n}@client.test" for n in range(20))
    assert set(answered.values()) == {1}  # and answered once
