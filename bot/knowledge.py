"""The live knowledge base: articles in the database, a `KnowledgeIndex` over them in
memory, kept current in every gateway process.

A change (save, new variant, import, calibration) commits to the database, then bumps the
`kb_version` counter in Redis and publishes the new version on `kb_updates`. Each process
compares the counter with the version its index was built from (`refresh_if_stale`) and
`watch()` reacts to the announcement at once. The version is read BEFORE the articles, so a
change racing a load is never missed: it leaves the index one version behind, which the
next check repairs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import delete, func, select

from core import keys
from core.db import SessionFactory
from core.models import KbArticle, KbCalibration, KbMiss, KbVariant, utcnow
from kb.articles import Article
from kb.calibration import Calibration
from kb.encoder import Progress, sentence_encoder
from kb.formats import load_file
from kb.holdout import DEFAULT_OOS_RECALL, calibrate
from kb.index import KnowledgeIndex
from kb.vector_store import VectorStore

__all__ = ["VECTORS_DIR", "ArticleNotFound", "ImportSummary", "KnowledgeBase"]

VECTORS_DIR = "kb-vectors"
"""Where under the data directory the variants' meaning vectors are kept."""

log = logging.getLogger(__name__)


class ArticleNotFound(LookupError):
    """No article with that id."""


@dataclass(frozen=True)
class ImportSummary:
    created: int
    updated: int
    removed: int
    variants: int


