"""The live knowledge base over the real database and Redis: saving, importing all or
nothing, calibration storage, and changes reaching other processes without a restart."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis_waits import subscribed
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from waiting import eventually

from bot.knowledge import ArticleNotFound, KnowledgeBase
from core import keys
from core.db import SessionFactory
from core.models import KbArticle, KbCalibration
from kb.articles import Article
from kb.formats import KbFileError
from kb.index import Decision

REPO = Path(__file__).resolve().parents[1]
SAMPLE_KB = REPO / "switchboard" / "sample_kb" / "bank.yaml"

LOST = Article(
    "card-lost",
    "Карта потеряна",
    "Заблокируйте карту.",
    ("Я потерял карту", "Карту украли"),
    category="lost_card",
    tags=("card",),
    answer_short="Заблокируйте.",
    answer_email="Здравствуйте! Заблокируйте карту.",
)
FEE = Article(
    "transfer-fee", "Комиссия", "Бесплатно.", ("Какая комиссия за перевод",), category="fees"
)
WHEEL = Article(
    "spare-wheel",
    "Запасное колесо",
    "Колесо в багажнике.",
    ("Где запасное колесо", "Как поменять колесо"),
    category="general",
)


@pytest.fixture
async def kb(sessions: SessionFactory, redis: Redis) -> KnowledgeBase:
    knowledge = KnowledgeBase(sessions, redis)
    await knowledge.load()
    return knowledge


async def test_saved_articles_come_back_whole(
    kb: KnowledgeBase, sessions: SessionFactory, redis: Redis
) -> None:
    await kb.save_article(LOST)
    await kb.save_article(FEE)
    assert await kb.export_articles() == [LOST, FEE]
    assert kb.index.decide("потерял карту").hits[0].article == LOST
    fresh = KnowledgeBase(sessions, redis)
    await fresh.load()
    assert fresh.index.articles == (LOST, FEE)


async def test_editing_an_article_replaces_its_variants(kb: KnowledgeBase) -> None:
    await kb.save_article(LOST)
    edited = Article(LOST.id, LOST.title, "Новый ответ.", ("Карту украли", "Пропала карта"))
    await kb.save_article(edited)
    assert await kb.export_articles() == [edited]
    assert kb.index.article(LOST.id) == edited


async def test_add_variant(kb: KnowledgeBase) -> None:
    await kb.save_article(LOST)
    await kb.save_article(FEE)
    assert await kb.add_variant(LOST.id, "  банкомат съел карточку ") is True
    assert await kb.add_variant(LOST.id, "банкомат съел карточку") is False
    [article, _] = await kb.export_articles()
    assert article.questions == (*LOST.questions, "банкомат съел карточку")
    assert kb.index.search("банкомат съел карточку", 1)[0].article.id == LOST.id
    with pytest.raises(ArticleNotFound):
        await kb.add_variant("no-such-article", "вопрос")
    with pytest.raises(ValueError):
        await kb.add_variant(LOST.id, "   ")


async def test_import_is_all_or_nothing(kb: KnowledgeBase, sessions: SessionFactory) -> None:
    await kb.save_article(FEE)
    broken = Article("broken", "", None, ("вопрос",))  # type: ignore[arg-type]  # NOT NULL
    with pytest.raises(IntegrityError):
        await kb.import_articles([LOST, broken])
    async with sessions() as session:
        assert list(await session.scalars(select(KbArticle.id))) == [FEE.id]


async def test_a_bad_file_changes_nothing(kb: KnowledgeBase, tmp_path: Path) -> None:
    await kb.save_article(FEE)
    path = tmp_path / "kb.csv"
    path.write_text(
        "article_id,question,answer,category\n"
        "card-lost,Я потерял карту,Заблокируйте,lost_card\n"
        "card-lost,,,\n",
        encoding="utf-8",
    )
    with pytest.raises(KbFileError, match=r"kb.csv:3: article card-lost: empty question"):
        await kb.import_file(path)
    assert await kb.export_articles() == [FEE]


async def test_import_with_replace_makes_the_kb_exactly_the_file(kb: KnowledgeBase) -> None:
    await kb.import_articles([LOST, FEE])
    summary = await kb.import_articles([FEE, WHEEL], replace=True)
    assert (summary.created, summary.updated, summary.removed) == (1, 1, 1)
    assert [a.id for a in await kb.export_articles()] == ["spare-wheel", "transfer-fee"]


async def test_seed_if_empty_loads_and_calibrates_the_sample_once(
    kb: KnowledgeBase, sessions: SessionFactory
) -> None:
    assert await kb.seed_if_empty(SAMPLE_KB) >= 30
    assert await kb.seed_if_empty(SAMPLE_KB) == 0
    async with sessions() as session:
        stored = list(await session.scalars(select(KbCalibration)))
    assert len(stored) == 1 and stored[0].source == "kb"
    assert kb.index.calibration.source == "kb"
    lost = kb.index.decide("я потерял карту")
    assert (lost.decision, lost.hits[0].article.id) == (Decision.ANSWER, "card-lost")


async def test_a_stored_calibration_is_used_by_every_loader(
    kb: KnowledgeBase, sessions: SessionFactory, redis: Redis
) -> None:
    await kb.import_articles([LOST, FEE, WHEEL])
    calibration = await kb.calibrate()
    other = KnowledgeBase(sessions, redis)
    await other.load()
    assert other.index.calibration == calibration == kb.index.calibration


async def test_a_calibration_for_other_features_is_replaced(
    kb: KnowledgeBase, sessions: SessionFactory
) -> None:
    """After an upgrade that changed the decision's features the stored calibration no
    longer fits; the gateway calibrates again at start instead of guessing."""
    await kb.import_articles([LOST, FEE, WHEEL])
    async with sessions.begin() as session:
        session.add(
            KbCalibration(
                source="kb", data={**(await kb.calibrate()).to_dict(), "answer_weights": [1.0, 2.0]}
            )
        )
    assert await kb.calibration() is None
    assert await kb.recalibrate_if_outdated()
    assert (await kb.calibration()) is not None
    assert not await kb.recalibrate_if_outdated()
    await kb.load()
    assert kb.index.calibration.source == "kb"


async def test_a_second_instance_sees_a_change_without_a_restart(
    kb: KnowledgeBase, sessions: SessionFactory, redis_url: str
) -> None:
    own_redis = Redis.from_url(redis_url, decode_responses=True)
    other = KnowledgeBase(sessions, own_redis)
    await other.load()
    assert await other.refresh_if_stale() is False
    watcher = asyncio.create_task(other.watch())
    try:
        await subscribed(own_redis, keys.kb_updates())
        await kb.save_article(WHEEL)
        await eventually(lambda: other.index.article(WHEEL.id), what="the article seen")
        assert other.index.search("где запасное колесо", 1)[0].article.id == WHEEL.id
        assert other.version == kb.version == int(await own_redis.get(keys.kb_version()) or 0)
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        await own_redis.aclose()


async def test_refresh_if_stale_catches_a_missed_announcement(
    kb: KnowledgeBase, sessions: SessionFactory, redis: Redis
) -> None:
    other = KnowledgeBase(sessions, redis)
    await other.load()
    await kb.save_article(WHEEL)  # `other` is not watching: only the version tells it
    assert other.index.article(WHEEL.id) is None
    assert await other.refresh_if_stale() is True
    assert other.index.article(WHEEL.id) == WHEEL


SECOND_PROCESS = """
import asyncio, sys
from redis.asyncio import Redis
from core.db import create_engine, session_factory
from bot.knowledge import KnowledgeBase

async def main(database_url, redis_url):
    engine = create_engine(database_url)
    redis = Redis.from_url(redis_url, decode_responses=True)
    kb = KnowledgeBase(session_factory(engine), redis)
    await kb.load()
    watcher = asyncio.create_task(kb.watch())
    print("ready", len(kb.index.articles), flush=True)
    while True:
        hits = kb.index.search("где запасное колесо", 1)
        if hits and hits[0].article.id == "spare-wheel":
            print("found", hits[0].article.answer, flush=True)
            break
        await asyncio.sleep(0.05)
    watcher.cancel()
    await redis.aclose()
    await engine.dispose()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def test_another_process_sees_a_new_article(
    kb: KnowledgeBase, database_url: str, redis_url: str
) -> None:
    await kb.save_article(LOST)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SECOND_PROCESS,
        database_url,
        redis_url,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        ready = await asyncio.wait_for(process.stdout.readline(), 60)
        assert ready.decode().split() == ["ready", "1"]
        await kb.save_article(WHEEL)
        found = await asyncio.wait_for(process.stdout.readline(), 30)
        assert found.decode().strip() == "found Колесо в багажнике."
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
