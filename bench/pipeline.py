"""Inbound messages per second through the whole Telegram path — local Bot API server →
aiogram → engine (store, identify, KB answer) → outbox → sendMessage — in one gateway
process, beside a bare aiogram echo bot on the same server in the same run.

Each run queues N messages from N different clients (so Telegram's per-chat limit does not
bind), each text made unique by a number (so the KB decides every message, as with real
clients, and none is a repeat of another in its batch), starts the bot process, and times
from its first poll until the server has recorded N replies. The bot-wide send limit is
raised for the measurement: against real Telegram its 30 messages a second are the ceiling
for both bots. SQLite always; PostgreSQL too when DATABASE_URL names a server (a scratch
database is created and dropped there).

    .venv/bin/python bench/pipeline.py [--messages 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# bench/ holds modules named like the standard library's (queue.py): keep it off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from fake_telegram import FakeTelegram  # noqa: E402

QUESTIONS = (
    "Я потерял карту, что делать?",
    "карту украли",
    "Как заблокировать потерянную карту",
    "не могу найти свою карту, боюсь что кто-то ей воспользуется",
)


async def echo_bot(token: str, api_base: str) -> None:
    """The baseline: aiogram's own dispatcher answering every text with itself."""
    from aiogram import Bot, Dispatcher
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.types import Message

    bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(api_base)))
    dispatcher = Dispatcher()

    @dispatcher.message()
    async def echo(message: Message) -> None:
        await message.answer(message.text or "?")

    print("ready", flush=True)
    await dispatcher.start_polling(bot, polling_timeout=1, handle_signals=False)


async def adapter(token: str, api_base: str) -> None:
    """Our Telegram channel alone: its poll loop and send path, echoing without the engine."""
    from channels.delivery import SendRateLimiter
    from channels.telegram import TelegramChannel
    from core.contracts import ChannelKind, InboundMessage, OutboundMessage

    channel = TelegramChannel(
        token,
        api_base=api_base,
        poll_timeout=1,
        limiter=SendRateLimiter(
            per_chat_rate=1, per_chat_burst=3, global_rate=100_000, global_burst=1000
        ),
    )
    replies: set[asyncio.Task[object]] = set()

    async def echo(batch: Sequence[InboundMessage]) -> None:
        for message in batch:
            reply = asyncio.create_task(
                channel.send(
                    OutboundMessage(
                        ChannelKind.TELEGRAM,
                        message.chat_id or "",
                        message.text or "?",
                        len(replies),
                    )
                )
            )
            replies.add(reply)
            reply.add_done_callback(replies.discard)

    print("ready", flush=True)
    await channel.run(echo)


async def gateway(token: str, api_base: str) -> None:
    """The full path: the real Gateway with its Telegram channel wired as bot/app.py wires
    it (the poller lease and the send ledger in Redis), the bot-wide rate raised."""
    from channels.delivery import SendRateLimiter
    from channels.telegram import TelegramChannel, poller_name
    from core.contracts import ChannelKind
    from core.leases import RedisPollerLease
    from core.send_ledger import RedisSendLedger
    from switchboard.app import open_gateway, running, settle_collector
    from switchboard.settings import load_settings

    settings = load_settings()
    async with open_gateway(settings) as opened:
        opened.adapters[ChannelKind.TELEGRAM] = TelegramChannel(
            token,
            api_base=api_base,
            poll_timeout=1,
            lease=RedisPollerLease(opened.redis, poller_name(token)),
            limiter=SendRateLimiter(
                per_chat_rate=1, per_chat_burst=3, global_rate=100_000, global_burst=1000
            ),
            ledger=RedisSendLedger(opened.redis),
        )
        async with running(opened, port=0):
            settle_collector()  # as `switchboard run` does once started
            print("ready", flush=True)
            await asyncio.Event().wait()


