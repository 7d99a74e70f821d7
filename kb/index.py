"""The searchable index over articles' question variants and the answer/clarify/hand-off
decision.

Every variant (and each title) is a row of one L2-normalised sparse matrix that joins
TF-IDF over word uni/bigrams of stems with TF-IDF over character n-grams of the surface
words. Three kinds of target live in that space: the variants, each article's centroid,
and each article's discriminative weight vector (a multiclass perceptron started from the
centroids and trained to separate the KB's own variants with a margin: this is what tells
"top up failed" from "top up reverted"). A query meets all targets in ONE sparse product;
an article's score mixes its weight-vector score with its best variant's and centroid's
cosines. The decision is taken by a `Calibration` over features of the top hits.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from kb.articles import Article
from kb.calibration import Calibration
from kb.text import Prepared, prepare

__all__ = ["Decision", "Hit", "KnowledgeIndex", "Match"]

WORD_WEIGHT = 0.5
"""Share of the word block in the joint space (the rest is character n-grams)."""
SIMILARITY_WEIGHT = 2.0 / 3.0
"""Share of the cosines (half best variant, half centroid) in an article's score; the rest
is the perceptron's score."""
EPOCHS, LEARNING_RATE, MARGIN = 15, 0.05, 0.5
"""Perceptron training: measured on BANKING77's training variants (bench/kb.py)."""
SOFTMAX_TEMPERATURE = 0.05
ROWS_PER_EPOCH = 20_000
"""Each epoch sees at most this many variants (a seeded sample), which bounds build time."""
_SCORE_CELLS = 4_000_000
"""Dense scores held at once while training (rows x articles)."""
CLARIFY_LIMIT = 3
_BATCH = 256


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
    may hold the best guesses (a category hint for routing). `confidence` is the calibrated
    probability that `hits[0]` is right."""

    decision: Decision
    hits: tuple[Hit, ...]
    confidence: float = 0.0


@dataclass(frozen=True)
class Scores:
    """Per-query article scores for a batch of queries (rows)."""

    combined: np.ndarray
    best_variant: np.ndarray
    centroid: np.ndarray
    best_row_article: np.ndarray


class KnowledgeIndex:
    """Immutable: a change to the KB builds a new index (cheap) and swaps it in."""

    def __init__(self, articles: Sequence[Article], calibration: Calibration | None) -> None:
        self._all = tuple(articles)
        self._by_id = {a.id: a for a in self._all}
        self.calibration = calibration or Calibration.default()
        self._indexed = tuple(a for a in self._all if a.enabled and _rows_of(a))
        rows: list[str] = []
        starts: list[int] = []
        for article in self._indexed:
            starts.append(len(rows))
            rows.extend(_rows_of(article))
        self._starts = np.asarray(starts, dtype=np.intp)
        self._owner = np.repeat(np.arange(len(self._indexed)), np.diff([*starts, len(rows)]))
        self._n_rows = len(rows)
        self._word = TfidfVectorizer(analyzer="word", token_pattern=r"\S+", ngram_range=(1, 2),
                                     lowercase=False, sublinear_tf=True, dtype=np.float32)
        self._char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), lowercase=False,
                                     sublinear_tf=True, dtype=np.float32)
        self._targets: sp.csr_matrix | None = None
        if rows:
            prepared = [prepare(r) for r in rows]
            variants = self._fit(prepared)
            membership = sp.csr_matrix(
                (np.ones(self._n_rows, dtype=np.float32), (self._owner, np.arange(self._n_rows))),
                shape=(len(self._indexed), self._n_rows))
            centroids = normalize(membership @ variants)
            weights = _train_weights(variants, self._owner, centroids)
            # One matrix, transposed for fast `query @ targets`: variants, centroids, weights.
            self._targets = sp.vstack([variants, centroids, weights]).T.tocsr()

    @classmethod
    def build(cls, articles: Iterable[Article], calibration: Calibration | None = None
              ) -> KnowledgeIndex:
        return cls(tuple(articles), calibration)

    def with_calibration(self, calibration: Calibration) -> KnowledgeIndex:
        """The same index deciding by another calibration (shares the matrices)."""
        twin = object.__new__(KnowledgeIndex)
        twin.__dict__.update(self.__dict__)
        twin.calibration = calibration
        return twin

    @property
    def articles(self) -> tuple[Article, ...]:
        return self._all

    def article(self, article_id: str) -> Article | None:
        return self._by_id.get(article_id)

    @property
    def variant_count(self) -> int:
        return self._n_rows

    def search(self, text: str, limit: int = 5) -> list[Hit]:
        scores = self.scores([text])
        if scores is None:
            return []
        return self._hits(scores.combined[0], limit)

    def decide(self, text: str) -> Match:
        return self.decide_many([text])[0]

    def decide_many(self, texts: Sequence[str]) -> list[Match]:
        """`decide` for a batch (one sparse product per batch: evaluation, `kb match`)."""
        scores = self.scores(texts)
        if scores is None:
            return [Match(Decision.HANDOFF, ()) for _ in texts]
        features = self.features(scores)
        ranked = self.ranked(scores, CLARIFY_LIMIT)
        matches = []
        for row, positions in enumerate(ranked):
            hits = tuple(Hit(self._indexed[i], float(scores.combined[row, i]))
                         for i in positions if scores.combined[row, i] > 0.0)
            matches.append(self._decision(features[row], hits))
        return matches

    def _decision(self, features: np.ndarray, hits: tuple[Hit, ...]) -> Match:
        if not hits:
            return Match(Decision.HANDOFF, (), 0.0)
        cal = self.calibration
        confidence = cal.answer_probability(features)
        rival = hits[1].score if len(hits) > 1 else 0.0
        if confidence >= cal.answer_threshold and hits[0].score - rival >= cal.rival_gap:
            return Match(Decision.ANSWER, hits[:1], confidence)
        close = tuple(h for h in hits if h.score >= hits[0].score - cal.margin)
        if len(close) > 1 and cal.clarify_probability(features) >= cal.clarify_threshold:
            return Match(Decision.CLARIFY, close, confidence)
        return Match(Decision.HANDOFF, hits, confidence)

    # -- batch scoring, shared by the single query path and calibration --

    def scores(self, texts: Sequence[str]) -> Scores | None:
        """Article scores for each text; None for an index with nothing to match."""
        if self._targets is None:
            return None
        parts = [self._score_batch(texts[i:i + _BATCH]) for i in range(0, len(texts), _BATCH)]
        return Scores(*(np.vstack([getattr(p, f) for p in parts]) if f != "best_row_article"
                        else np.concatenate([p.best_row_article for p in parts])
                        for f in ("combined", "best_variant", "centroid", "best_row_article")))

    def _score_batch(self, texts: Sequence[str]) -> Scores:
        assert self._targets is not None
        sims = (self.vectorise(texts) @ self._targets).toarray()
        n, k = self._n_rows, len(self._indexed)
        row_sims, centroid, learned = sims[:, :n], sims[:, n:n + k], sims[:, n + k:]
        best_variant = np.maximum.reduceat(row_sims, self._starts, axis=1)
        combined = (SIMILARITY_WEIGHT * (best_variant + centroid) / 2
                    + (1.0 - SIMILARITY_WEIGHT) * learned)
        best_row_article = self._owner[row_sims.argmax(axis=1)]
        return Scores(combined, best_variant, centroid, best_row_article)

    def vectorise(self, texts: Sequence[str]) -> sp.csr_matrix:
        return self._join([prepare(t) for t in texts], fit=False)

    def features(self, scores: Scores) -> np.ndarray:
        """The calibration's FEATURES for each query row (see kb.calibration)."""
        combined = scores.combined
        n = combined.shape[1]
        rows = np.arange(combined.shape[0])
        if n > 1:
            top2_idx = np.argpartition(-combined, 1, axis=1)[:, :2]
            pair = combined[rows[:, None], top2_idx]
            order = np.argsort(-pair, axis=1)
            first = top2_idx[rows, order[:, 0]]
            top1, top2 = pair[rows, order[:, 0]], pair[rows, order[:, 1]]
        else:
            first = np.zeros(combined.shape[0], dtype=np.intp)
            top1, top2 = combined[:, 0], np.zeros(combined.shape[0])
        agreement = (scores.best_row_article == first).astype(np.float64)
        ratio = np.divide(top2, top1, out=np.zeros_like(top1), where=top1 > 0)
        # The top hit's share of a softmax over all articles: how alone it is at the top.
        spread = np.exp((combined - top1[:, None]) / SOFTMAX_TEMPERATURE)
        share = 1.0 / spread.sum(axis=1)
        return np.column_stack([top1, top2, top1 - top2, scores.best_variant[rows, first],
                                scores.centroid[rows, first], agreement, ratio, share]
                               ).astype(np.float64)

    def ranked(self, scores: Scores, limit: int) -> np.ndarray:
        """Indices of the `limit` best articles per query, best first."""
        combined = scores.combined
        k = min(limit, combined.shape[1])
        top = np.argpartition(-combined, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(combined, top, axis=1), axis=1, kind="stable")
        return np.take_along_axis(top, order, axis=1)

    def indexed_article(self, position: int) -> Article:
        return self._indexed[position]

    def _hits(self, combined: np.ndarray, limit: int) -> list[Hit]:
        if limit <= 0:
            return []
        top = self.ranked(Scores(combined[None, :], combined[None, :], combined[None, :],
                                 np.zeros(1, dtype=np.intp)), limit)[0]
        return [Hit(self._indexed[i], float(combined[i])) for i in top if combined[i] > 0.0]

    def _fit(self, prepared: list[Prepared]) -> sp.csr_matrix:
        return self._join(prepared, fit=True)

    def _join(self, prepared: list[Prepared], *, fit: bool) -> sp.csr_matrix:
        stems = [p.stems for p in prepared]
        surface = [p.surface for p in prepared]
        if fit:
            words = _fit_or_empty(self._word, stems)
            chars = _fit_or_empty(self._char, surface)
        else:
            words = _transform_or_empty(self._word, stems)
            chars = _transform_or_empty(self._char, surface)
        joined = sp.hstack([np.sqrt(WORD_WEIGHT) * words,
                            np.sqrt(1.0 - WORD_WEIGHT) * chars], format="csr", dtype=np.float32)
        return normalize(joined)


