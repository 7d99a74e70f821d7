"""A surge on the operators' queue: an outage, and every client asks for a person, then how
long the wait is, then writes more. Prints figures, asserts nothing.

    .venv/bin/python bench/surge.py [--clients 2000] [--batch 100]

The real engine of a gateway (sample KB, embedded Redis, a fresh SQLite database; a scratch
PostgreSQL one too when DATABASE_URL names a server), without a channel: `--clients` web
chat clients write in polled batches of `--batch` (as a Telegram poll brings them), step
by step. For each step: messages per second through `Engine.handle_many` (the commit and
the after-commit work included: the queue entries, the places told) and the SQL
statements one batch costs. The replies are left to the outbox, as a gateway does.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# bench/ holds modules named like the standard library's (queue.py): keep it off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from statement_count import statements  # noqa: E402

from bench.pipeline import drop_database, postgres_database  # noqa: E402
from core.contracts import ChannelKind, InboundMessage  # noqa: E402
from switchboard.app import Gateway, open_gateway  # noqa: E402
from switchboard.settings import load_settings  # noqa: E402

STEPS = (
    ("a first question (for comparison)", "Я потерял карту, что делать?"),
    ("asks for a person: queued", "позовите оператора"),
    ("«сколько ждать?»: the place", "сколько ждать?"),
    ("thanks while queued", "спасибо"),
    ("more words for the operators", "а ещё у меня вопрос про кредит"),
)


async def surge(gateway: Gateway, clients: int, batch: int) -> None:
    for step, text in STEPS:
        messages = [
            InboundMessage(
                channel=ChannelKind.WEB,
                external_user_id=f"client-{n}",
                chat_id=f"client-{n}",
                platform_message_id=f"{step}-{n}",
                text=text,
            )
            for n in range(clients)
        ]
        counts: list[int] = []
        started = time.perf_counter()
        for first in range(0, clients, batch):
            with statements(gateway) as seen:
                await gateway.engine.handle_many(messages[first : first + batch])
            counts.append(len(seen))
        elapsed = time.perf_counter() - started
        print(
            f"  {step:<36}{clients / elapsed:>9.0f} msg/s"
            f"{statistics.median(counts):>9.0f} statements a batch of {batch}"
        )


async def one_database(url: str, label: str, clients: int, batch: int) -> None:
    with tempfile.TemporaryDirectory(prefix="sb-surge-") as work:
        settings = load_settings(
            _env_file=None, var_dir=Path(work), database_url=url or None, http_port=0
        )
        async with open_gateway(settings) as gateway:
            print(f"{label}: {clients} clients, batches of {batch}")
            await surge(gateway, clients, batch)


async def main(clients: int, batch: int) -> None:
    await one_database("", "SQLite", clients, batch)
    base = os.environ.get("DATABASE_URL", "")
    if base.startswith("postgresql"):
        url, name = await postgres_database(base)
        try:
            await one_database(url, "PostgreSQL", clients, batch)
        finally:
            await drop_database(base, name)
    else:
        print("(PostgreSQL: set DATABASE_URL=postgresql+asyncpg://… to measure it too)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=100)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.clients, arguments.batch))
