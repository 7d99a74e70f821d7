"""Load held: web chat visitors and Telegram clients asking questions the sample KB answers,
at a steady rate, against one or more gateway processes on PostgreSQL and server Redis.

Connects `--visitors` web chat visitors (page, then socket, spread over the processes),
then for `--seconds` asks `--rate` questions a second, split between web chat (one frame
each) and Telegram (one update each, polled in batches by the process holding the poller
lease), every text made unique by a number so that the KB decides each one. There are as
many Telegram clients as web visitors, each asking in turn, so a client's first question
is also its first contact and the later ones come from a client the desk knows. Prints connect
and answer latencies (p50/p95/p99), errors, and each gateway process's RSS and CPU.

Bounded: at most `--visitors` sockets and `--rate × --seconds` questions; loopback only (a
local Bot API server, a scratch PostgreSQL database dropped afterwards, a private
redis-server on a free port unless REDIS_URL is set).

    .venv/bin/python bench/load.py [--visitors 1000] [--rate 50] [--seconds 300] [--processes 1 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from chaos_world import PrivateRedis, visitor_address  # noqa: E402
from fake_telegram import FakeTelegram  # noqa: E402
from postgres import postgres_server, scratch_database  # noqa: E402

QUESTIONS = (
    "Я потерял карту, что делать?",
    "карту украли",
    "Как заблокировать потерянную карту",
    "не могу найти свою карту, боюсь что кто-то ей воспользуется",
)
TICK = 0.005
ANSWER_TIMEOUT = 30.0


@dataclass
class Figures:
    connect: list[float] = field(default_factory=list)
    web: list[float] = field(default_factory=list)
    telegram: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@contextlib.asynccontextmanager
async def server_redis(work: Path) -> AsyncIterator[str]:
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    redis = PrivateRedis(work / "redis")
    redis.start()
    try:
        yield redis.url
    finally:
        redis.stop()


@dataclass
class Gateway:
    process: asyncio.subprocess.Process
    url: str

    def usage(self) -> tuple[float, float]:
        """RSS in MB and CPU seconds so far."""
        pid = self.process.pid
        rss = (
            next(
                int(line.split()[1])
                for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                if line.startswith("VmRSS:")
            )
            / 1024
        )
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return rss, cpu


async def start_gateways(count: int, work: Path, env: dict[str, str]) -> list[Gateway]:
    gateways = []
    for n in range(count):
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(REPO / "tests" / "gateway_process.py"),
            env={**env, "VAR_DIR": str(work / f"gw{n}")},
            cwd=str(work),
            stdout=asyncio.subprocess.PIPE,
            stderr=(work / f"gw{n}.log").open("w"),
        )
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 180)).decode().split()
        if line[:1] != ["ready"]:
            raise RuntimeError(f"gateway {n} did not start; see {work / f'gw{n}.log'}")
        gateways.append(Gateway(process, line[2]))
    return gateways


class WebVisitor:
    def __init__(self, http: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.http, self.ws = http, ws
        self.waiting: dict[str, float] = {}
        self.reader: asyncio.Task[None] | None = None

    @classmethod
    async def connect(cls, base: str, figures: Figures, address: str) -> WebVisitor | None:
        """A visitor from `address`, as the TLS proxy in front of the gateway names it (the
        per-address limits would otherwise count every visitor of the bench as one)."""
        http = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True), headers={"X-Forwarded-For": address}
        )
        started = time.perf_counter()
        try:
            async with http.get(base + "/") as page:
                page.raise_for_status()
            ws = await http.ws_connect(base + "/ws")
            if (await ws.receive_json(timeout=30))["type"] != "history":
                raise RuntimeError("no history frame")
        except (aiohttp.ClientError, TimeoutError, RuntimeError, KeyError, ValueError) as exc:
            figures.errors.append(f"connect: {exc!r}")
            await http.close()
            return None
        figures.connect.append(time.perf_counter() - started)
        visitor = cls(http, ws)
        visitor.reader = asyncio.create_task(visitor.read(figures))
        return visitor

    async def read(self, figures: Figures) -> None:
        async for frame in self.ws:
            data = json.loads(frame.data)
            if data["type"] == "message" and data["message"]["author"] == "bot" and self.waiting:
                asked = self.waiting.pop(next(iter(self.waiting)))
                figures.web.append(time.perf_counter() - asked)
            elif data["type"] == "error":
                figures.errors.append(f"web: {data}")

    async def ask(self, text: str) -> None:
        message_id = uuid.uuid4().hex
        self.waiting[message_id] = time.perf_counter()
        await self.ws.send_json({"type": "message", "id": message_id, "text": text})

    async def close(self) -> None:
        await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()
        await self.http.close()


async def watch_telegram(server: FakeTelegram, asked: dict[int, float], figures: Figures) -> None:
    seen = 0
    while True:
        while seen < len(server.sent):
            chat = server.sent[seen]["chat"]["id"]
            if chat in asked:
                figures.telegram.append(time.perf_counter() - asked.pop(chat))
            seen += 1
        await asyncio.sleep(TICK)


async def run(args: argparse.Namespace, processes: int) -> None:
    figures = Figures()
    telegram = FakeTelegram()
    await telegram.start()
    with tempfile.TemporaryDirectory(prefix="sb-load-") as folder:
        work = Path(folder)
        async with (
            server_redis(work) as redis_url,
            scratch_database(postgres_server(), "load") as database_url,
        ):
            env = {
                **os.environ,
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
                "HTTP_PORT": "0",
                "SAMPLE_KB": "true",
                "TELEGRAM__TOKEN": telegram.token,
                "TELEGRAM__API_BASE": telegram.base_url,
                "TEST_GLOBAL_RATE": "100000",
                "TRUSTED_PROXIES": "127.0.0.1",  # the bench stands in for the TLS proxy
            }
            gateways = await start_gateways(processes, work, env)
            try:
                with collector_paused():
                    await load(args, gateways, telegram, figures)
            finally:
                for gateway in gateways:
                    gateway.process.kill()
                    await gateway.process.wait()
    await telegram.close()


async def load(
    args: argparse.Namespace, gateways: list[Gateway], telegram: FakeTelegram, figures: Figures
) -> None:
    connecting = asyncio.Semaphore(50)

    async def one(n: int) -> WebVisitor | None:
        async with connecting:
            return await WebVisitor.connect(
                gateways[n % len(gateways)].url, figures, visitor_address(n)
            )

    connected = await asyncio.gather(*(one(n) for n in range(args.visitors)))
    visitors = [v for v in connected if v is not None]
    print(
        f"{len(visitors)} visitors connected; connect p50 {pct(figures.connect, 50)}, "
        f"p99 {pct(figures.connect, 99)}",
        flush=True,
    )
    before = [g.usage() for g in gateways]
    asked_telegram: dict[int, float] = {}
    watcher = asyncio.create_task(watch_telegram(telegram, asked_telegram, figures))
    total = int(args.rate * args.seconds)
    web_asked = telegram_asked = 0
    started = time.perf_counter()
    for n in range(total):
        due = started + n / args.rate
        if (wait := due - time.perf_counter()) > 0:
            await asyncio.sleep(wait)
        text = f"{QUESTIONS[n % len(QUESTIONS)]} {n}"
        by_telegram = (n * args.telegram_percent) // 100 != ((n + 1) * args.telegram_percent) // 100
        if visitors and not by_telegram:  # the Telegram share spread evenly over the run
            # every visitor in turn, so every process gets its share (by `n`, the web
            # questions fell on every other visitor: all on one process of two)
            visitor = visitors[web_asked % len(visitors)]
            web_asked += 1
            try:
                await visitor.ask(text)
            except (aiohttp.ClientError, ConnectionError, RuntimeError) as exc:
                figures.errors.append(f"ask: {exc!r}")
        else:
            user = 50_000_000 + telegram_asked % max(1, args.visitors)
            telegram_asked += 1
            asked_telegram[user] = time.perf_counter()
            telegram.client_message(user, text)
    held = time.perf_counter() - started
    for _ in range(int(ANSWER_TIMEOUT / 0.05)):  # the last answers
        if not (asked_telegram or any(v.waiting for v in visitors)):
            break
        await asyncio.sleep(0.05)
    unanswered = len(asked_telegram) + sum(len(v.waiting) for v in visitors)
    if unanswered:
        figures.errors.append(f"{unanswered} questions unanswered after {ANSWER_TIMEOUT:.0f} s")
    after = [g.usage() for g in gateways]
    watcher.cancel()
    await asyncio.gather(*(v.close() for v in visitors), return_exceptions=True)
    answers = len(figures.web) + len(figures.telegram)
    print(
        f"{len(gateways)} process(es), {len(visitors)} visitors, {total} questions in {held:.0f} s "
        f"({total / held:.1f}/s asked, {answers} answered)"
    )
    for name, values in (
        ("web chat answer", figures.web),
        ("telegram answer", figures.telegram),
        ("connect", figures.connect),
    ):
        print(
            f"  {name:16s} n={len(values):5d}  p50 {pct(values, 50)}  p95 {pct(values, 95)}  "
            f"p99 {pct(values, 99)}  max {pct(values, 100)}"
        )
    for n, ((_, cpu0), (rss, cpu1)) in enumerate(zip(before, after, strict=True)):
        print(f"  gateway {n}: RSS {rss:.0f} MB, CPU {100 * (cpu1 - cpu0) / held:.0f}% of a core")
    print(f"  errors: {len(figures.errors)}" + "".join(f"\n    {e}" for e in figures.errors[:10]))


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The bench's own cycle collector off while it measures. Its 1,000 clients live in one
    process whose collector stopped all of them for 80–160 ms at a time, adding that to
    whatever was in flight (connect p99 about 90 ms higher); a real visitor's browser does
    not pause for the others. Bounded in count and time, the run's garbage waits for the end."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


def pct(values: list[float], percent: int) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    if percent == 100:
        return f"{ordered[-1] * 1000:.0f} ms"
    if len(ordered) == 1:
        return f"{ordered[0] * 1000:.0f} ms"
    return f"{statistics.quantiles(ordered, n=100, method='inclusive')[percent - 1] * 1000:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0, help="questions a second, all channels")
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument(
        "--processes",
        type=int,
        nargs="+",
        default=[1, 2],
        choices=range(1, 5),
        help="gateway processes; one run per number given",
    )
    parser.add_argument(
        "--telegram-percent",
        type=int,
        default=50,
        help="share of the questions that come from Telegram",
    )
    args = parser.parse_args()
    if args.visitors > 5000 or args.rate * args.seconds > 100_000:
        parser.error("bounded: at most 5000 visitors and 100000 questions")
    for processes in args.processes:
        asyncio.run(run(args, processes))


if __name__ == "__main__":
    main()
