"""KB files: YAML and CSV read back what export writes, and a bad file is refused with
every problem named by file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb.articles import Article
from kb.formats import KbFileError, load_file, load_labelled, read_file, write_file

ARTICLES = [
    Article(
        "card-lost",
        "Карта потеряна",
        "Заблокируйте карту:\n1. В приложении.\n2. По телефону.",
        ("Я потерял карту", "Карту украли, что делать?"),
        category="lost_card",
        tags=("card", "block"),
        language="ru",
        answer_short="Заблокируйте карту.",
        answer_email="Здравствуйте!\n\nЗаблокируйте карту.",
    ),
    Article(
        "fees-en",
        "Fees",
        'Transfers are free, "really", up to 100,000.',
        ("Are transfers free?", "fee, for a transfer"),
        category="fees",
        language="en",
    ),
    Article("old", "Old article", "Gone.", ("old question",), enabled=False),
]


@pytest.mark.parametrize("name", ["kb.yaml", "kb.yml", "kb.csv"])
def test_round_trip(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    write_file(path, ARTICLES)
    assert load_file(path) == ARTICLES


def test_the_documented_yaml_format(tmp_path: Path) -> None:
    path = tmp_path / "kb.yaml"
    path.write_text(
        """\
articles:
  - id: card-lost
    title: Карта потеряна или украдена
    category: lost_card
    language: ru
    tags: [card]
    answer: |
      Полный ответ.
    answer_short: Короткий ответ
    questions:
      - Я потерял карту
      - Карту украли
""",
        encoding="utf-8",
    )
    [article] = load_file(path)
    assert article == Article(
        "card-lost",
        "Карта потеряна или украдена",
        "Полный ответ.",
        ("Я потерял карту", "Карту украли"),
        category="lost_card",
        tags=("card",),
        language="ru",
        answer_short="Короткий ответ",
    )


def test_csv_rows_are_variants_of_one_article(tmp_path: Path) -> None:
    path = tmp_path / "kb.csv"
    path.write_text(
        "article_id,question,answer,category\n"
        "card-lost,Я потерял карту,Заблокируйте карту.,lost_card\n"
        "card-lost,Карту украли,,\n"
        "fee,Какая комиссия,Бесплатно.,fees\n",
        encoding="utf-8",
    )
    articles = load_file(path)
    assert [(a.id, a.questions, a.answer, a.category) for a in articles] == [
        ("card-lost", ("Я потерял карту", "Карту украли"), "Заблокируйте карту.", "lost_card"),
        ("fee", ("Какая комиссия",), "Бесплатно.", "fees"),
    ]


def problems(path: Path) -> list[str]:
    with pytest.raises(KbFileError) as caught:
        load_file(path)
    assert all(line.startswith(f"{path}:") for line in str(caught.value).splitlines())
    return [f"{p.line}: {p.message}" for p in caught.value.problems]


def test_bad_csv_rows_are_named_by_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "article_id,question,answer,category\n"
        "ok,Вопрос,Ответ,general\n"
        ",Без id,Ответ,general\n"
        "no-question,,Ответ,general\n"
        "ok,Другой вопрос,Другой ответ,general\n"
        "no answer,Вопрос,,\n",
        encoding="utf-8",
    )
    found = problems(path)
    assert found[0] == "3: article id is required"
    assert found[1] == "4: article no-question: empty question"
    assert found[2].startswith("5: article ok: `answer` differs from line 2")
    assert found[3].startswith("6: bad article id 'no answer'")
    assert len(found) == 4


def test_csv_without_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("id,text\n1,hello\n", encoding="utf-8")
    assert problems(path) == [
        "1: missing column(s): article_id, question, answer, category; "
        "expected article_id,question,answer,category"
    ]


def test_bad_yaml_articles_are_named_by_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        """\
articles:
  - id: fine
    answer: ok
    questions: [a question]
  - id: no-questions
    answer: ok
  - id: fine
    answer: twice
    questions: [another]
  - id: typo
    answer: ok
    questoins: [x]