async def measure(server: FakeTelegram, role: str, messages: int, env: dict[str, str]) -> float:
    """Queue `messages` updates, start a bot process, time until all are answered."""
    first_user = 10_000_000 + len(server.sent) * 10
    for n in range(messages):  # a number makes each text unique: the KB decides every one
        server.client_message(first_user + n, f"{QUESTIONS[n % len(QUESTIONS)]} {first_user + n}")
    sent_before = len(server.sent)
    with tempfile.TemporaryDirectory(prefix="sb-bench-") as work:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--role",
            role,
            "--token",
            server.token,
            "--api",
            server.base_url,
            env={**os.environ, **env, "VAR_DIR": work, "HTTP_PORT": "0"},
            cwd=work,
            stdout=asyncio.subprocess.PIPE,
        )
        try:
            assert process.stdout is not None
            if not (await asyncio.wait_for(process.stdout.readline(), 120)).startswith(b"ready"):
                raise RuntimeError(f"the {role} process did not start")
            polls_before = len(server.calls_of("getUpdates"))
            while len(server.calls_of("getUpdates")) == polls_before:
                if process.returncode is not None:
                    raise RuntimeError(f"the {role} process exited")
                await asyncio.sleep(0.001)
            started = time.perf_counter()
            deadline = started + 600
            while len(server.sent) - sent_before < messages:
                if time.perf_counter() > deadline:
                    answered = len(server.sent) - sent_before
                    raise RuntimeError(f"{role}: only {answered} of {messages} answered")
                await asyncio.sleep(0.005)
            elapsed = time.perf_counter() - started
        finally:
            process.kill()
            await process.wait()
    return messages / elapsed


async def postgres_database(base: str) -> tuple[str, str]:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    url = make_url(base)
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False), name


async def drop_database(base: str, name: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    admin = create_async_engine(base, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


async def bench(messages: int, rounds: int) -> None:
    """Each round measures every path right after an echo-bot run, so a ratio compares two
    runs seconds apart; the median over rounds damps a shared machine's swings."""
    server = FakeTelegram()
    await server.start()
    runs: dict[str, list[tuple[float, float]]] = {}
    base = os.environ.get("DATABASE_URL", "")
    try:
        for _ in range(rounds):
            echo = await measure(server, "echo", messages, {})
            runs.setdefault("(channel only, no engine)", []).append(
                (await measure(server, "adapter", messages, {}), echo)
            )
            with tempfile.TemporaryDirectory(prefix="sb-bench-db-") as scratch:
                runs.setdefault("full path, SQLite", []).append(
                    (
                        await measure(
                            server,
                            "gateway",
                            messages,
                            {"DATABASE_URL": f"sqlite+aiosqlite:///{scratch}/bench.db"},
                        ),
                        echo,
                    )
                )
            if base.startswith("postgresql"):
                echo = await measure(server, "echo", messages, {})
                url, name = await postgres_database(base)
                try:
                    postgres = await measure(server, "gateway", messages, {"DATABASE_URL": url})
                finally:
                    await drop_database(base, name)
                runs.setdefault("full path, PostgreSQL", []).append((postgres, echo))
    finally:
        await server.close()
    print(
        f"\nTelegram inbound pipeline, {messages} messages from {messages} clients, "
        f"one bot process each; medians of {rounds} rounds"
    )
    print(f"{'path':<28}{'msg/s':>10}{'echo bot msg/s':>17}{'ratio':>8}   ratio per round")
    for path, pairs in runs.items():
        ratios = [full / echo for full, echo in pairs]
        print(
            f"{path:<28}{statistics.median(f for f, _ in pairs):>10.1f}"
            f"{statistics.median(e for _, e in pairs):>17.1f}{statistics.median(ratios):>8.2f}"
            f"   {' '.join(f'{r:.2f}' for r in ratios)}"
        )
    if not base.startswith("postgresql"):
        print("(PostgreSQL: set DATABASE_URL=postgresql+asyncpg://… to measure it too)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--role", choices=("echo", "adapter", "gateway"), help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--api", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "echo":
        asyncio.run(echo_bot(args.token, args.api))
    elif args.role == "adapter":
        asyncio.run(adapter(args.token, args.api))
    elif args.role == "gateway":
        from switchboard import event_loop

        event_loop.run(gateway(args.token, args.api))  # on the event loop `switchboard run` uses
    else:
        asyncio.run(bench(args.messages, args.rounds))


if __name__ == "__main__":
    main()
