"""The searchable index over articles' question variants and the answer/clarify/hand-off
decision.

Every variant (and each title) is a row in the term space (kb/vectors.py: word and
character TF-IDF). Each article has two more vectors there: its centroid, and its
perceptron weight vector (kb/perceptron.py), which separates close neighbours. Every
variant also has a meaning vector (kb/encoder.py: a multilingual sentence encoder, kept in
a kb/vector_store.py store), and each article the centroid of those and a softmax
classifier's weights over them (kb/classifier.py).

A query is scored in two vectorised steps, with no loop over the KB:
1. one sparse product with all centroids and weight vectors, and one dense product with
   the meaning centroids and the classifier's weights, rank the articles;
2. for the best CANDIDATES articles, products with their variants give each its best
   variant's cosine, in terms and in meaning.
An article's score mixes the six. The decision is taken by a `Calibration` over
features of the top hits (kb/calibration.py): their scores and margins, how many of the
closest variants belong to the top article, how rare the query's rarest word is, and how
much of the query the top article's vocabulary covers (a question about something the KB
lacks usually carries a word none of the close articles use).
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.special import entr, softmax
from sklearn.preprocessing import normalize

from kb.articles import Article
from kb.calibration import Calibration
from kb.classifier import MeaningClassifier, train_classifier
from kb.encoder import Progress
from kb.perceptron import train_weights
from kb.text import prepare, script, topic_stems
from kb.vector_store import VectorStore, memory_store
from kb.vectors import TermSpace

__all__ = ["CANDIDATES", "CLARIFY_LIMIT", "Decision", "Hit", "KnowledgeIndex", "Match", "Scores"]

SIMILARITY_WEIGHT = 2.0 / 3.0
"""Share of the cosines (half best variant, half centroid) in an article's score; the rest
is the perceptron's score."""
MEANING_WEIGHT = 0.5
"""Share of the meaning cosines (half best variant, half centroid) in an article's score;
the rest is the term space's."""
CLASSIFIER_WEIGHT = 0.3
"""The meaning classifier's probability, added to that mix (BANKING77 validation splits:
0.2-0.8 within noise of each other, 0.3 best)."""
CROSS_LANGUAGE_MATCH = 0.55
"""A question the KB's articles in its own alphabet cannot answer is answered by an article
in the other one whose best variant means the same: from this meaning cosine, with no
rival within CROSS_LANGUAGE_LEAD (same-request pairs across Russian and English score
0.6-0.8, unrelated ones below 0.4). The calibration, learnt from the KB's own variants,
cannot judge such a pair: they share no term."""
CROSS_LANGUAGE_LEAD = 0.05
CANDIDATES = 8
"""Articles whose variants are compared with the query (the best by centroid + weights)."""
SOFTMAX_TEMPERATURE = 0.05
CLARIFY_LIMIT = 3
EVIDENCE = 0.5
"""Choices are offered, and a hand-off names the close hits' category, only when the
calibrated probability that the right article is among the top three reaches this."""
NEIGHBOURS = 10
"""Closest variants whose articles vote on the top hit (a kNN view beside the scores)."""
_BATCH = 256
WHOLE_PRODUCT_VARIANTS = 4_000
"""Up to this many variants, a batch's cosines with all of them cost less than picking the
candidates' rows out of the matrix query by query."""


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


