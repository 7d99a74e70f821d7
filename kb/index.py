"""The answer/clarify/hand-off decision over a KB's articles.

Questions are scored against the articles by kb/scoring.py; a `Calibration`
(kb/calibration.py) turns the scores' features into the probability that the top hit is
right (answer) or among the top three (clarify). Beside it: a bare topic word that several
articles use is always a choice, a question that may be Russian typed in Latin letters
(«kak zablokirovat kartu») is read again in Cyrillic, and a question the articles in its
own alphabet cannot answer may be answered by one in the other alphabet that means the
same.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from kb.articles import Article
from kb.calibration import Calibration
from kb.encoder import Progress
from kb.scoring import ArticleScorer, Scores, top_columns
from kb.text import CYRILLIC, topic_stems
from kb.translit import may_be_russian, read_as_cyrillic
from kb.vector_store import VectorStore, memory_store

__all__ = ["CLARIFY_LIMIT", "Decision", "Hit", "KnowledgeIndex", "Match"]

CROSS_LANGUAGE_MATCH = 0.55
"""A question the KB's articles in its own alphabet cannot answer is answered by an article
in the other one whose best variant means the same: from this meaning cosine, with no
rival (in either alphabet) within CROSS_LANGUAGE_LEAD (same-request pairs across Russian
and English score 0.6-0.8, unrelated ones below 0.4). The calibration, learnt from the
KB's own variants, cannot judge such a pair: they share no term."""
CROSS_LANGUAGE_LEAD = 0.05
CLARIFY_LIMIT = 3
EVIDENCE = 0.5
"""Choices are offered, and a hand-off names the close hits' category, only when the
calibrated probability that the right article is among the top three reaches this."""


class Decision(str, enum.Enum):
    ANSWER = "answer"
    CLARIFY = "clarify"
    HANDOFF = "handoff"


@dataclass(frozen=True)
class Hit:
    article: Article
    score: float


@dataclass(frozen=True)
class Match:
    """ANSWER: `hits[0]` is the answer. CLARIFY: 2-3 close hits to offer. HANDOFF: `hits`
    may hold the best guesses. `confidence` is the calibrated probability that `hits[0]` is
    right."""

    decision: Decision
    hits: tuple[Hit, ...]
    confidence: float = 0.0
    category: str | None = None
    """The category the evidence supports (None: no article is a good enough guess)."""
    language: str | None = None
    """The language the question was read in when its letters say another: "ru" for
    Russian typed in Latin letters."""


