"""Reading and writing articles as files: the YAML format and the flat table
(`article_id,question,answer,category`, one row per question variant) as CSV or `.xlsx`.

Tables are read as support teams export them: CSV saved by Excel in cp1251 or UTF-16,
with `;` or tab separators and a BOM, or the `.xlsx` itself. Reading is strict and
all-or-nothing: every problem is collected with its file and line (the file's own line,
or the sheet's row), and nothing is returned unless the whole file is good. An article
without a language gets the one its text is written in, and the reading says so.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zipfile import BadZipFile

import yaml

from kb.articles import Article
from kb.text import CYRILLIC_SCRIPT, script

__all__ = [
    "CSV_COLUMNS",
    "FileProblem",
    "KbFile",
    "KbFileError",
    "decode",
    "dump_csv",
    "dump_yaml",
    "load_file",
    "load_labelled",
    "parse_csv",
    "parse_labelled",
    "parse_yaml",
    "read_file",
    "write_file",
]

CSV_COLUMNS = ("article_id", "question", "answer", "category")
"""Required CSV columns; `title, language, tags, answer_short, answer_email, enabled` are
optional extras (the export writes them so a CSV round trip loses nothing)."""
_CSV_EXTRAS = ("title", "language", "tags", "answer_short", "answer_email", "enabled")
_YAML_KEYS = frozenset(
    {
        "id",
        "title",
        "answer",
        "answer_short",
        "answer_email",
        "category",
        "language",
        "tags",
        "enabled",
        "questions",
    }
)
_MAX_ID = 128


@dataclass(frozen=True)
class FileProblem:
    line: int
    message: str


@dataclass
class KbFileError(Exception):
    """A KB file that cannot be imported; `problems` name each bad line."""

    path: str
    problems: list[FileProblem] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(f"{self.path}:{p.line}: {p.message}" for p in self.problems)


@dataclass(frozen=True)
class KbFile:
    """What a file held, and what reading it had to guess (told to whoever imports it)."""

    articles: list[Article]
    notes: list[str] = field(default_factory=list)


def load_file(path: Path) -> list[Article]:
    return read_file(path).articles


def read_file(path: Path) -> KbFile:
    """Articles from a `.yaml`/`.yml`, `.csv` or `.xlsx` file (chosen by extension)."""
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return _with_languages(parse_rows(_xlsx_rows(path), str(path)))
    if suffix not in {".csv", ".yaml", ".yml"}:
        raise KbFileError(
            str(path), [FileProblem(0, "unknown format: use .yaml, .yml, .csv or .xlsx")]
        )
    text = _read_text(path)
    if suffix == ".csv":
        return _with_languages(parse_csv(text, str(path)))
    return _with_languages(parse_yaml(text, str(path)))


def _read_text(path: Path) -> str:
    try:
        return decode(path.read_bytes())
    except OSError as exc:
        raise KbFileError(str(path), [FileProblem(0, f"cannot read: {exc.strerror}")]) from None
    except UnicodeDecodeError as exc:
        raise KbFileError(str(path), [FileProblem(0, f"cannot read: {exc}")]) from None


def decode(data: bytes) -> str:
    """Text saved by Excel or an editor: UTF-8 or UTF-16 (with or without a BOM), else
    Windows-1251 (Excel's "CSV" on a Russian Windows)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    if data[:200].count(b"\x00") > len(data[:200]) // 4:  # UTF-16 without a BOM
        return data.decode("utf-16-le" if data[1:2] == b"\x00" else "utf-16-be")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1251")


def _with_languages(articles: list[Article]) -> KbFile:
    """Articles whose language was not given get their text's (`language=""` from the
    parsers), and a note lists them."""
    guessed: dict[str, list[str]] = {}
    out = []
    for article in articles:
        if not article.language:
            text = " ".join((article.title, article.answer, *article.questions))
            language = "ru" if script(text) == CYRILLIC_SCRIPT else "en"
            article = replace(article, language=language)
            guessed.setdefault(language, []).append(article.id)
        out.append(article)
    notes = [
        f"no language given: {len(ids)} article(s) taken as {language} from their text "
        f"({', '.join(ids[:10])}{', …' if len(ids) > 10 else ''})"
        for language, ids in sorted(guessed.items())
    ]
    return KbFile(out, notes)


def load_labelled(path: Path) -> list[tuple[str, str | None]]:
    """Labelled questions `question,article_id` (empty id: out of scope) from a CSV file."""
    return parse_labelled(_read_text(path), str(path))


def _reader(text: str) -> csv.DictReader[str]:
    """A CSV reader with the separator the header line uses: `,`, `;` or a tab."""
    header = text.split("\n", 1)[0]
    separator = max((",", ";", "\t"), key=header.count)
    return csv.DictReader(io.StringIO(text, newline=""), delimiter=separator)


def _records(reader: csv.DictReader[str]) -> Iterator[tuple[int, dict[str, str | None]]]:
    """Rows with the file line each starts on (a quoted value may span lines)."""
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        yield start, row


def parse_labelled(text: str, source: str = "<csv>") -> list[tuple[str, str | None]]:
    reader = _reader(text)
    header = [h.strip() for h in reader.fieldnames or []]
    if "question" not in header or "article_id" not in header:
        raise KbFileError(source, [FileProblem(1, "expected columns question,article_id")])
    reader.fieldnames = header
    rows: list[tuple[str, str | None]] = []
    problems: list[FileProblem] = []
    try:
        for line, row in _records(reader):
            question = (row.get("question") or "").strip()
            if not question:
                problems.append(FileProblem(line, "empty question"))
                continue
            rows.append((question, (row.get("article_id") or "").strip() or None))
    except csv.Error as exc:
        problems.append(FileProblem(reader.line_num, f"not valid CSV: {exc}"))
    if problems:
        raise KbFileError(source, problems)
    return rows


def write_file(path: Path, articles: Sequence[Article]) -> None:
    text = dump_csv(articles) if path.suffix.lower() == ".csv" else dump_yaml(articles)
    path.write_text(text, encoding="utf-8")


# -- YAML --


def parse_yaml(text: str, source: str = "<yaml>") -> list[Article]:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
        raise KbFileError(source, [FileProblem(line, f"not valid YAML: {problem}")]) from None
    problems: list[FileProblem] = []
    items = _yaml_articles(root, problems)
    articles: list[Article] = []
    seen: dict[str, int] = {}
    for node in items:
        line = node.start_mark.line + 1
        if not isinstance(node, yaml.MappingNode):
            problems.append(FileProblem(line, "an article must be a mapping"))
            continue
        data = yaml.SafeLoader(io.StringIO("")).construct_mapping(node, deep=True)
        article = _yaml_article(data, line, problems)
        if article is None:
            continue
        if article.id in seen:
            problems.append(
                FileProblem(line, f"duplicate id {article.id!r} (first at line {seen[article.id]})")
            )
            continue
        seen[article.id] = line
        articles.append(article)
    if problems:
        raise KbFileError(source, problems)
    return articles


def _yaml_articles(root: yaml.Node | None, problems: list[FileProblem]) -> list[yaml.Node]:
    if root is None:
        return []
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value == "articles":
                if isinstance(value, yaml.SequenceNode):
                    return list(value.value)
                if value.tag == "tag:yaml.org,2002:null":
                    return []
                problems.append(FileProblem(value.start_mark.line + 1, "`articles` must be a list"))
                return []
    problems.append(
        FileProblem(root.start_mark.line + 1, "expected a mapping with an `articles` list")
    )
    return []


def _yaml_article(data: dict[Any, Any], line: int, problems: list[FileProblem]) -> Article | None:
    before = len(problems)
    article_id = _text(data.get("id"))
    name = f"article {article_id or '?'}"
    unknown = sorted(str(k) for k in data if k not in _YAML_KEYS)
    if unknown:
        problems.append(FileProblem(line, f"unknown field(s): {', '.join(unknown)}"))
    answer = _text(data.get("answer"))
    questions = data.get("questions")
    tags = data.get("tags") or []
    _check_id(article_id, line, problems)
    if not answer:
        problems.append(FileProblem(line, f"{name}: `answer` is required"))
    if (
        not isinstance(questions, list)
        or not questions
        or not all(isinstance(q, str) and q.strip() for q in questions)
    ):
        problems.append(
            FileProblem(line, f"{name}: `questions` must be a non-empty list of non-empty strings")
        )
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        problems.append(FileProblem(line, f"{name}: `tags` must be a list of strings"))
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        problems.append(FileProblem(line, f"{name}: `enabled` must be true or false"))
    if len(problems) > before:
        return None
    assert isinstance(questions, list)
    return Article(
        id=article_id,
        title=_text(data.get("title")),
        answer=answer,
        questions=_unique(q.strip() for q in questions),
        category=_text(data.get("category")) or None,
        tags=tuple(tags),
        language=_text(data.get("language")),
        enabled=enabled,
        answer_short=_text(data.get("answer_short")) or None,
        answer_email=_text(data.get("answer_email")) or None,
    )


class _BlockDumper(yaml.SafeDumper):  # type: ignore[misc]  # PyYAML ships no types
    """Multi-line answers as `|` blocks, so an exported KB is pleasant to edit."""


def _represent_text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _represent_text)


