"""Shared fixtures: a real Redis and a real database for every test.

Redis is `REDIS_URL` when set, otherwise an embedded server started once per session;
each test starts from an empty database (FLUSHDB). The suite runs in two pytest-xdist
workers (`make test`); each is a session of its own, and on a shared Redis server each
takes its own database number, counting down from the URL's. The database is `DATABASE_URL` when
set, in which case a fresh database named after it is created on that server for this
run and dropped afterwards (so two runs never collide); otherwise a SQLite file. Migrations
run once per session; every table is emptied after each test.

The sample KB's calibration is made by the session's first gateway and handed to the later
ones with the articles (see `gateway`).

Under CI (`CI=true`) a skipped test fails the run, unless it is on SKIPS_ALLOWED_IN_CI:
a test that did not run proves nothing, and a skip is easy to miss in a green run.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Generator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from _pytest.reports import TestReport
from fake_telegram import FakeTelegram
from fake_vk import FakeVk
from postgres import scratch_database
from redis.asyncio import Redis
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from stepping_clock import SteppingClock

from bot.knowledge import KnowledgeBase
from core.db import SessionFactory, create_engine, session_factory, upgrade
from core.models import Base
from kb.calibration import Calibration
from switchboard.app import SAMPLE_KB, Gateway, open_gateway
from switchboard.redis_server import embedded_redis
from switchboard.settings import Settings


@pytest.fixture(scope="session")
def tmp_root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="switchboard-tests-"))
    root.chmod(0o755)
    return root


@pytest.fixture(scope="session")
async def redis_url(tmp_root: Path) -> AsyncIterator[str]:
    url = os.environ.get("REDIS_URL")
    if url:
        yield _worker_database(url)
        return
    async with embedded_redis(tmp_root / "redis") as embedded_url:
        yield embedded_url


def _worker_database(url: str) -> str:
    """`url` with this xdist worker's own database number (gw0 keeps the URL's, gw1 the
    one below it, ...), so that one worker's FLUSHDB never empties another's."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    parts = urlsplit(url)
    database = int(parts.path.strip("/") or 0) - int(worker.removeprefix("gw"))
    if database < 0:
        raise pytest.UsageError(f"REDIS_URL {url} leaves no database number for worker {worker}")
    return urlunsplit(parts._replace(path=f"/{database}"))


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, decode_responses=True)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
async def database_url(tmp_root: Path) -> AsyncIterator[str]:
    base = os.environ.get("DATABASE_URL")
    if not base or base.startswith("sqlite"):
        yield base or f"sqlite+aiosqlite:///{tmp_root / 'test.db'}"
        return
    url = make_url(base)
    async with scratch_database(url, url.database or "test") as fresh:
        yield fresh


@pytest.fixture(scope="session")
async def db_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def sessions(db_engine: AsyncEngine) -> AsyncIterator[SessionFactory]:
    yield session_factory(db_engine)
    async with db_engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(table.delete())


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock()


@pytest.fixture
def settings(
    request: pytest.FixtureRequest, tmp_path: Path, database_url: str, redis_url: str
) -> Settings:
    """Test settings; a test may override fields with
    `@pytest.mark.parametrize("settings", [{"field": value}], indirect=True)`."""
    overrides = getattr(request, "param", {})
    return Settings(
        var_dir=tmp_path / "var",
        database_url=database_url,
        redis_url=redis_url,
        http_port=0,
        _env_file=None,  # type: ignore[call-arg]  # pydantic-settings' own argument
        **overrides,
    )


@pytest.fixture(scope="session")
def sample_calibrations() -> list[Calibration]:
    """The sample KB's calibration once the session's first gateway has made it."""
    return []


@pytest.fixture
async def gateway(
    settings: Settings,
    sessions: SessionFactory,
    redis: Redis,
    clock: SteppingClock,
    sample_calibrations: list[Calibration],
) -> AsyncIterator[Gateway]:
    """The real gateway (sample KB, embedded or server Redis, the test database), not serving.
    The first one seeds and calibrates the sample KB as a first start does; later ones find
    the articles and that calibration stored (the same: it depends on the articles alone),
    which saves each test the seconds calibrating takes."""
    if settings.sample_kb and sample_calibrations:
        knowledge = KnowledgeBase(sessions, redis)  # storing embeds nothing: no vectors
        await knowledge.import_file(SAMPLE_KB)
        await knowledge.save_calibration(sample_calibrations[0])
    async with open_gateway(settings, clock=clock) as opened:
        if settings.sample_kb and not sample_calibrations:
            made = await opened.knowledge.calibration()
            assert made is not None, "a first start calibrates the sample KB"
            sample_calibrations.append(made)
        yield opened


@pytest.fixture
async def served(gateway: Gateway) -> AsyncIterator[str]:
    """The gateway serving HTTP (web chat, console) on a free local port: its base URL."""
    from switchboard.app import running

    async with running(gateway, host="127.0.0.1", port=0) as base_url:
        yield base_url


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    """A local Telegram Bot API server (tests/fake_telegram.py), started on a free port."""
    server = FakeTelegram()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def vk() -> AsyncIterator[FakeVk]:
    """A local VK API and Bots Long Poll server (tests/fake_vk.py), started on a free port."""
    server = FakeVk()
    await server.start()
    yield server
    await server.close()


# Tests that may skip under CI, by node id, each with the reason. Keep it short: a skip
# here is a check CI never makes.
SKIPS_ALLOWED_IN_CI: dict[str, str] = {}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, TestReport, TestReport]:
    """Under CI, turn a skip that is not on the allow-list into a failure."""
    report = yield
    if (
        report.skipped
        and not hasattr(report, "wasxfail")
        and os.environ.get("CI") == "true"
        and item.nodeid not in SKIPS_ALLOWED_IN_CI
    ):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = (
            f"skipped under CI=true ({reason}); a skip fails CI unless the test "
            f"is on SKIPS_ALLOWED_IN_CI in tests/conftest.py"
        )
    return report
