"""The period's handed-off question clusters, found by `kb gaps` (kb/gaps.py): the
articles worth writing next, shown beside the figures."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import select

from admin.reports.period import Period
from core.db import SessionFactory
from core.models import KbMiss
from kb.gaps import MAX_QUESTIONS, find_gaps

__all__ = ["GapCluster", "HandedOffClusters", "kb_gap_clusters"]


@dataclass(frozen=True, slots=True)
class GapCluster:
    """A group of similar questions the bot handed off: an article worth writing."""

    label: str
    questions: int


# What a report asks for its gaps: given the period, the clusters, biggest first.
HandedOffClusters = Callable[[Period], Awaitable[Sequence[GapCluster]]]


async def kb_gap_clusters(sessions: SessionFactory, period: Period) -> tuple[GapCluster, ...]:
    """Clusters of the period's newest handed-off questions, biggest first; each is named
    by the question nearest its centre."""
    async with sessions() as session:
        questions = list(
            await session.scalars(
                select(KbMiss.question)
                .where(KbMiss.at >= period.start, KbMiss.at < period.end)
                .order_by(KbMiss.id.desc())
                .limit(MAX_QUESTIONS)
            )
        )
    found = await asyncio.to_thread(find_gaps, questions)
    return tuple(
        GapCluster(gap.examples[0] if gap.examples else ", ".join(gap.terms), gap.size)
        for gap in found
    )
