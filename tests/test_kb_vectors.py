"""The term space's fitted matrix is plain scikit-learn TF-IDF, however it is computed, and a
query is turned into the same vector as the text was at fitting."""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from kb.text import prepare
from kb.vectors import WORD_WEIGHT, TermSpace

TEXTS = [
    "Я потерял карту",
    "карту украли, что делать",
    "Как заблокировать потерянную карту",
    "I lost my card",
    "my card my card was stolen",
    "kaрта не работает",
    "а",
    "bananas at the banana stand",
]


def test_fitted_cosines_are_scikit_learn_tf_idf_cosines() -> None:
    prepared = [prepare(t) for t in TEXTS]
    fitted = TermSpace().fit(prepared)
    words = TfidfVectorizer(
        analyzer="word",
        token_pattern=r"\S+",
        ngram_range=(1, 2),
        lowercase=False,
        sublinear_tf=True,
    )
    chars = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(3, 5), lowercase=False, sublinear_tf=True
    )
    reference = normalize(
        sp.hstack(
            [
                words.fit_transform([p.stems for p in prepared]) * math.sqrt(WORD_WEIGHT),
                chars.fit_transform([p.surface for p in prepared]) * math.sqrt(1 - WORD_WEIGHT),
            ]
        )
    )
    np.testing.assert_allclose(
        (fitted @ fitted.T).toarray(), (reference @ reference.T).toarray(), atol=1e-5
    )


def test_a_query_gets_the_vector_its_text_got_at_fitting() -> None:
    prepared = [prepare(t) for t in TEXTS]
    space = TermSpace()
    fitted = space.fit(prepared)
    np.testing.assert_allclose(space.transform(prepared).toarray(), fitted.toarray(), atol=1e-6)
