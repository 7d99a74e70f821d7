"""Finding the articles worth writing next: group the questions the bot handed off.

Each question is placed by its meaning (the sentence encoder, so "где моя карта" and
"курьер не привёз карту" meet, in Russian or English) beside its stems' TF-IDF (so a
group stays about the same words). Groups are joined bottom-up while their questions are,
on average, as close as two wordings of one request (average linkage over cosines), so
the number of groups follows the questions and an unrelated question stays on its own
instead of joining, and naming, a group of others. Each group is reported with its size,
its characteristic words and the questions nearest its centre.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from kb.text import prepare
from kb.vector_store import VectorStore, memory_store

__all__ = ["MAX_QUESTIONS", "SIMILAR", "Gap", "find_gaps", "group", "similarities"]

MAX_QUESTIONS = 3_000
"""The most questions grouped at once (callers pass the newest): the pairwise cosines
take MAX_QUESTIONS² floats (36 MB) and grouping 3,000 takes about 2 s of CPU beside
encoding them."""
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
"""Share of the meaning cosine in two questions' similarity (the rest is their terms')."""
SIMILAR = 0.3
"""The mean similarity at which two groups are one: two wordings of one request score
0.5-0.9, unrelated questions under 0.3. On BANKING77's test questions and the Russian
intent sets (`bench/kb.py --parts gaps`) the groups' homogeneity (each holding one intent)
is 0.80-1.00 where k-means with k = √n, used before, had 0.49-0.69; the price is that one
broad request (SNIPS's) may come in several groups."""


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
    vectors: VectorStore | None = None,
) -> list[Gap]:
    """Groups of the first `MAX_QUESTIONS` of `questions`, biggest first (ties: the
    tighter first); `clusters` asks for that many groups instead of the similarity's."""
    pairs = [(q.strip(), prepare(q)) for q in questions[:MAX_QUESTIONS] if q and q.strip()]
    pairs = [(text, p) for text, p in pairs if p.stems]  # emoji, punctuation: nothing to group
    if not pairs:
        return []
    texts = [text for text, _ in pairs]
    prepared = [p for _, p in pairs]
    similarity = similarities(texts, [p.stems for p in prepared], vectors or memory_store())
    labels = group(similarity, clusters)
    words = TfidfVectorizer(token_pattern=r"\S+", lowercase=False, min_df=1)
    surface = words.fit_transform([p.surface for p in prepared]).tocsr()
    vocabulary = np.array(words.get_feature_names_out())
    gaps = []
    for label in np.unique(labels):
        members = np.nonzero(labels == label)[0]
        inside = similarity[np.ix_(members, members)]
        # x·centre for each member, the centre being the members' normalised sum
        closeness = inside.sum(axis=1) / np.sqrt(max(float(inside.sum()), 1e-12))
        nearest = members[np.argsort(-closeness)]
        shown = tuple(dict.fromkeys(texts[i] for i in nearest))[:examples]
        terms = _label(surface, members, vocabulary)
        gaps.append(Gap(len(members), terms, shown, float(closeness.mean())))
    return sorted(gaps, key=lambda g: (-g.size, -g.cohesion))


def similarities(texts: Sequence[str], stems: Sequence[str], vectors: VectorStore) -> np.ndarray:
    """Pairwise cosines of the questions, in meaning and in terms, weighed together."""
    vectoriser = TfidfVectorizer(
        token_pattern=r"\S+", ngram_range=(1, 2), sublinear_tf=True, lowercase=False, min_df=1
    )
    terms = normalize(vectoriser.fit_transform(stems))
    meanings = normalize(vectors.embed(texts, keep=False)).astype(np.float32)
    similarity: np.ndarray = (terms @ terms.T).astype(np.float32).toarray()
    similarity *= 1.0 - MEANING_SHARE
    similarity += MEANING_SHARE * (meanings @ meanings.T)
    return similarity


def group(similarity: np.ndarray, clusters: int | None = None) -> np.ndarray:
    """Each question's group: average linkage, cut at `SIMILAR` or at `clusters` groups."""
    if len(similarity) == 1:
        return np.ones(1, dtype=int)
    distance = np.clip(1.0 - similarity, 0.0, 2.0)
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform(distance, checks=False), method="average")
    cut = (clusters, "maxclust") if clusters else (1.0 - SIMILAR, "distance")
    labels: np.ndarray = fcluster(tree, cut[0], criterion=cut[1])
    return labels


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