def dump_yaml(articles: Sequence[Article]) -> str:
    items = []
    for a in articles:
        item: dict[str, Any] = {
            "id": a.id,
            "title": a.title,
            "category": a.category,
            "language": a.language,
            "tags": list(a.tags),
        }
        if not a.enabled:
            item["enabled"] = False
        item["answer"] = a.answer
        if a.answer_short:
            item["answer_short"] = a.answer_short
        if a.answer_email:
            item["answer_email"] = a.answer_email
        item["questions"] = list(a.questions)
        items.append(item)
    return str(
        yaml.dump(
            {"articles": items}, Dumper=_BlockDumper, allow_unicode=True, sort_keys=False, width=100
        )
    )


# -- CSV --


@dataclass
class _Draft:
    line: int
    fields: dict[str, str]
    questions: list[str]


def parse_csv(text: str, source: str = "<csv>") -> list[Article]:
    reader = _reader(text)
    header = [h.strip() for h in reader.fieldnames or []]
    reader.fieldnames = header
    problems: list[FileProblem] = []
    try:
        return parse_rows(_checked(header, _records(reader), problems), source, problems)
    except csv.Error as exc:
        problems.append(FileProblem(reader.line_num, f"not valid CSV: {exc}"))
        raise KbFileError(source, problems) from None


