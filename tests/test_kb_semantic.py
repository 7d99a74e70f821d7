"""The meaning view (kb/semantic.py): English paraphrases that share no word with an
article still find it; Russian text is left to the term space."""

from __future__ import annotations

import numpy as np
import pytest

import kb.index
from kb.articles import Article
from kb.index import KnowledgeIndex
from kb.semantic import word_vectors

ENGLISH = [
    Article("close-account", "Close account", "Open Settings, then Close account.",
            ("How do I close my account", "I want to delete my account"), language="en"),
    Article("card-delivery", "Card delivery", "Cards arrive within 5 working days.",
            ("When will my card arrive", "How long does card delivery take"), language="en"),
    Article("exchange-rate", "Exchange rate", "We use the interbank rate.",
            ("What exchange rate do you use", "How much is a dollar in euros"), language="en"),
    Article("lost-card", "Lost card", "Block the card in the app.",
            ("I lost my card", "My card was stolen"), language="en"),
    Article("fees", "Fees", "Transfers are free up to 1,000 EUR a month.",
            ("How much does a transfer cost", "What are your fees"), language="en"),
]

PARAPHRASES = [
    ("what will I be charged", "fees"),
    ("currency conversion price", "exchange-rate"),
    ("the courier never came", "card-delivery"),
]


def best(index: KnowledgeIndex, text: str) -> str:
    return index.search(text, 1)[0].article.id


@pytest.mark.parametrize("question, article", PARAPHRASES)
def test_a_paraphrase_without_the_articles_words_finds_it(question: str, article: str) -> None:
    assert best(KnowledgeIndex.build(ENGLISH), question) == article


@pytest.mark.parametrize("question, article", PARAPHRASES)
def test_without_word_vectors_the_same_paraphrase_is_missed(
        monkeypatch: pytest.MonkeyPatch, question: str, article: str) -> None:
    """The previous test passes because of the meaning view, not by luck of the terms."""
    monkeypatch.setattr(kb.index, "MEANING_WEIGHT", 0.0)
    assert best(KnowledgeIndex.build(ENGLISH), question) != article


def test_cyrillic_words_have_no_meaning_vector() -> None:
    vectors = word_vectors().embed(["Я потерял карту", "мой card", "card", "", "1234 !!"])
    assert not vectors[0].any()
    np.testing.assert_allclose(vectors[1], vectors[2])
    assert not vectors[3].any() and not vectors[4].any()
    assert np.linalg.norm(vectors[2]) == pytest.approx(1.0, abs=1e-5)


RUSSIAN = Article("card-lost-ru", "Карта потеряна", "Заблокируйте карту.",
                  ("Я потерял карту", "Карту украли"))


@pytest.mark.parametrize("articles, question", [
    ([*ENGLISH, RUSSIAN], "потерял карточку, что делать"),  # a Russian question
    ([RUSSIAN], "my карта is lost"),  # Latin words asked of a Russian KB
])
def test_without_vectors_on_one_side_the_terms_alone_score(
        monkeypatch: pytest.MonkeyPatch, articles: list[Article], question: str) -> None:
    with_vectors = KnowledgeIndex.build(articles).scores([question])
    monkeypatch.setattr(kb.index, "MEANING_WEIGHT", 0.0)
    terms_only = KnowledgeIndex.build(articles).scores([question])
    assert with_vectors is not None and terms_only is not None
    assert with_vectors.combined.max() > 0.1
    np.testing.assert_allclose(with_vectors.combined, terms_only.combined)


def test_a_batch_is_embedded_as_its_questions_one_by_one() -> None:
    questions = ["When will my card arrive?", "card", "Where is my money", "Карта"]
    vectors = word_vectors()
    together = vectors.embed(questions)
    for row, question in enumerate(questions):
        np.testing.assert_allclose(together[row], vectors.embed([question])[0], atol=1e-6)