def _rows_of(article: Article) -> list[str]:
    """The texts an article is matched by: its questions and its title, once each."""
    seen: dict[str, None] = {}
    for text in (*article.questions, article.title):
        if text and text.strip():
            seen.setdefault(text.strip(), None)
    return list(seen)


def _train_weights(variants: sp.csr_matrix, owner: np.ndarray, centroids: sp.csr_matrix
                   ) -> sp.csr_matrix:
    """Per-article weight vectors: a multiclass perceptron from the centroids, each epoch
    pushing every variant whose own article does not beat the best rival by MARGIN towards
    its article and away from that rival (batched: one sparse product per chunk)."""
    weights = centroids.astype(np.float32)
    articles = weights.shape[0]
    if articles < 2:
        return weights
    rng = np.random.default_rng(0)
    n = variants.shape[0]
    chunk = max(1, _SCORE_CELLS // articles)
    for _ in range(EPOCHS):
        sample = np.sort(rng.choice(n, ROWS_PER_EPOCH, replace=False)) if n > ROWS_PER_EPOCH \
            else np.arange(n)
        update = sp.csr_matrix(weights.shape, dtype=np.float32)
        for start in range(0, len(sample), chunk):
            rows = sample[start:start + chunk]
            batch = variants[rows]
            scores = (batch @ weights.T).toarray()
            at = np.arange(len(rows))
            own = scores[at, owner[rows]].copy()
            scores[at, owner[rows]] = -np.inf
            rival = scores.argmax(axis=1)
            wrong = np.nonzero(own - scores[at, rival] < MARGIN)[0]
            if not len(wrong):
                continue
            signs = np.r_[np.ones(len(wrong)), -np.ones(len(wrong))].astype(np.float32)
            push = sp.csr_matrix((signs, (np.r_[owner[rows][wrong], rival[wrong]],
                                          np.r_[wrong, wrong])), shape=(articles, len(rows)))
            update = update + push @ batch
        if not update.nnz:
            break
        weights = (weights + LEARNING_RATE * update).tocsr()
    return weights


def _fit_or_empty(vectoriser: TfidfVectorizer, docs: list[str]) -> sp.csr_matrix:
    try:
        return sp.csr_matrix(vectoriser.fit_transform(docs))
    except ValueError:  # nothing but empty documents: an all-zero block
        vectoriser.vocabulary_ = {}
        return sp.csr_matrix((len(docs), 0), dtype=np.float32)


def _transform_or_empty(vectoriser: TfidfVectorizer, docs: list[str]) -> sp.csr_matrix:
    if not getattr(vectoriser, "vocabulary_", None):
        return sp.csr_matrix((len(docs), 0), dtype=np.float32)
    return sp.csr_matrix(vectoriser.transform(docs))