def _checked(
    header: list[str],
    rows: Iterable[tuple[int, Mapping[str, str | None]]],
    problems: list[FileProblem],
) -> Iterator[tuple[int, dict[str, str]]]:
    """The table's rows as text, past a header that has the required columns."""
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        problems.append(
            FileProblem(
                1, f"missing column(s): {', '.join(missing)}; expected {','.join(CSV_COLUMNS)}"
            )
        )
        return
    for line, row in rows:
        if None in row:
            problems.append(FileProblem(line, "more values than columns"))
            continue
        yield line, {k: (v or "").strip() for k, v in row.items()}


def _xlsx_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """The first sheet's rows, numbered as the sheet numbers them."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (OSError, InvalidFileException, BadZipFile, KeyError, ValueError) as exc:
        raise KbFileError(str(path), [FileProblem(0, f"cannot read as .xlsx: {exc}")]) from None
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = [_text(v) for v in next(rows, ())]
        problems: list[FileProblem] = []
        numbered = (
            (n, {h: _text(v) for h, v in zip(header, row, strict=False) if h})
            for n, row in enumerate(rows, start=2)
        )
        yield from _checked(header, numbered, problems)
        if problems:
            raise KbFileError(str(path), problems)
    finally:
        book.close()


def parse_rows(
    rows: Iterable[tuple[int, dict[str, str]]],
    source: str,
    problems: list[FileProblem] | None = None,
) -> list[Article]:
    """Articles from a table's numbered rows (one per question variant)."""
    problems = [] if problems is None else problems
    drafts: dict[str, _Draft] = {}
    for line, values in rows:
        if any(values.values()):
            _csv_row(values, line, drafts, problems)
    articles = []
    for article_id, draft in drafts.items():
        if not draft.fields.get("answer"):
            problems.append(
                FileProblem(draft.line, f"article {article_id}: no row gives an answer")
            )
            continue
        tags = tuple(t.strip() for t in draft.fields.get("tags", "").split(",") if t.strip())
        articles.append(
            Article(
                id=article_id,
                title=draft.fields.get("title", ""),
                answer=draft.fields["answer"],
                questions=_unique(draft.questions),
                category=draft.fields.get("category") or None,
                tags=tags,
                language=draft.fields.get("language", ""),
                enabled=draft.fields.get("enabled", "true").lower() not in {"false", "0", "no"},
                answer_short=draft.fields.get("answer_short") or None,
                answer_email=draft.fields.get("answer_email") or None,
            )
        )
    if problems:
        raise KbFileError(source, sorted(problems, key=lambda p: p.line))
    return articles


def _csv_row(
    values: dict[str, str], line: int, drafts: dict[str, _Draft], problems: list[FileProblem]
) -> None:
    article_id, question = values.get("article_id", ""), values.get("question", "")
    if not _check_id(article_id, line, problems):
        return
    if not question:
        problems.append(FileProblem(line, f"article {article_id}: empty question"))
        return
    draft = drafts.setdefault(article_id, _Draft(line, {}, []))
    draft.questions.append(question)
    for column in ("answer", "category", *_CSV_EXTRAS):
        value = values.get(column, "")
        if not value:
            continue
        known = draft.fields.setdefault(column, value)
        if known != value:
            problems.append(
                FileProblem(
                    line,
                    f"article {article_id}: `{column}` differs from "
                    f"line {draft.line}'s; give it once or identically",
                )
            )


def dump_csv(articles: Sequence[Article]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow((*CSV_COLUMNS, *_CSV_EXTRAS))
    for a in articles:
        for q in a.questions:
            writer.writerow(
                (
                    a.id,
                    q,
                    a.answer,
                    a.category or "",
                    a.title,
                    a.language,
                    ",".join(a.tags),
                    a.answer_short or "",
                    a.answer_email or "",
                    "true" if a.enabled else "false",
                )
            )
    return out.getvalue()


def _check_id(article_id: str, line: int, problems: list[FileProblem]) -> bool:
    if not article_id:
        problems.append(FileProblem(line, "article id is required"))
    elif len(article_id) > _MAX_ID or any(c.isspace() for c in article_id):
        problems.append(
            FileProblem(
                line, f"bad article id {article_id[:40]!r}: up to {_MAX_ID} characters, no spaces"
            )
        )
    else:
        return True
    return False


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _unique(texts: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(t for t in texts if t))
