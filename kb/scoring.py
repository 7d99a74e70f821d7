"""Scoring questions against a KB's articles: what the answer/clarify/hand-off decision
(kb/index.py) is taken on.

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
An article's score mixes the six. `Scores.features` are what the calibration decides by
(kb/calibration.py): the top hits' scores and margins, how many of the closest variants
belong to the top article, how rare the query's rarest word is, and how much of the query
the top article's vocabulary covers (a question about something the KB lacks usually
carries a word none of the close articles use).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import scipy.sparse as sp
from scipy.special import entr, softmax
from sklearn.preprocessing import normalize

from kb.classifier import MeaningClassifier, train_classifier
from kb.encoder import Progress
from kb.perceptron import train_weights
from kb.text import prepare, script
from kb.vector_store import VectorStore
from kb.vectors import TermSpace

__all__ = ["ArticleScorer", "Scores", "top_columns"]

SIMILARITY_WEIGHT = 2.0 / 3.0
"""Share of the cosines (half best variant, half centroid) in an article's score; the rest
is the perceptron's score."""
MEANING_WEIGHT = 0.5
"""Share of the meaning cosines (half best variant, half centroid) in an article's score;
the rest is the term space's."""
CLASSIFIER_WEIGHT = 0.3
"""The meaning classifier's probability, added to that mix (BANKING77 validation splits:
0.2-0.8 within noise of each other, 0.3 best)."""
CANDIDATES = 8
"""Articles whose variants are compared with the query (the best by centroid + weights)."""
SOFTMAX_TEMPERATURE = 0.05
NEIGHBOURS = 10
"""Closest variants whose articles vote on the top hit (a kNN view beside the scores)."""
_BATCH = 256
WHOLE_PRODUCT_VARIANTS = 4_000
"""Up to this many variants, a batch's cosines with all of them cost less than picking the
candidates' rows out of the matrix query by query."""


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

    def ranked(self, limit: int) -> np.ndarray:
        """Positions of the `limit` best articles per query, best first."""
        return top_columns(self.combined, limit)

    def features(self) -> np.ndarray:
        """The calibration's FEATURES for each query row (see kb.calibration)."""
        combined = self.combined
        rows = np.arange(combined.shape[0])
        first = top_columns(combined, 1)[:, 0]  # the top hit, as `ArticleScorer` picked it
        top1 = combined[rows, first]
        top2 = _best_other(combined, rows, first)
        agreement = (self.nearest_articles[:, 0] == first).astype(np.float64)
        votes = (self.nearest_articles == first[:, None]).mean(axis=1)
        ratio = np.divide(top2, top1, out=np.zeros_like(top1), where=top1 > 0)
        # The top hit's share of a softmax over all articles: how alone it is at the top.
        shares = softmax(combined / SOFTMAX_TEMPERATURE, axis=1)
        share = shares[rows, first]
        entropy = entr(shares).sum(axis=1)
        # The perceptron's own view: its score for the top hit and its lead over the rest.
        learned = self.learned[rows, first]
        lead = learned - _best_other(self.learned, rows, first)
        # In meaning: the top hit's best variant, and its lead over the other candidates'
        # (articles that were no candidate have none: 0).
        meaning = self.best_meaning[rows, first]
        meaning_lead = meaning - np.maximum(_best_other(self.best_meaning, rows, first), 0.0)
        return np.column_stack(
            [
                top1,
                top2,
                top1 - top2,
                self.best_variant[rows, first],
                self.centroid[rows, first],
                agreement,
                ratio,
                share,
                learned,
                lead,
                votes,
                entropy,
                self.specificity,
                self.covered,
                meaning,
                self.meaning_centroid[rows, first],
                meaning_lead,
                self.classified[rows, first],
                self.typicality,
            ]
        ).astype(np.float64)


class ArticleScorer:
    """The term and meaning matrices of a KB's articles, built once (immutable)."""

    def __init__(
        self, texts: Sequence[Sequence[str]], store: VectorStore, progress: Progress | None
    ) -> None:
        """`texts` are each article's rows (at least one); `store` gives their meaning
        vectors, and `progress` hears how far their encoding got."""
        self._articles = len(texts)
        self._store = store
        self._scripts = np.array([script(" ".join(rows)) for rows in texts], dtype=np.int8)
        counts = np.array([len(rows) for rows in texts], dtype=np.intp)
        self._ends = np.cumsum(counts)
        self._starts = self._ends - counts
        self._owner = np.repeat(np.arange(self._articles), counts)
        rows = [t for article in texts for t in article]
        self._space = TermSpace()
        self._variants = self._space.fit([prepare(r) for r in rows])
        # A small KB's, transposed once.
        self._variants_t = (
            sp.csr_matrix(self._variants.T) if len(rows) <= WHOLE_PRODUCT_VARIANTS else None
        )
        membership = sp.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (self._owner, np.arange(len(rows)))),
            shape=(self._articles, len(rows)),
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
        self._meanings = store.embed(rows, progress=progress)
        self._meaning_centroids = normalize(np.asarray(membership @ self._meanings))
        self._classifier: MeaningClassifier | None = train_classifier(
            self._meanings, self._owner, self._articles
        )

    @property
    def variant_count(self) -> int:
        return int(self._variants.shape[0])

    def naming(self, stem: str) -> np.ndarray:
        """Positions of the articles whose variants use this word (a topic word's stem)."""
        column = self._space.word_column(stem)
        if column is None:
            return np.zeros(0, dtype=np.intp)
        naming: np.ndarray = self._naming.indices[
            self._naming.indptr[column] : self._naming.indptr[column + 1]
        ]
        return naming

    def scores(self, texts: Sequence[str]) -> Scores:
        """Article scores for each text (batched: a batch's products stay cache-sized)."""
        parts = [self._score_batch(texts[i : i + _BATCH]) for i in range(0, len(texts), _BATCH)]
        if len(parts) == 1:
            return parts[0]
        return Scores(
            **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Scores)}
        )

    def _score_batch(self, texts: Sequence[str]) -> Scores:
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
        k = self._articles
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
        candidates = top_columns(partial, CANDIDATES)
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
        covered = self._covered(queries, top_columns(combined, 1)[:, 0])
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
        best_variant = np.zeros((queries.shape[0], self._articles), dtype=every.dtype)
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
        closest = top_columns(among, NEIGHBOURS)
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
        best_variant = np.zeros((queries.shape[0], self._articles), dtype=np.float32)
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
            closest = top_columns(cosines[None, :], NEIGHBOURS)[0]
            closest = closest[cosines[closest] > 0.0]  # no shared term: no neighbour
            nearest[row, : len(closest)] = chosen[np.searchsorted(firsts, closest, "right") - 1]
        return best_variant, best_meaning, nearest


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


def top_columns(scores: np.ndarray, limit: int) -> np.ndarray:
    """Column positions of the `limit` highest scores of each row, highest first."""
    k = min(limit, scores.shape[1])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1)
