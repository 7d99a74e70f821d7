"""The meaning view (kb/encoder.py, kb/vector_store.py): paraphrases that share no word with
an article find it, in either language, and vectors are kept so nothing is encoded twice."""

from __future__ import annotations

import stat
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import kb.classifier
import kb.encoder
import kb.scoring
from kb.articles import Article
from kb.classifier import train_classifier
from kb.encoder import Progress, SentenceEncoder, sentence_encoder
from kb.gaps import find_gaps
from kb.index import KnowledgeIndex
from kb.vector_store import VectorStore

ENGLISH = [
    Article(
        "close-account",
        "Close account",
        "Open Settings, then Close account.",
        ("How do I close my account", "I want to delete my account"),
        language="en",
    ),
    Article(
        "card-delivery",
        "Card delivery",
        "Cards arrive within 5 working days.",
        ("When will my card arrive", "How long does card delivery take"),
        language="en",
    ),
    Article(
        "exchange-rate",
        "Exchange rate",
        "We use the interbank rate.",
        ("What exchange rate do you use", "How much is a dollar in euros"),
        language="en",
    ),
    Article(
        "lost-card",
        "Lost card",
        "Block the card in the app.",
        ("I lost my card", "My card was stolen"),
        language="en",
    ),
    Article(
        "fees",
        "Fees",
        "Transfers are free up to 1,000 EUR a month.",
        ("How much does a transfer cost", "What are your fees"),
        language="en",
    ),
]
RUSSIAN = [
    Article(
        "close-account-ru",
        "Закрытие счёта",
        "Откройте «Настройки» → «Закрыть счёт».",
        ("Как закрыть счёт", "Хочу закрыть свой счёт в банке"),
    ),
    Article(
        "deposit-ru",
        "Вклады",
        "Ставка по вкладу 12 % годовых.",
        ("Какая ставка по вкладу", "Под какой процент открыть вклад"),
    ),
    Article(
        "cash-ru",
        "Снятие наличных",
        "Без комиссии в банкоматах банка.",
        ("Где снять наличные без комиссии", "Комиссия за снятие денег в банкомате"),
    ),
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
def test_without_the_meaning_view_the_same_paraphrase_is_missed(
    monkeypatch: pytest.MonkeyPatch, question: str, article: str
) -> None:
    """The previous test passes because of the meaning view, not by luck of the terms."""
    monkeypatch.setattr(kb.scoring, "MEANING_WEIGHT", 0.0)
    monkeypatch.setattr(kb.scoring, "CLASSIFIER_WEIGHT", 0.0)
    assert best(KnowledgeIndex.build(ENGLISH), question) != article


def test_the_classifier_learns_each_article_from_its_variants_meanings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kb.classifier, "MIN_PER_ARTICLE", 2)  # these articles have two each
    articles = [*ENGLISH, *RUSSIAN]
    variants = [q for a in articles for q in a.questions]
    owner = np.repeat(np.arange(len(articles)), [len(a.questions) for a in articles])
    encoder = sentence_encoder()
    classifier = train_classifier(encoder.encode(variants), owner, len(articles))
    assert classifier is not None
    probabilities = classifier.read(encoder.encode([q for q, _ in PARAPHRASES])).probabilities
    assert [articles[i].id for i in probabilities.argmax(axis=1)] == [a for _, a in PARAPHRASES]
    assert np.allclose(probabilities.sum(axis=1), 1.0)


