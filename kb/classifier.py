"""A softmax classifier over the meaning vectors, trained on the KB's own variants.

A cosine with an article's closest variant or centroid treats every direction of the
meaning space alike; the classifier learns which directions separate this KB's articles
("top up failed" from "top up reverted"), and its probabilities are sharp where the
cosines are flat. On BANKING77 (validation splits of the training set) it added 0.3-0.6
points of top-1 accuracy and about 1 point of in-scope accuracy at 55 % out-of-scope
recall. A KB with a few variants per article trains none, and training is bounded: a KB
too large for TRAINING_CELLS trains on a sample of its variants, and one of so many
articles that the sample would be thin (above about 175) trains none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp, softmax
from sklearn.preprocessing import normalize

from kb.sampling import seeded_rows

__all__ = ["MeaningClassifier", "Reading", "train_classifier"]

C = 10.0
"""Inverse L2 strength (per variant, as in scikit-learn's LogisticRegression); 100 did no
better on BANKING77."""
ITERATIONS = 100
"""L-BFGS steps: BANKING77 gained half as much from 30."""
TRAINING_CELLS = 500_000
"""Variants x articles trained on at most (about 2 s of CPU): bounds build time."""
MIN_PER_ARTICLE = 16
"""Fewer variants per article (in the KB, or in its sample) and no classifier is trained:
512 weights an article are not estimated from a handful. On the Russian sets' KBs of four
variants an article, one moved in-scope accuracy by -8 to +2 points (a question or two a
set); on the sample KB's eight or nine, "I want to talk to a human operator" was answered
with the fraud-call article."""
TYPICAL_NEIGHBOUR = 5
"""Typicality is the cosine with this closest training variant's profile (the 1st, 5th
and 10th did alike on BANKING77's validation splits)."""


@dataclass(frozen=True)
class Reading:
    """What the classifier makes of a batch of questions (rows)."""

    probabilities: np.ndarray  # P(article | question)
    typicality: np.ndarray  # per question: see MeaningClassifier.read


@dataclass(frozen=True)
class MeaningClassifier:
    weights: np.ndarray  # articles x dimensions
    bias: np.ndarray  # articles
    profiles: np.ndarray  # the training variants' `_profiles` (at most TRAINING_CELLS cells)

    def read(self, meanings: np.ndarray) -> Reading:
        """Each question's article probabilities and its typicality, from one product with
        the weights. Typicality says how like a known question it is: the cosine of its
        profile with the TYPICAL_NEIGHBOUR-th closest training variant's. A question the KB
        answers weighs the articles as some of their variants do; an unknown one near a
        known article often has a blend of evidence that no variant has, though its top
        article and probability look the same (BANKING77's validation splits, held-out
        intents: 0.4 points of in-scope accuracy at equal out-of-scope recall, as a
        decision feature)."""
        logits = meanings @ self.weights.T + self.bias
        cosines = _profiles(logits) @ self.profiles.T
        k = min(TYPICAL_NEIGHBOUR, cosines.shape[1])
        return Reading(
            probabilities=softmax(logits, axis=1),
            typicality=-np.partition(-cosines, k - 1, axis=1)[:, k - 1],
        )


def _profiles(logits: np.ndarray) -> np.ndarray:
    """Logits as unit vectors: which articles a text speaks for and against, at any scale."""
    profiles: np.ndarray = normalize(logits).astype(np.float32)
    return profiles


def train_classifier(
    meanings: np.ndarray, owner: np.ndarray, articles: int
) -> MeaningClassifier | None:
    """Multinomial logistic regression of the variants' articles on their meaning vectors
    (None for a KB of one article, or with fewer than MIN_PER_ARTICLE variants an article
    in it or in the sample that TRAINING_CELLS allows)."""
    if articles < 2:
        return None
    rows = min(len(owner), TRAINING_CELLS // articles)
    if rows < MIN_PER_ARTICLE * articles:
        return None
    chosen = seeded_rows(len(owner), rows)
    x = np.ascontiguousarray(meanings[chosen], dtype=np.float32)
    y = owner[chosen]
    n, width = x.shape
    regulariser = np.float32(1.0 / (C * n))
    at = np.arange(n)

    def loss_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        weights = theta[: articles * width].reshape(articles, width).astype(np.float32)
        logits = x @ weights.T + theta[articles * width :].astype(np.float32)
        loss = float(logsumexp(logits, axis=1).mean() - logits[at, y].mean())
        loss += float(0.5 * regulariser * (weights * weights).sum())
        error = softmax(logits, axis=1)
        error[at, y] -= 1.0
        error /= n
        gradient = error.T @ x + regulariser * weights
        return loss, np.concatenate([gradient.ravel(), error.sum(axis=0)]).astype(np.float64)

    result = minimize(
        loss_and_gradient,
        np.zeros(articles * (width + 1)),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": ITERATIONS},
    )
    weights = result.x[: articles * width].reshape(articles, width).astype(np.float32)
    bias = result.x[articles * width :].astype(np.float32)
    return MeaningClassifier(weights, bias, _profiles(x @ weights.T + bias))