@dataclass(frozen=True)
class Scores:
    """Scores of a batch of queries (rows) against the indexed articles (columns)."""

    combined: np.ndarray
    best_variant: np.ndarray
    centroid: np.ndarray
    learned: np.ndarray
    best_meaning: np.ndarray
    meaning_centroid: np.ndarray
    classified: np.ndarray  # the meaning classifier's probabilities (0: none trained)
    typicality: np.ndarray  # per query: see MeaningClassifier.read (0: none trained)
    nearest_articles: np.ndarray  # per query: the articles of the NEIGHBOURS closest variants
    specificity: np.ndarray  # per query: how rare its rarest word is (TermSpace.specificity)
    covered: np.ndarray  # per query: share of its (squared) weight on terms its top hit uses
    other_script: np.ndarray  # per query and article: written in two alphabets


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
        self._store = vectors if vectors is not None else memory_store()
        self._by_id = {a.id: a for a in self._all}
        self.calibration = calibration or Calibration.default()
        texts = {a.id: _rows_of(a) for a in self._all if a.enabled}
        self._indexed = tuple(a for a in self._all if texts.get(a.id))
        self._scripts = np.array(
            [script(" ".join(texts[a.id])) for a in self._indexed], dtype=np.int8
        )
        counts = np.array([len(texts[a.id]) for a in self._indexed], dtype=np.intp)
        self._ends = np.cumsum(counts)
        self._starts = self._ends - counts
        self._owner = np.repeat(np.arange(len(self._indexed)), counts)
        self._space = TermSpace()
        self._variants: sp.csr_matrix | None = None
        self._variants_t: sp.csr_matrix | None = None  # a small KB's, transposed once
        self._meanings = np.zeros((0, 0), dtype=np.float32)
        self._meaning_centroids = np.zeros((0, 0), dtype=np.float32)
        self._articles_t: sp.csr_matrix | None = None
        self._vocabulary: sp.csr_matrix | None = None
        self._naming: sp.csc_matrix | None = None
        self._classifier: MeaningClassifier | None = None
        if self._indexed:
            rows = [t for a in self._indexed for t in texts[a.id]]
            self._variants = self._space.fit([prepare(r) for r in rows])
            if len(rows) <= WHOLE_PRODUCT_VARIANTS:
                self._variants_t = sp.csr_matrix(self._variants.T)
            membership = sp.csr_matrix(
                (np.ones(len(rows), dtype=np.float32), (self._owner, np.arange(len(rows)))),
                shape=(len(self._indexed), len(rows)),
            )
            centroids = normalize(sp.csr_matrix(membership @ self._variants))
            weights = train_weights(self._variants, self._owner, centroids)
            # Transposed once, so that `queries @ _articles_t` is the fast product.
            self._articles_t = sp.csr_matrix(sp.vstack([centroids, weights]).T, dtype=np.float32)
            # Which terms each article's variants use at all: a centroid's terms, sorted.
            self._vocabulary = sp.csr_matrix(centroids, dtype=np.float32)
            self._vocabulary.sort_indices()
            # Per word column, the articles whose variants use it (a bare topic word's).
            self._naming = sp.csc_matrix(centroids[:, : self._space.word_width])
            self._meanings = self._store.embed(rows, progress=progress)
            self._meaning_centroids = normalize(np.asarray(membership @ self._meanings))
            self._classifier = train_classifier(self._meanings, self._owner, len(self._indexed))

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
        return 0 if self._variants is None else self._variants.shape[0]

    def indexed_article(self, position: int) -> Article:
        """The article of a `Scores` column (enabled articles with something to match)."""
        return self._indexed[position]

    def search(self, text: str, limit: int = 5) -> list[Hit]:
        scores = self.scores([text])
        if scores is None or limit <= 0:
            return []
        return list(self._hits(scores.combined[0], _top(scores.combined, limit)[0]))

    def decide(self, text: str) -> Match:
        return self.decide_many([text])[0]

    def decide_many(self, texts: Sequence[str]) -> list[Match]:
        """`decide` for a batch (evaluation, `kb match`)."""
        scores = self.scores(texts)
        if scores is None:
            return [Match(Decision.HANDOFF, ()) for _ in texts]
        features = self.features(scores)
        ranked = _top(scores.combined, CLARIFY_LIMIT)
        matches = []
        for row, text in enumerate(texts):
            match = self._decision(
                features[row],
                self._hits(scores.combined[row], ranked[row]),
                self._topic_choices(text, scores.combined[row]),
            )
            if match.decision is Decision.HANDOFF:
                match = self._other_language(scores, row) or match
            matches.append(match)
        return matches

    def _other_language(self, scores: Scores, row: int) -> Match | None:
        """An answer from an article in the other alphabet whose best variant means what the
        question does (see CROSS_LANGUAGE_MATCH), or None."""
        meaning = np.where(scores.other_script[row], scores.best_meaning[row], 0.0)
        order = _top(meaning[None, :], 2)[0]
        first = int(order[0])
        rival = meaning[order[1]] if len(order) > 1 else 0.0
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
        if len(stems) != 1 or self._naming is None:
            return ()
        column = self._space.word_column(stems[0])
        if column is None:
            return ()
        naming = self._naming.indices[self._naming.indptr[column] : self._naming.indptr[column + 1]]
        if len(naming) < 2:
            return ()
        best = naming[np.argsort(-combined[naming], kind="stable")[:CLARIFY_LIMIT]]
        return self._hits(combined, best)

    def _hits(self, combined: np.ndarray, positions: np.ndarray) -> tuple[Hit, ...]:
        return tuple(
            Hit(self._indexed[i], float(combined[i])) for i in positions if combined[i] > 0.0
        )

    # -- scoring, shared by single queries, batches and calibration --

    def scores(self, texts: Sequence[str]) -> Scores | None:
        """Article scores for each text; None for an index with nothing to match."""
        if self._variants is None or not texts:
            return None
        parts = [self._score_batch(texts[i : i + _BATCH]) for i in range(0, len(texts), _BATCH)]
        if len(parts) == 1:
            return parts[0]
        return Scores(
            combined=np.vstack([p.combined for p in parts]),
            best_variant=np.vstack([p.best_variant for p in parts]),
            centroid=np.vstack([p.centroid for p in parts]),
            learned=np.vstack([p.learned for p in parts]),
            best_meaning=np.vstack([p.best_meaning for p in parts]),
            meaning_centroid=np.vstack([p.meaning_centroid for p in parts]),
            classified=np.vstack([p.classified for p in parts]),
            typicality=np.concatenate([p.typicality for p in parts]),
            nearest_articles=np.vstack([p.nearest_articles for p in parts]),
            specificity=np.concatenate([p.specificity for p in parts]),
            covered=np.concatenate([p.covered for p in parts]),
            other_script=np.vstack([p.other_script for p in parts]),
        )

    def _score_batch(self, texts: Sequence[str]) -> Scores:
        assert self._variants is not None and self._articles_t is not None
        prepared = [prepare(t) for t in texts]
        queries = self._space.transform(prepared)
        meanings = self._store.embed(texts, keep=False)
        wordless = [not p.surface for p in prepared]
        meanings[wordless] = 0.0  # no word, no meaning: no hit
        query_scripts = np.array([script(t) for t in texts], dtype=np.int8)
        other_script = (
            (query_scripts[:, None] != self._scripts[None, :])
            & (query_scripts[:, None] > 0)
            & (self._scripts[None, :] > 0)
        )
        k = len(self._indexed)
        both = (queries @ self._articles_t).toarray()
        centroid, learned = both[:, :k], both[:, k:]
        meaning_centroid = meanings @ self._meaning_centroids.T
        if self._classifier is None:
            classified = np.zeros_like(meaning_centroid)
            typicality = np.zeros(len(texts), dtype=np.float32)
        else:
            reading = self._classifier.read(meanings)
            classified, typicality = reading.probabilities, reading.typicality
        classified[wordless] = 0.0
        typicality[wordless] = 0.0
        lexical = SIMILARITY_WEIGHT / 2 * centroid + (1.0 - SIMILARITY_WEIGHT) * learned
        partial = (
            (1.0 - MEANING_WEIGHT) * lexical
            + MEANING_WEIGHT / 2 * meaning_centroid
            + CLASSIFIER_WEIGHT * classified
        )
        candidates = _top(partial, CANDIDATES)
        # A small KB is compared with the whole batch in one product; in a large one only the
        # candidates' variants are, query by query.
        if self._variants_t is not None:
            best_variant, best_meaning, nearest = self._closest_variants_whole(
                queries, meanings, candidates
            )
        else:
            best_variant, best_meaning, nearest = self._closest_variants_by_query(
                queries, meanings, candidates
            )
        combined = (
            partial
            + (1.0 - MEANING_WEIGHT) * SIMILARITY_WEIGHT / 2 * best_variant
            + MEANING_WEIGHT / 2 * best_meaning
        )
        covered = self._covered(queries, _top(combined, 1)[:, 0])
        return Scores(
            combined,
            best_variant,
            centroid,
            learned,
            best_meaning,
            meaning_centroid,
            classified,
            typicality,
            nearest,
            self._space.specificity(queries),
            covered,
            other_script,
        )

    def _covered(self, queries: sp.csr_matrix, tops: np.ndarray) -> np.ndarray:
        """Per query, the share of its squared weight on the terms that its top article's
        variants use: a look-up of its few terms in that article's sorted vocabulary."""
        assert self._vocabulary is not None
        used_indptr, used_terms = self._vocabulary.indptr, self._vocabulary.indices
        covered = np.zeros(len(tops))
        for row, article in enumerate(tops):  # a loop over queries
            terms = queries.indices[queries.indptr[row] : queries.indptr[row + 1]]
            values = queries.data[queries.indptr[row] : queries.indptr[row + 1]]
            used = used_terms[used_indptr[article] : used_indptr[article + 1]]
            if not len(terms) or not len(used):
                continue
            found = used[np.minimum(np.searchsorted(used, terms), len(used) - 1)] == terms
            covered[row] = float(values[found] @ values[found])
        return covered

    def _closest_variants_whole(
        self, queries: sp.csr_matrix, meanings: np.ndarray, candidates: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per query, each candidate article's best variant cosine in terms and in meaning,
        and the articles of the NEIGHBOURS closest variants (in terms, sharing one at least)
        among the candidates', from one product with every variant."""
        assert self._variants_t is not None
        every = (queries @ self._variants_t).toarray()
        rows = np.arange(queries.shape[0])[:, None]
        best_variant = np.zeros((queries.shape[0], len(self._indexed)), dtype=every.dtype)
        best_variant[rows, candidates] = np.maximum.reduceat(every, self._starts, axis=1)[
            rows, candidates
        ]
        best_meaning = np.zeros_like(best_variant)
        best_meaning[rows, candidates] = np.maximum.reduceat(
            meanings @ self._meanings.T, self._starts, axis=1
        )[rows, candidates]
        is_candidate = np.zeros(best_variant.shape, dtype=bool)
        is_candidate[rows, candidates] = True
        among = np.where(is_candidate[:, self._owner] & (every > 0.0), every, -np.inf)
        closest = _top(among, NEIGHBOURS)
        nearest = np.full((queries.shape[0], NEIGHBOURS), -1, dtype=np.intp)
        nearest[:, : closest.shape[1]] = np.where(
            np.isfinite(np.take_along_axis(among, closest, axis=1)), self._owner[closest], -1
        )
        return best_variant, best_meaning, nearest

    def _closest_variants_by_query(
        self, queries: sp.csr_matrix, meanings: np.ndarray, candidates: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`_closest_variants_whole` for a large KB: only the candidates' variants are
        compared, query by query."""
        assert self._variants is not None
        best_variant = np.zeros((queries.shape[0], len(self._indexed)), dtype=np.float32)
        best_meaning = np.zeros_like(best_variant)
        nearest = np.full((queries.shape[0], NEIGHBOURS), -1, dtype=np.intp)
        dense = np.zeros(queries.shape[1], dtype=np.float32)
        for row, chosen in enumerate(candidates):  # a loop over queries
            lengths = self._ends[chosen] - self._starts[chosen]
            firsts = np.concatenate([[0], np.cumsum(lengths)[:-1]])  # each article's block
            terms = queries.indices[queries.indptr[row] : queries.indptr[row + 1]]
            dense[terms] = queries.data[queries.indptr[row] : queries.indptr[row + 1]]
            cosines = _blocks_times(self._variants, self._starts[chosen], self._ends[chosen], dense)
            dense[terms] = 0.0
            best_variant[row, chosen] = np.maximum.reduceat(cosines, firsts)
            best_meaning[row, chosen] = [  # each article's variants are consecutive rows
                (self._meanings[start:end] @ meanings[row]).max()
                for start, end in zip(self._starts[chosen], self._ends[chosen], strict=True)
            ]
            closest = _top(cosines[None, :], NEIGHBOURS)[0]
            closest = closest[cosines[closest] > 0.0]  # no shared term: no neighbour
            nearest[row, : len(closest)] = chosen[np.searchsorted(firsts, closest, "right") - 1]
        return best_variant, best_meaning, nearest

    def features(self, scores: Scores) -> np.ndarray:
        """The calibration's FEATURES for each query row (see kb.calibration)."""
        combined = scores.combined
        rows = np.arange(combined.shape[0])
        first = _top(combined, 1)[:, 0]  # the top hit, as `_score_batch` picked it
        top1 = combined[rows, first]
        top2 = _best_other(combined, rows, first)
        agreement = (scores.nearest_articles[:, 0] == first).astype(np.float64)
        votes = (scores.nearest_articles == first[:, None]).mean(axis=1)
        ratio = np.divide(top2, top1, out=np.zeros_like(top1), where=top1 > 0)
        # The top hit's share of a softmax over all articles: how alone it is at the top.
        shares = softmax(combined / SOFTMAX_TEMPERATURE, axis=1)
        share = shares[rows, first]
        entropy = entr(shares).sum(axis=1)
        # The perceptron's own view: its score for the top hit and its lead over the rest.
        learned = scores.learned[rows, first]
        lead = learned - _best_other(scores.learned, rows, first)
        # In meaning: the top hit's best variant, and its lead over the other candidates'
        # (articles that were no candidate have none: 0).
        meaning = scores.best_meaning[rows, first]
        meaning_lead = meaning - np.maximum(_best_other(scores.best_meaning, rows, first), 0.0)
        return np.column_stack(
            [
                top1,
                top2,
                top1 - top2,
                scores.best_variant[rows, first],
                scores.centroid[rows, first],
                agreement,
                ratio,
                share,
                learned,
                lead,
                votes,
                entropy,
                scores.specificity,
                scores.covered,
                meaning,
                scores.meaning_centroid[rows, first],
                meaning_lead,
                scores.classified[rows, first],
                scores.typicality,
            ]
        ).astype(np.float64)

    def ranked(self, scores: Scores, limit: int) -> np.ndarray:
        """Positions of the `limit` best articles per query, best first."""
        return _top(scores.combined, limit)


def _shared_category(hits: Sequence[Hit]) -> str | None:
    """The hits' category when they all have the same one."""
    categories = {h.article.category for h in hits}
    return categories.pop() if len(categories) == 1 else None


def _best_other(scores: np.ndarray, rows: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Each row's highest score but its top hit's (0 when there is no other article)."""
    if scores.shape[1] < 2:
        return np.zeros(len(rows), dtype=scores.dtype)
    others = scores.copy()
    others[rows, first] = -np.inf
    best: np.ndarray = others.max(axis=1)
    return best


def _blocks_times(
    matrix: sp.csr_matrix, begins: np.ndarray, ends: np.ndarray, vector: np.ndarray
) -> np.ndarray:
    """`matrix[rows] @ vector` for the rows begins[i] .. ends[i] - 1 of each i, one block
    after another. Each block of consecutive rows is a view of the CSR arrays, multiplied
    by scipy's compiled product: picking the rows out first (scipy's row indexing, or
    gathering the stored entries in numpy) took a sixth of a query's time in a 100k KB."""
    indptr = matrix.indptr
    blocks = (  # one per candidate article
        sp.csr_matrix(
            (matrix.data[first:last], matrix.indices[first:last], indptr[begin : end + 1] - first),
            shape=(end - begin, matrix.shape[1]),
            copy=False,
        )
        for begin, end, first, last in zip(begins, ends, indptr[begins], indptr[ends], strict=True)
    )
    return np.concatenate([block @ vector for block in blocks])


def _top(scores: np.ndarray, limit: int) -> np.ndarray:
    """Column positions of the `limit` highest scores of each row, highest first."""
    k = min(limit, scores.shape[1])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1)


def _rows_of(article: Article) -> list[str]:
    """The texts an article is matched by: its questions and its title, once each."""
    seen: dict[str, None] = {}
    for text in (*article.questions, article.title):
        if text and text.strip():
            seen.setdefault(text.strip(), None)
    return list(seen)