def test_a_classifier_is_trained_only_with_enough_variants_per_article(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A desk's KB of a few variants per article has none (it cannot be estimated); a KB
    over the training budget trains on a sample, or has none when the sample is too thin."""
    meanings = np.random.default_rng(1).standard_normal((60, 8)).astype(np.float32)
    owner = np.repeat(np.arange(3), 20)
    assert train_classifier(meanings, owner, 3) is not None
    few = np.flatnonzero(np.arange(60) % 20 < kb.classifier.MIN_PER_ARTICLE - 1)
    assert train_classifier(meanings[few], owner[few], 3) is None
    assert train_classifier(meanings[:20], owner[:20], 1) is None  # nothing to tell apart
    monkeypatch.setattr(kb.classifier, "TRAINING_CELLS", 3 * 3 * kb.classifier.MIN_PER_ARTICLE)
    sampled = train_classifier(meanings, owner, 3)
    assert sampled is not None and sampled.weights.shape == (3, 8)
    monkeypatch.setattr(kb.classifier, "TRAINING_CELLS", 3 * 3 * kb.classifier.MIN_PER_ARTICLE - 3)
    assert train_classifier(meanings, owner, 3) is None


def test_a_blend_of_two_articles_is_less_typical_than_either() -> None:
    """An unknown question near two known articles gets a profile of evidence no variant
    has: its typicality is below that of a question like one article's variants."""
    rng = np.random.default_rng(2)
    centres = rng.standard_normal((3, 16)).astype(np.float32) * 3
    owner = np.repeat(np.arange(3), 30)
    meanings = centres[owner] + rng.standard_normal((90, 16)).astype(np.float32)
    classifier = train_classifier(meanings, owner, 3)
    assert classifier is not None
    known = centres[:2] + rng.standard_normal((2, 16)).astype(np.float32)
    blend = (centres[0] + centres[1])[None, :] / 2
    typical = classifier.read(np.vstack([known, blend])).typicality
    assert typical[:2].min() > 0.95
    assert typical[2] < typical[:2].min() - 0.1


def test_a_question_without_words_gets_no_classifier_score(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kb.classifier, "MIN_PER_ARTICLE", 2)
    scores = KnowledgeIndex.build(ENGLISH).scores(["?!", "I lost my card"])
    assert scores is not None
    assert not scores.classified[0].any() and scores.typicality[0] == 0.0
    assert scores.classified[1].argmax() == [a.id for a in ENGLISH].index("lost-card")


@pytest.mark.parametrize(
    "question, article",
    [
        ("How do I close my account?", "close-account-ru"),
        ("what is the interest rate on a deposit", "deposit-ru"),
        ("где мой курьер с картой", "card-delivery"),
        ("у меня украли карточку", "lost-card"),
    ],
)
def test_a_question_finds_an_article_written_in_the_other_language(
    question: str, article: str
) -> None:
    only_other_language = [
        a for a in (*ENGLISH, *RUSSIAN) if a.language != ("en" if question.isascii() else "ru")
    ]
    assert best(KnowledgeIndex.build(only_other_language), question) == article


def test_a_batch_is_embedded_as_its_questions_one_by_one() -> None:
    questions = ["When will my card arrive?", "card", "Где мои деньги", "Карта", ""]
    encoder = sentence_encoder()
    together = encoder.encode(questions)
    for row, question in enumerate(questions):
        np.testing.assert_allclose(together[row], encoder.encode([question])[0], atol=1e-5)
    assert np.linalg.norm(together[0]) == pytest.approx(1.0, abs=1e-5)
    assert not together[4].any()  # nothing to embed


def test_an_import_encoded_in_parallel_parts_gets_each_texts_own_vector() -> None:
    """More than BATCH texts are encoded in parts on every core; each row is still its own
    text's vector, in order, and the progress hears every part."""
    texts = [f"карта номер {n}" for n in range(kb.encoder.BATCH + 90)]
    texts[7] = ""
    heard: list[tuple[int, int]] = []
    encoder = sentence_encoder()
    vectors = encoder.encode(texts, lambda done, total: heard.append((done, total)))
    for row in (0, 7, kb.encoder.BATCH - 1, kb.encoder.BATCH, len(texts) - 1):
        np.testing.assert_allclose(vectors[row], encoder.encode([texts[row]])[0], atol=1e-5)
    assert heard == [(kb.encoder.BATCH, len(texts) - 1), (len(texts) - 1, len(texts) - 1)]


def test_a_lone_surrogate_is_embedded_like_a_question_mark() -> None:
    """A broken client's half emoji cannot fail a batch of questions at the encoder."""
    [broken, marked] = sentence_encoder().encode(["Где карта \ud83d", "Где карта ?"])
    np.testing.assert_allclose(broken, marked, atol=1e-6)


class Counting(SentenceEncoder):
    """The real encoder, counting the texts it is asked to encode."""

    def __init__(self, inner: SentenceEncoder, version: str | None = None) -> None:
        self._inner = inner
        self.version = version or inner.version
        self.dimensions = inner.dimensions
        self.encoded: list[str] = []

    def encode(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        self.encoded += texts
        return self._inner.encode(texts, progress)


def test_stored_vectors_are_not_encoded_again(tmp_path: Path) -> None:
    first = Counting(sentence_encoder())
    KnowledgeIndex.build(RUSSIAN, vectors=VectorStore(first, tmp_path))
    variants = {t for a in RUSSIAN for t in (*a.questions, a.title)}
    assert set(first.encoded) == variants
    files = list(tmp_path.iterdir())
    assert files and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)

    restarted = Counting(sentence_encoder())  # a restart, then a live update adds one variant
    store = VectorStore(restarted, tmp_path)
    grown = [
        replace(RUSSIAN[0], questions=(*RUSSIAN[0].questions, "Закройте мой счёт")),
        *RUSSIAN[1:],
    ]
    index = KnowledgeIndex.build(grown, vectors=store)
    assert restarted.encoded == ["Закройте мой счёт"]
    index.decide("как закрыть счёт")  # a client's question is encoded, never stored
    assert len(VectorStore(Counting(sentence_encoder()), tmp_path)) == len(variants) + 1


def test_another_models_vectors_are_not_used(tmp_path: Path) -> None:
    KnowledgeIndex.build(RUSSIAN, vectors=VectorStore(sentence_encoder(), tmp_path))
    other = Counting(sentence_encoder(), version="another-model@1")
    KnowledgeIndex.build(RUSSIAN, vectors=VectorStore(other, tmp_path))
    assert len(other.encoded) == len({t for a in RUSSIAN for t in (*a.questions, a.title)})


def test_a_torn_vector_file_is_encoded_again(tmp_path: Path) -> None:
    KnowledgeIndex.build(RUSSIAN, vectors=VectorStore(sentence_encoder(), tmp_path))
    for file in tmp_path.iterdir():
        file.write_bytes(b"not a vector file")
    again = Counting(sentence_encoder())
    index = KnowledgeIndex.build(RUSSIAN, vectors=VectorStore(again, tmp_path))
    assert again.encoded and best(index, "хочу закрыть счёт") == "close-account-ru"


def test_gaps_group_the_same_request_across_languages_and_words() -> None:
    questions = [
        "где моя карта",
        "курьер не привёз карту",
        "когда доставят карту",
        "какая ставка по вкладу",
        "под какой процент вклад",
        "deposit interest rate",
        "где ближайший банкомат",
        "банкомат рядом",
        "ATM near me",
    ]
    groups = {frozenset(g.examples) for g in find_gaps(questions, clusters=3)}
    assert groups == {
        frozenset(questions[0:3]),
        frozenset(questions[3:6]),
        frozenset(questions[6:9]),
    }


def test_every_stored_key_is_found_again(tmp_path: Path) -> None:
    """Keys are raw hash bytes: one ending in a zero byte must survive the file."""
    texts = [f"вопрос номер {n}" for n in range(600)]  # some hashes end in 0x00
    VectorStore(sentence_encoder(), tmp_path).embed(texts)
    again = Counting(sentence_encoder())
    VectorStore(again, tmp_path).embed(texts)
    assert again.encoded == []
