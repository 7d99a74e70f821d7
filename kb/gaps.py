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
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from kb.text import prepare
from kb.vector_store import VectorStore, memory_store

__all__ = ["MAX_CLUSTERS", "Gap", "find_gaps"]

MAX_CLUSTERS = 100
LABEL_TERMS = 5

# Words that say nothing about a topic: kept for matching (they tell intents apart), but
# never a cluster's name ("помогло, не, мой"; "is, on, what").
_FUNCTION_WORDS = frozenset(
    """
    а без бы в во вам вас ваш ваша ваше вы где да для до если есть еще же за и из или им
    как какой какая какие ко когда кто ли мне мой моя мое мои мы на над не нет ни но ну о
    об от по под помогло почему при про с со так там то тоже только у уже что чтобы это
    эта этот я его ее их он она они можно нужно надо могу может хочу
    a about am an and any are as at be but by can could did do does for from get got has
    have how i if in into is it its me my no not of on or our so than that the their them
    there this to was we were what when where which who why will with would you your
    """.split()
)
MEANING_SHARE = 0.5
"""Share of the meaning vector in a question's joint vector (the rest is its terms)."""


@dataclass(frozen=True)
class Gap:
    size: int
    terms: tuple[str, ...]
    examples: tuple[str, ...]
    cohesion: float  # mean cosine of the members to the centre: 1 = all the same question


def find_gaps(
    questions: Sequence[str],
    *,
    clusters: int | None = None,
    examples: int = 3,
    seed: int = 0,
    vectors: VectorStore | None = None,
) -> list[Gap]:
    """Clusters of `questions`, biggest first (ties: the tighter first)."""
    pairs = [(q.strip(), prepare(q)) for q in questions if q and q.strip()]
    pairs = [(text, p) for text, p in pairs if p.stems]  # emoji, punctuation: nothing to group
    if not pairs:
        return []
    texts = [text for text, _ in pairs]
    prepared = [p for _, p in pairs]
    stems = [p.stems for p in prepared]
    vectoriser = TfidfVectorizer(
        token_pattern=r"\S+", ngram_range=(1, 2), sublinear_tf=True, lowercase=False, min_df=1
    )
    store = vectors if vectors is not None else memory_store()
    meanings = store.embed(texts, keep=False)
    matrix = normalize(
        sp.hstack(
            [
                np.sqrt(1.0 - MEANING_SHARE) * normalize(vectoriser.fit_transform(stems)),
                np.sqrt(MEANING_SHARE) * sp.csr_matrix(meanings),
            ],
            format="csr",
        )
    )
    distinct = len(set(stems))
    k = clusters or min(MAX_CLUSTERS, max(1, round(math.sqrt(len(texts)))))
    k = max(1, min(k, distinct))
    model = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(matrix)
    centres = normalize(model.cluster_centers_)
    words = TfidfVectorizer(token_pattern=r"\S+", lowercase=False, min_df=1)
    surface = words.fit_transform([p.surface for p in prepared]).tocsr()
    vocabulary = np.array(words.get_feature_names_out())
    gaps = []
    for label in range(k):
        members = np.nonzero(model.labels_ == label)[0]
        if not len(members):
            continue
        closeness = np.asarray(matrix[members] @ centres[label]).ravel()
        nearest = members[np.argsort(-closeness)]
        shown = tuple(dict.fromkeys(texts[i] for i in nearest))[:examples]
        terms = _label(surface, members, vocabulary)
        gaps.append(Gap(len(members), terms, shown, float(closeness.mean())))
    return sorted(gaps, key=lambda g: (-g.size, -g.cohesion))


def _label(surface: Any, members: np.ndarray, vocabulary: np.ndarray) -> tuple[str, ...]:
    """A cluster's distinctive words: weighed in its members against the other
    questions (what sets it apart, not what every question says), content words only."""
    inside = np.asarray(surface[members].mean(axis=0)).ravel()
    rest = np.ones(surface.shape[0], dtype=bool)
    rest[members] = False
    outside = np.asarray(surface[rest].mean(axis=0)).ravel() if rest.any() else 0.0
    share = np.asarray((surface[members] > 0).mean(axis=0)).ravel()  # members using it
    weight = (inside - outside) * share
    order = np.argsort(-weight)
    chosen = [
        vocabulary[i]
        for i in order
        if weight[i] > 0 and vocabulary[i] not in _FUNCTION_WORDS and len(vocabulary[i]) > 1
    ]
    return tuple(chosen[:LABEL_TERMS])
