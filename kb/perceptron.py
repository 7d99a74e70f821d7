"""Per-article discriminative weight vectors: a multiclass perceptron with a margin,
started from the article centroids and trained on the KB's own variants.

Cosine similarity alone cannot tell "top up failed" from "top up reverted" when most words
are shared; the perceptron moves weight onto the words that separate neighbours. Training
is batched (no loop over variants) and bounded: each variant meets only its nearest rival
articles, a big KB trains on a seeded sample of its variants, and each article keeps its
strongest features.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from kb.sampling import seeded_rows

__all__ = ["EPOCHS", "LEARNING_RATE", "MARGIN", "train_weights"]

EPOCHS, LEARNING_RATE, MARGIN = 15, 0.05, 0.5
"""Measured on BANKING77's training variants (bench/kb.py)."""
TRAINING_ROWS = 8_000
"""Variants the perceptron trains on (a seeded sample when the KB has more): bounds build time."""
WEIGHTS_PER_ARTICLE = 2_000
"""Features kept per article (the strongest): bounds the cost of training and of queries."""
RIVALS = 5
"""Articles a variant is trained against: those with the nearest centroids."""
_SCORE_CELLS = 4_000_000
"""Dense scores held at once while finding rivals (variants x articles)."""


def train_weights(
    variants: sp.csr_matrix, owner: np.ndarray, centroids: sp.csr_matrix
) -> sp.csr_matrix:
    """Each epoch pushes every training variant whose own article does not beat its best
    rival by MARGIN towards its article and away from that rival. A variant's rivals are
    the RIVALS articles whose centroids are nearest to it (those it can be confused with),
    found once, so an epoch costs a few dot products per variant whatever the KB's size.
    A KB with more than TRAINING_ROWS variants trains on a seeded sample of them."""
    weights = sp.csr_matrix(centroids, dtype=np.float32)
    articles = weights.shape[0]
    if articles < 2:
        return weights
    pool = seeded_rows(variants.shape[0], TRAINING_ROWS)
    batch, own = variants[pool], owner[pool]
    contenders = np.column_stack(
        [own, _nearest_rivals(batch, own, centroids, min(RIVALS, articles - 1))]
    )
    pairs = _Pairs(batch, contenders)
    at = np.arange(len(pool))
    for _ in range(EPOCHS):
        scores = pairs.scores(weights)
        best_rival = scores[:, 1:].argmax(axis=1) + 1
        wrong = np.flatnonzero(scores[:, 0] - scores[at, best_rival] < MARGIN)
        if not len(wrong):
            break
        signs = np.r_[np.ones(len(wrong)), -np.ones(len(wrong))].astype(np.float32)
        push = sp.csr_matrix(
            (signs, (np.r_[own[wrong], contenders[wrong, best_rival[wrong]]], np.r_[wrong, wrong])),
            shape=(articles, len(pool)),
        )
        weights = _strongest(
            (weights + LEARNING_RATE * (push @ batch)).tocsr(), WEIGHTS_PER_ARTICLE
        )
    return weights


def _nearest_rivals(
    batch: sp.csr_matrix, own: np.ndarray, centroids: sp.csr_matrix, count: int
) -> np.ndarray:
    """For each variant, the `count` other articles with the nearest centroids."""
    rivals = np.empty((batch.shape[0], count), dtype=np.intp)
    chunk = max(1, _SCORE_CELLS // centroids.shape[0])
    for start in range(0, batch.shape[0], chunk):
        scores = (batch[start : start + chunk] @ centroids.T).toarray()
        scores[np.arange(scores.shape[0]), own[start : start + chunk]] = -np.inf
        rivals[start : start + chunk] = np.argpartition(-scores, count - 1, axis=1)[:, :count]
    return rivals


class _Pairs:
    """The (variant, article) pairs whose scores training needs, grouped by article, with
    each article's variant rows copied out once (the pairs never change between epochs)."""

    def __init__(self, batch: sp.csr_matrix, contenders: np.ndarray) -> None:
        self.shape = contenders.shape
        flat = contenders.ravel()
        order = np.argsort(flat, kind="stable")
        groups = np.split(order, np.flatnonzero(np.diff(flat[order])) + 1)
        self.groups = [(int(flat[g[0]]), g, batch[g // contenders.shape[1]]) for g in groups]

    def scores(self, weights: sp.csr_matrix) -> np.ndarray:
        """scores[i, j] = variant i . weights[contenders[i, j]]."""
        scores = np.zeros(self.shape, dtype=np.float32)
        dense = np.zeros(weights.shape[1], dtype=np.float32)
        for article, positions, rows in self.groups:  # a loop over articles, at build time
            start, end = weights.indptr[article], weights.indptr[article + 1]
            terms = weights.indices[start:end]
            dense[terms] = weights.data[start:end]
            scores.flat[positions] = rows @ dense
            dense[terms] = 0.0
        return scores


def _strongest(matrix: sp.csr_matrix, keep: int) -> sp.csr_matrix:
    """Each row's `keep` largest-magnitude entries."""
    indptr, data = matrix.indptr, matrix.data
    mask = np.ones(len(data), dtype=bool)
    for row in np.nonzero(np.diff(indptr) > keep)[0]:  # a loop over articles, at build time
        start, end = indptr[row], indptr[row + 1]
        weakest = np.argpartition(np.abs(data[start:end]), end - start - keep)[: end - start - keep]
        mask[start + weakest] = False
    if mask.all():
        return matrix
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(indptr))
    kept = np.concatenate([[0], np.cumsum(np.bincount(rows[mask], minlength=matrix.shape[0]))])
    return sp.csr_matrix((data[mask], matrix.indices[mask], kept), shape=matrix.shape)