""",
        encoding="utf-8",
    )
    found = problems(path)
    assert found[0].startswith("5: article no-questions: `questions` must be")
    assert found[1] == "7: duplicate id 'fine' (first at line 2)"
    assert found[2] == "10: unknown field(s): questoins"


def test_broken_yaml_syntax(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("articles:\n  - id: a\n    answer: [unclosed\n", encoding="utf-8")
    [problem] = problems(path)
    assert problem.startswith("4: not valid YAML")


def test_unknown_extension_and_unreadable_file(tmp_path: Path) -> None:
    assert problems(tmp_path / "missing.csv")[0].startswith("0: cannot read")
    (tmp_path / "kb.json").write_text("{}", encoding="utf-8")
    assert problems(tmp_path / "kb.json") == ["0: unknown format: use .yaml, .yml, .csv or .xlsx"]
    (tmp_path / "broken.xlsx").write_bytes(b"PK not a workbook")
    assert problems(tmp_path / "broken.xlsx")[0].startswith("0: cannot read as .xlsx")


EXPORTED = [
    ["article_id", "question", "answer", "category"],
    ["card-lost", "Я потерял карту", "Заблокируйте карту.", "lost_card"],
    ["card-lost", "Карту украли", "", ""],
    ["fees-en", "Are transfers free?", "Free up to 100 000.", "fees"],
]


def as_text(separator: str) -> str:
    return "\r\n".join(separator.join(row) for row in EXPORTED) + "\r\n"


@pytest.mark.parametrize(
    "name, data",
    [
        ("excel-cp1251.csv", as_text(";").encode("cp1251")),
        ("excel-unicode.csv", as_text("\t").encode("utf-16")),  # Excel's "Unicode text": BOM
        ("excel-utf8.csv", b"\xef\xbb\xbf" + as_text(",").encode("utf-8")),
        ("utf16-no-bom.csv", as_text(";").encode("utf-16-le")),
    ],
)
def test_csv_as_excel_saves_it(tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    loaded = read_file(path)
    assert [(a.id, a.questions, a.answer, a.category, a.language) for a in loaded.articles] == [
        (
            "card-lost",
            ("Я потерял карту", "Карту украли"),
            "Заблокируйте карту.",
            "lost_card",
            "ru",
        ),
        ("fees-en", ("Are transfers free?",), "Free up to 100 000.", "fees", "en"),
    ]
    assert loaded.notes == [
        "no language given: 1 article(s) taken as en from their text (fees-en)",
        "no language given: 1 article(s) taken as ru from their text (card-lost)",
    ]


def test_xlsx_is_read_directly_and_its_rows_named(tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    for row in EXPORTED:
        book.active.append(row)
    book.active.append(["bad id", "Вопрос", "Ответ", "general"])
    path = tmp_path / "kb.xlsx"
    book.save(path)
    assert problems(path) == ["5: bad article id 'bad id': up to 128 characters, no spaces"]
    book.active.delete_rows(5)
    book.save(path)
    assert [a.id for a in load_file(path)] == ["card-lost", "fees-en"]


def test_a_line_number_is_the_files_line_even_after_a_multi_line_answer(tmp_path: Path) -> None:
    path = tmp_path / "kb.csv"
    path.write_text(
        "article_id;question;answer;category\n"
        'a;Вопрос;"Ответ\nв две строки";general\n'
        ";Без id;Ответ;general\n",
        encoding="utf-8",
    )
    assert problems(path) == ["4: article id is required"]


def test_labelled_questions(tmp_path: Path) -> None:
    path = tmp_path / "labelled.csv"
    path.write_text(
        "question,article_id\nЯ потерял карту,card-lost\nКакая погода,\n", encoding="utf-8"
    )
    assert load_labelled(path) == [("Я потерял карту", "card-lost"), ("Какая погода", None)]
    path.write_text("question,article_id\n,card-lost\n", encoding="utf-8")
    with pytest.raises(KbFileError, match=r"labelled.csv:2: empty question"):
        load_labelled(path)