class KnowledgeBase:
    def __init__(
        self, sessions: SessionFactory, redis: Redis, vectors_dir: Path | None = None
    ) -> None:
        """`vectors_dir` keeps the variants' meaning vectors across restarts (None: in
        memory only)."""
        self._sessions = sessions
        self._redis = redis
        self._vectors_dir = vectors_dir
        self._vectors: VectorStore | None = None
        self._index = KnowledgeIndex.build(())
        self._version: int | None = None
        self._lock = asyncio.Lock()

    @property
    def index(self) -> KnowledgeIndex:
        return self._index

    @property
    def version(self) -> int | None:
        """The `kb_version` the current index was built from (None before `load`)."""
        return self._version

    # -- reading --

    async def load(self) -> None:
        """Build the index from the database (off the event loop) and swap it in."""
        async with self._lock:
            version = await self._current_version()
            articles = await self.export_articles()
            calibration = await self.calibration()
            vectors = await self.vectors()
            self._index = await asyncio.to_thread(
                KnowledgeIndex.build, articles, calibration, vectors=vectors
            )
            self._version = version

    async def vectors(self) -> VectorStore:
        """The meaning vectors' store, read from its directory once (off the event loop)."""
        if self._vectors is None:
            self._vectors = await asyncio.to_thread(
                VectorStore, sentence_encoder(), self._vectors_dir
            )
        return self._vectors

    async def embed_variants(self, progress: Progress | None = None) -> None:
        """Encode the variants not yet stored (an import's long part, with its progress)."""
        texts = [t for a in await self.export_articles() for t in (*a.questions, a.title) if t]
        store = await self.vectors()
        await asyncio.to_thread(store.embed, texts, progress=progress)

    async def refresh_if_stale(self) -> bool:
        """Reload when another process (or this one) changed the KB; True if it did."""
        if self._version is None or await self._current_version() != self._version:
            await self.load()
            return True
        return False

    async def watch(self, *, retry_seconds: float = 1.0) -> None:
        """Follow `kb_updates` and refresh on each announcement; runs until cancelled.
        A lost Redis connection is retried, with a version check after each reconnect."""
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(keys.kb_updates())
                await self.refresh_if_stale()  # changes made before we subscribed
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        await self.refresh_if_stale()
            except (RedisError, OSError) as exc:
                log.warning("knowledge base watch lost Redis (%s); retrying", exc)
                await asyncio.sleep(retry_seconds)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def export_articles(self) -> list[Article]:
        async with self._sessions() as session:
            rows = (await session.scalars(select(KbArticle).order_by(KbArticle.id))).all()
            return [_to_article(row) for row in rows]

    async def calibration(self) -> Calibration | None:
        """The newest stored calibration, or None (the index then uses its default)."""
        row = await self._newest_calibration()
        return None if row is None else _parsed(row)

    async def _newest_calibration(self) -> KbCalibration | None:
        async with self._sessions() as session:
            return await session.scalar(
                select(KbCalibration).order_by(KbCalibration.id.desc()).limit(1)
            )

    # -- writing: every change commits, then announces --

    async def save_article(self, article: Article) -> None:
        """Create or replace one article (its variants become exactly `article.questions`)."""
        await self.import_articles([article])

    async def add_variant(self, article_id: str, text: str) -> bool:
        """Teach an article one more way of asking; False when it already knew it."""
        text = text.strip()
        if not text:
            raise ValueError("an empty question cannot be a variant")
        async with self._sessions.begin() as session:
            row = await session.get(KbArticle, article_id)
            if row is None:
                raise ArticleNotFound(article_id)
            if any(v.text == text for v in row.variants):
                return False
            row.variants.append(KbVariant(text=text))
            row.updated_at = utcnow()
        await self._announce()
        return True

    async def import_articles(
        self, articles: Sequence[Article], *, replace: bool = False
    ) -> ImportSummary:
        """Upsert the articles in ONE transaction (all or nothing). With `replace`, articles
        not in `articles` are deleted, so the KB becomes exactly the file."""
        created = updated = removed = variants = 0
        async with self._sessions.begin() as session:
            for article in articles:
                row = await session.get(KbArticle, article.id)
                if row is None:
                    row = KbArticle(id=article.id)
                    session.add(row)
                    created += 1
                else:
                    updated += 1
                _fill(row, article)
                variants += len(article.questions)
            if replace:
                keep = [a.id for a in articles]
                result = await session.execute(
                    delete(KbArticle).where(KbArticle.id.not_in(keep)).returning(KbArticle.id)
                )
                removed = len(result.all())
        await self._announce()
        return ImportSummary(created, updated, removed, variants)

    async def import_file(self, path: Path, *, replace: bool = False) -> ImportSummary:
        """Parse (raises `kb.formats.KbFileError` naming file and line) then import."""
        return await self.import_articles(load_file(path), replace=replace)

    async def seed_if_empty(self, path: Path) -> int:
        """Import `path` when the KB has no articles at all (first start) and calibrate on
        it; the count imported."""
        async with self._sessions() as session:
            count = await session.scalar(select(func.count()).select_from(KbArticle))
        if count:
            return 0
        summary = await self.import_file(path)
        await self.calibrate()
        return summary.created

    async def recalibrate_if_outdated(self) -> bool:
        """Calibrate again when the newest stored calibration was made for another set of
        features (an upgrade changed what the decision sees): the default it would fall
        back to is a guess. True if it did."""
        row = await self._newest_calibration()
        if row is None or _parsed(row) is not None:
            return False
        await self.calibrate()
        return True

    async def calibrate(self, *, min_oos_recall: float | None = DEFAULT_OOS_RECALL) -> Calibration:
        """Calibrate from the stored articles' own held-out variants (off the event loop)
        and store the result."""
        articles = await self.export_articles()
        result = await asyncio.to_thread(
            calibrate, articles, min_oos_recall=min_oos_recall, vectors=await self.vectors()
        )
        await self.save_calibration(result)
        return result

    async def save_calibration(self, calibration: Calibration) -> None:
        async with self._sessions.begin() as session:
            session.add(KbCalibration(source=calibration.source, data=calibration.to_dict()))
        await self._announce()

    async def misses(self, limit: int) -> list[str]:
        """The most recent handed-off questions, newest first."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(KbMiss.question).order_by(KbMiss.id.desc()).limit(limit)
            )
            return list(rows)

    async def _announce(self) -> None:
        version = int(await self._redis.incr(keys.kb_version()))
        await self._redis.publish(keys.kb_updates(), str(version))
        if self._version is not None:  # this process serves an index: bring it up to date
            await self.refresh_if_stale()

    async def _current_version(self) -> int:
        return int(await self._redis.get(keys.kb_version()) or 0)


def _to_article(row: KbArticle) -> Article:
    return Article(
        id=row.id,
        title=row.title,
        answer=row.answer,
        questions=tuple(v.text for v in row.variants),
        category=row.category,
        tags=tuple(row.tags or ()),
        language=row.language,
        enabled=row.enabled,
        answer_short=row.answer_short,
        answer_email=row.answer_email,
    )


def _fill(row: KbArticle, article: Article) -> None:
    row.title = article.title
    row.answer = article.answer
    row.answer_short = article.answer_short
    row.answer_email = article.answer_email
    row.category = article.category
    row.tags = list(article.tags)
    row.language = article.language
    row.enabled = article.enabled
    row.updated_at = utcnow()
    known = {v.text: v for v in row.variants}  # eagerly loaded; empty for a new row
    row.variants = [known.get(q) or KbVariant(text=q) for q in article.questions]


def _parsed(row: KbCalibration) -> Calibration | None:
    try:
        return Calibration.from_dict(row.data)
    except (KeyError, TypeError, ValueError) as exc:
        log.warning("stored KB calibration %s ignored: %s", row.id, exc)
        return None
