"""The shipped sample KB (switchboard/sample_kb/bank.yaml) stays importable and well-formed.

It is the first thing a new installation loads, so a malformed article, an unknown category
or a question claimed by two articles would surface as a confusing import error or as a bot
that answers the wrong article.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

SAMPLE_KB = Path(__file__).resolve().parents[1] / "switchboard" / "sample_kb" / "bank.yaml"

CATEGORIES = frozenset(
    {
        "fraud",
        "lost_card",
        "cards",
        "payments",
        "transfers",
        "app",
        "account",
        "fees",
        "loans",
        "general",
    }
)
LANGUAGES = frozenset({"ru", "en"})
KEBAB_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
HOTLINE = "8 800 000-00-00"


def normalized(question: str) -> str:
    """Case, ё/е, punctuation and spacing do not make two questions different."""
    words = re.findall(r"\w+", question.casefold().replace("ё", "е"))
    return " ".join(words)


@pytest.fixture(scope="module")
def articles() -> list[dict[str, Any]]:
    with SAMPLE_KB.open(encoding="utf-8") as stream:
        document = yaml.safe_load(stream)
    assert isinstance(document, dict) and isinstance(document.get("articles"), list)
    articles: list[dict[str, Any]] = document["articles"]
    return articles


def test_enough_articles_in_both_languages(articles: list[dict[str, Any]]) -> None:
    assert len(articles) >= 30
    languages = Counter(article.get("language") for article in articles)
    assert set(languages) == LANGUAGES
    assert languages["ru"] >= 20 and languages["en"] >= 10


def test_every_article_is_complete(articles: list[dict[str, Any]]) -> None:
    for article in articles:
        article_id = article.get("id")
        assert isinstance(article_id, str) and KEBAB_ID.match(article_id), article
        for field in ("title", "answer"):
            value = article.get(field)
            assert isinstance(value, str) and value.strip(), (article_id, field)
        short = article.get("answer_short")
        assert short is None or (isinstance(short, str) and short.strip()), article_id
        assert article.get("category") in CATEGORIES, article_id
        assert article.get("language") in LANGUAGES, article_id
        tags = article.get("tags", [])
        assert isinstance(tags, list) and all(isinstance(tag, str) for tag in tags), article_id
        questions = article.get("questions")
        assert isinstance(questions, list) and len(questions) >= 5, article_id
        assert all(isinstance(q, str) and q.strip() for q in questions), article_id


def test_english_ids_carry_the_en_suffix(articles: list[dict[str, Any]]) -> None:
    for article in articles:
        assert article["id"].endswith("-en") == (article["language"] == "en"), article["id"]


def test_ids_are_unique(articles: list[dict[str, Any]]) -> None:
    repeated = [i for i, n in Counter(a["id"] for a in articles).items() if n > 1]
    assert repeated == []


def test_no_question_belongs_to_two_articles(articles: list[dict[str, Any]]) -> None:
    owners: dict[str, set[str]] = {}
    for article in articles:
        for question in article["questions"]:
            owners.setdefault(normalized(question), set()).add(article["id"])
    shared = {question: ids for question, ids in owners.items() if len(ids) > 1}
    assert shared == {}


def test_no_question_is_repeated_within_an_article(articles: list[dict[str, Any]]) -> None:
    for article in articles:
        seen = Counter(normalized(q) for q in article["questions"])
        assert [q for q, n in seen.items() if n > 1] == [], article["id"]


def test_every_category_is_covered(articles: list[dict[str, Any]]) -> None:
    assert {article["category"] for article in articles} == CATEGORIES


def test_fraud_answers_send_the_client_to_the_hotline(articles: list[dict[str, Any]]) -> None:
    fraud = [article for article in articles if article["category"] == "fraud"]
    assert fraud
    for article in fraud:
        assert HOTLINE in article["answer"], article["id"]