class KnowledgeIndex:
    """Immutable: a change to the KB builds a new index and swaps it in."""

    def __init__(
        self,
        articles: Sequence[Article],
        calibration: Calibration | None,
        vectors: VectorStore | None = None,
        progress: Progress | None = None,
    ) -> None:
        self._all = tuple(articles)
        self._by_id = {a.id: a for a in self._all}
        self.calibration = calibration or Calibration.default()
        texts = {a.id: _rows_of(a) for a in self._all if a.enabled}
        self._indexed = tuple(a for a in self._all if texts.get(a.id))
        self._cyrillic = any(CYRILLIC.search(row) for a in self._indexed for row in texts[a.id])
        self._scorer = (
            ArticleScorer(
                [texts[a.id] for a in self._indexed],
                vectors if vectors is not None else memory_store(),
                progress,
            )
            if self._indexed
            else None
        )

    @classmethod
    def build(
        cls,
        articles: Iterable[Article],
        calibration: Calibration | None = None,
        *,
        vectors: VectorStore | None = None,
        progress: Progress | None = None,
    ) -> KnowledgeIndex:
        """`vectors` keeps the variants' meaning vectors (the process's memory store by
        default); `progress` hears how far their encoding got."""
        return cls(tuple(articles), calibration, vectors, progress)

    def with_calibration(self, calibration: Calibration) -> KnowledgeIndex:
        """The same index deciding by another calibration (shares the matrices)."""
        twin = copy.copy(self)
        twin.calibration = calibration
        return twin

    @property
    def articles(self) -> tuple[Article, ...]:
        return self._all

    def article(self, article_id: str) -> Article | None:
        return self._by_id.get(article_id)

    @property
    def variant_count(self) -> int:
        return 0 if self._scorer is None else self._scorer.variant_count

    def indexed_article(self, position: int) -> Article:
        """The article of a `Scores` column (enabled articles with something to match)."""
        return self._indexed[position]

    def search(self, text: str, limit: int = 5, *, evidence: float = 0.0) -> list[Hit]:
        """The best `limit` articles for `text`; none when the calibrated probability that
        the right one is among the top three is below `evidence` (an operator's suggestions:
        a request for a person scores a few articles a little, none of them likely)."""
        scores = self.scores([text])
        if scores is None or limit <= 0:
            return []
        if evidence > 0.0 and self.calibration.clarify_probability(scores.features()[0]) < evidence:
            return []
        return list(self._hits(scores.combined[0], scores.ranked(limit)[0]))

    def decide(self, text: str) -> Match:
        return self.decide_many([text])[0]

    def decide_many(self, texts: Sequence[str]) -> list[Match]:
        """`decide` for a batch (evaluation, `kb match`)."""
        scores = self.scores(texts)
        if scores is None:
            return [Match(Decision.HANDOFF, ()) for _ in texts]
        features = scores.features()
        ranked = scores.ranked(CLARIFY_LIMIT)
        matches = [
            self._decision(
                features[row],
                self._hits(scores.combined[row], ranked[row]),
                self._topic_choices(text, scores.combined[row]),
            )
            for row, text in enumerate(texts)
        ]
        read = self._transliterated(texts, matches)
        decided = []
        for row, match in enumerate(matches):
            if row in read:
                match = read[row]
            elif match.decision is Decision.HANDOFF:
                match = self._other_language(scores, row) or match
            decided.append(match)
        return decided

    def _transliterated(self, texts: Sequence[str], matches: Sequence[Match]) -> dict[int, Match]:
        """Row → the decision for a question that may be Russian typed in Latin letters
        (kb/translit.py), read so, when the KB has Russian articles and that reading is
        answered or clarified (by the same calibration) more surely than the question as
        written («a skolko stoit perevod po SBP?» matched an English article by "SBP")."""
        if not self._cyrillic:
            return {}
        rows = [row for row, text in enumerate(texts) if self._may_be_transliterated(text)]
        if not rows:
            return {}
        read = self.decide_many([read_as_cyrillic(texts[row]) for row in rows])
        return {
            row: dataclasses.replace(match, language="ru")
            for row, match in zip(rows, read, strict=True)
            if match.decision is not Decision.HANDOFF
            and (
                matches[row].decision is Decision.HANDOFF
                or match.confidence > matches[row].confidence
            )
        }

    def _may_be_transliterated(self, text: str) -> bool:
        """Latin letters, no word only English has, and most of its words none that the
        KB's variants use ("limit" is a word of the English articles, "kartu" of none)."""
        if self._scorer is None or not may_be_russian(text):
            return False
        stems = topic_stems(text)
        known = sum(1 for stem in stems if len(self._scorer.naming(stem)))
        return 2 * known < len(stems)

    def _other_language(self, scores: Scores, row: int) -> Match | None:
        """An answer from an article in the other alphabet whose best variant means what the
        question does (see CROSS_LANGUAGE_MATCH), or None. Its rivals include the articles
        in the question's own alphabet: «не пришли деньги» is closer to the Russian
        article on a missing transfer than to its English twin, which must not answer it
        (the calibration had declined that article, and the client would hear the answer
        is in English only)."""
        other = scores.other_script[row]
        meaning = np.where(other, scores.best_meaning[row], 0.0)
        order = top_columns(meaning[None, :], 2)[0]
        first = int(order[0])
        own_best = float(np.where(other, 0.0, scores.best_meaning[row]).max(initial=0.0))
        rival = max(float(meaning[order[1]]) if len(order) > 1 else 0.0, own_best)
        if meaning[first] < CROSS_LANGUAGE_MATCH or meaning[first] - rival < CROSS_LANGUAGE_LEAD:
            return None
        article = self._indexed[first]
        return Match(
            Decision.ANSWER,
            (Hit(article, float(scores.combined[row, first])),),
            float(meaning[first]),
            article.category,
        )

    def _decision(
        self, features: np.ndarray, hits: tuple[Hit, ...], topic_choices: tuple[Hit, ...]
    ) -> Match:
        if not hits:
            return Match(Decision.HANDOFF, (), 0.0)
        cal = self.calibration
        confidence = cal.answer_probability(features)
        if len(topic_choices) > 1:  # a bare topic word: which of its articles, is the question
            return Match(
                Decision.CLARIFY, topic_choices, confidence, _shared_category(topic_choices)
            )
        rival = hits[1].score if len(hits) > 1 else 0.0
        if confidence >= cal.answer_threshold and hits[0].score - rival >= cal.rival_gap:
            return Match(Decision.ANSWER, hits[:1], confidence, hits[0].article.category)
        close = tuple(h for h in hits if h.score >= hits[0].score - cal.margin)
        in_top = cal.clarify_probability(features)
        if len(close) > 1 and in_top >= max(cal.clarify_threshold, EVIDENCE):
            return Match(Decision.CLARIFY, close, confidence, _shared_category(close))
        # Handed off: the category the close hits agree on, if they are likely to hold the
        # right article at all; else none (the desk's default group takes it).
        category = _shared_category(close) if in_top >= EVIDENCE else None
        return Match(Decision.HANDOFF, hits, confidence, category)

    def _topic_choices(self, text: str, combined: np.ndarray) -> tuple[Hit, ...]:
        """For a question of one topic word (with generic words at most) that several
        articles use, the best CLARIFY_LIMIT of those articles; else nothing."""
        stems = topic_stems(text)
        if len(stems) != 1 or self._scorer is None:
            return ()
        naming = self._scorer.naming(stems[0])
        if len(naming) < 2:
            return ()
        best = naming[np.argsort(-combined[naming], kind="stable")[:CLARIFY_LIMIT]]
        return self._hits(combined, best)

    def _hits(self, combined: np.ndarray, positions: np.ndarray) -> tuple[Hit, ...]:
        return tuple(
            Hit(self._indexed[i], float(combined[i])) for i in positions if combined[i] > 0.0
        )

    def scores(self, texts: Sequence[str]) -> Scores | None:
        """Article scores for each text (columns: `indexed_article`), shared by single
        queries, batches and calibration; None for an index with nothing to match."""
        if self._scorer is None or not texts:
            return None
        return self._scorer.scores(texts)


def _shared_category(hits: Sequence[Hit]) -> str | None:
    """The hits' category when they all have the same one."""
    categories = {h.article.category for h in hits}
    return categories.pop() if len(categories) == 1 else None


def _rows_of(article: Article) -> list[str]:
    """The texts an article is matched by: its questions and its title, once each."""
    seen: dict[str, None] = {}
    for text in (*article.questions, article.title):
        if text and text.strip():
            seen.setdefault(text.strip(), None)
    return list(seen)
