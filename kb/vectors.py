"""The term space: TF-IDF over word uni/bigrams of stems joined with TF-IDF over
character n-grams (within words) of the surface words, each block L2-normalised, weighted,
and the joint vector normalised again, so a dot product is a cosine.

Fitting uses scikit-learn's vectorisers; turning ONE query into a vector skips their
per-call validation (a millisecond each) and applies the fitted vocabulary and IDF
directly, with the same arithmetic.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer
from sklearn.preprocessing import normalize

from kb.text import Prepared

__all__ = ["WORD_WEIGHT", "TermSpace"]

WORD_WEIGHT = 0.5
"""Share of the word block in the joint space (the rest is character n-grams)."""
WORDS_REMEMBERED = 50_000
"""Query words whose character n-gram columns a block keeps (clients reuse few words)."""


class _Block:
    """One fitted vectoriser, reduced to what a transform needs."""

    def __init__(self, vectoriser: CountVectorizer, weight: float) -> None:
        self.vectoriser = vectoriser
        self.scale = math.sqrt(weight)
        self.analyse: Callable[[str], list[str]] = vectoriser.build_analyzer()
        self.vocabulary: dict[str, int] = {}
        self.idf = np.zeros(0, dtype=np.float32)
        self._by_word: dict[str, list[int]] = {}
        """Character blocks: a query word's known n-gram columns, worked out once."""

    @property
    def width(self) -> int:
        return len(self.vocabulary)

    def fit(self, docs: list[str]) -> sp.csr_matrix:
        counts, self.vocabulary = self._count(docs)
        self._by_word = {}
        if not self.vocabulary:  # nothing but empty documents: a block of no columns
            return sp.csr_matrix((len(docs), 0), dtype=np.float32)
        weighting = TfidfTransformer(sublinear_tf=True).fit(counts)
        self.idf = weighting.idf_.astype(np.float32)
        return sp.csr_matrix(weighting.transform(counts), dtype=np.float32) * self.scale

    def _count(self, docs: list[str]) -> tuple[sp.csr_matrix, dict[str, int]]:
        """Term counts per document, and the vocabulary."""
        if self.vectoriser.analyzer == "char_wb":
            return self._count_by_words(docs)
        return self._count_word_ngrams(docs)

    def _count_word_ngrams(self, docs: list[str]) -> tuple[sp.csr_matrix, dict[str, int]]:
        """The word analyser's n-grams (space-separated tokens, joined by one space),
        counted in one pass: scikit-learn's analyser costs twice as much at fitting, and a
        query still goes through it (`terms`), so both see the same terms."""
        low, high = self.vectoriser.ngram_range
        vocabulary: dict[str, int] = {}
        indptr = [0]
        indices: list[int] = []
        for doc in docs:
            words = doc.split()
            for n in range(low, high + 1):
                grams = (
                    words
                    if n == 1
                    else map(" ".join, zip(*(words[k:] for k in range(n)), strict=False))
                )
                indices += [vocabulary.setdefault(g, len(vocabulary)) for g in grams]
            indptr.append(len(indices))
        counts = sp.csr_matrix(
            (np.ones(len(indices), dtype=np.float32), indices, indptr),
            shape=(len(docs), len(vocabulary)),
        )
        counts.sum_duplicates()
        return counts, vocabulary

    def _count_by_words(self, docs: list[str]) -> tuple[sp.csr_matrix, dict[str, int]]:
        """Character n-gram counts with each distinct word analysed once: n-grams within
        words never cross a word boundary, so a text's counts are the sum of its words'
        (one sparse product), and a big KB repeats the same few thousand words."""
        words: dict[str, int] = {}
        indptr = [0]
        indices: list[int] = []
        for doc in docs:
            indices += [words.setdefault(w, len(words)) for w in doc.split()]
            indptr.append(len(indices))
        texts_words = sp.csr_matrix(
            (np.ones(len(indices), dtype=np.float32), indices, indptr),
            shape=(len(docs), len(words)),
        )
        vocabulary: dict[str, int] = {}
        grams_indptr = [0]
        grams: list[int] = []
        for word in words:
            grams += [vocabulary.setdefault(g, len(vocabulary)) for g in self.analyse(word)]
            grams_indptr.append(len(grams))
        words_grams = sp.csr_matrix(
            (np.ones(len(grams), dtype=np.float32), grams, grams_indptr),
            shape=(len(words), len(vocabulary)),
        )
        return sp.csr_matrix(texts_words @ words_grams), vocabulary

    def terms(self, doc: str) -> tuple[np.ndarray, np.ndarray]:
        """Column indices and weighted, normalised values of one document."""
        if self.vectoriser.analyzer == "char_wb":  # n-grams never cross words (_count_by_words)
            counts = Counter(itertools.chain.from_iterable(map(self._word_columns, doc.split())))
        else:
            counts = Counter(
                i for i in map(self.vocabulary.get, self.analyse(doc)) if i is not None
            )
        if not counts:
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
        columns = np.fromiter(counts.keys(), dtype=np.int32, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
        values = (1.0 + np.log(tf)) * self.idf[columns]  # sublinear tf x idf, as fitted
        return columns, values * (self.scale / np.linalg.norm(values))

    def _word_columns(self, word: str) -> list[int]:
        columns = self._by_word.get(word)
        if columns is None:
            if len(self._by_word) >= WORDS_REMEMBERED:
                self._by_word.clear()
            columns = self._by_word[word] = [
                i for i in map(self.vocabulary.get, self.analyse(word)) if i is not None
            ]
        return columns


class TermSpace:
    def __init__(self) -> None:
        self._word = _Block(
            CountVectorizer(
                analyzer="word",
                token_pattern=r"\S+",
                ngram_range=(1, 2),
                lowercase=False,
                dtype=np.float32,
            ),
            WORD_WEIGHT,
        )
        self._char = _Block(
            CountVectorizer(
                analyzer="char_wb", ngram_range=(3, 5), lowercase=False, dtype=np.float32
            ),
            1.0 - WORD_WEIGHT,
        )

    @property
    def width(self) -> int:
        return self._word.width + self._char.width

    @property
    def word_width(self) -> int:
        """The word block's columns come first in the joint space."""
        return self._word.width

    def word_column(self, stem: str) -> int | None:
        return self._word.vocabulary.get(stem)

    def specificity(self, queries: sp.csr_matrix) -> np.ndarray:
        """Per query row, the rarest word term's IDF over the highest IDF there is (0 to 1):
        a lone common word ("карта") names no article even when it matches many."""
        idf = self._word.idf
        out = np.zeros(queries.shape[0])
        if not len(idf) or not queries.nnz:
            return out
        columns = queries.indices
        rarity = np.where(columns < len(idf), idf[np.minimum(columns, len(idf) - 1)], 0.0)
        filled = np.diff(queries.indptr) > 0
        out[filled] = np.maximum.reduceat(rarity, queries.indptr[:-1][filled])
        return out / float(idf.max())

    def fit(self, prepared: Sequence[Prepared]) -> sp.csr_matrix:
        words = self._word.fit([p.stems for p in prepared])
        chars = self._char.fit([p.surface for p in prepared])
        return normalize(sp.hstack([words, chars], format="csr", dtype=np.float32))

    def transform(self, prepared: Sequence[Prepared]) -> sp.csr_matrix:
        indptr = [0]
        columns: list[np.ndarray] = []
        values: list[np.ndarray] = []
        for p in prepared:
            word_columns, word_values = self._word.terms(p.stems)
            char_columns, char_values = self._char.terms(p.surface)
            row = np.concatenate([word_values, char_values])
            norm = np.linalg.norm(row)
            columns += [word_columns, char_columns + self._word.width]
            values.append(row / norm if norm else row)
            indptr.append(indptr[-1] + len(row))
        return sp.csr_matrix(
            (
                np.concatenate(values) if values else np.zeros(0, np.float32),
                np.concatenate(columns) if columns else np.zeros(0, np.int32),
                np.asarray(indptr),
            ),
            shape=(len(prepared), self.width),
            dtype=np.float32,
        )
