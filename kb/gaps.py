"""Finding the articles worth writing next: cluster the questions the bot handed off.

Each question is placed by its meaning (the sentence encoder, so "где моя карта" and
"курьер не привёз карту" meet, in Russian or English) beside its stems' TF-IDF (so a
cluster stays about the same words), and the joint vectors are grouped by k-means
(cosine geometry). Each cluster is reported with its size, its characteristic words and
the questions nearest its centre.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from kb.text import prepare
from kb.vector_store import VectorStore, memory_store

__all__ = ["MAX_CLUSTERS", "Gap", "find_gaps"]

MAX_CLUSTERS = 100
MEANING_SHARE = 0.5
"""Share of the meaning vector in a question's joint vector (the rest is its terms)."""


@dataclass(frozen=True)
class Gap:
    size: int
    terms: tuple[str, ...]
    examples: tuple[str, ...]
    cohesion: float  # mean cosine of the members to the centre: 1 = all the same question


def find_gaps(questions: Sequence[str], *, clusters: int | None = None, examples: int = 3,
              seed: int = 0, vectors: VectorStore | None = None) -> list[Gap]:
    """Clusters of `questions`, biggest first (ties: the tighter first)."""
    pairs = [(q.strip(), prepare(q)) for q in questions if q and q.strip()]
    pairs = [(text, p) for text, p in pairs if p.stems]  # emoji, punctuation: nothing to group
    if not pairs:
        return []
    texts = [text for text, _ in pairs]
    prepared = [p for _, p in pairs]
    stems = [p.stems for p in prepared]
    vectoriser = TfidfVectorizer(token_pattern=r"\S+", ngram_range=(1, 2), sublinear_tf=True,
                                 lowercase=False, min_df=1)
    store = vectors if vectors is not None else memory_store()
    meanings = store.embed(texts, keep=False)
    matrix = normalize(sp.hstack([
        np.sqrt(1.0 - MEANING_SHARE) * normalize(vectoriser.fit_transform(stems)),
        np.sqrt(MEANING_SHARE) * sp.csr_matrix(meanings)], format="csr"))
    distinct = len(set(stems))
    k = clusters or min(MAX_CLUSTERS, max(1, round(math.sqrt(len(texts)))))
    k = max(1, min(k, distinct))
    model = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(matrix)
    centres = normalize(model.cluster_centers_)
    words = TfidfVectorizer(token_pattern=r"\S+", lowercase=False, min_df=1)
    surface = words.fit_transform([p.surface for p in prepared])
    vocabulary = np.array(words.get_feature_names_out())
    gaps = []
    for label in range(k):
        members = np.nonzero(model.labels_ == label)[0]
        if not len(members):
            continue
        closeness = np.asarray(matrix[members] @ centres[label]).ravel()
        nearest = members[np.argsort(-closeness)]
        shown = tuple(dict.fromkeys(texts[i] for i in nearest))[:examples]
        weight = np.asarray(surface[members].mean(axis=0)).ravel()
        terms = tuple(vocabulary[i] for i in np.argsort(-weight)[:5] if weight[i] > 0)
        gaps.append(Gap(len(members), terms, shown, float(closeness.mean())))
    return sorted(gaps, key=lambda g: (-g.size, -g.cohesion))
