"""The reply corpus: letters in the formats of the mail programs our clients use (Gmail,
Outlook, Apple Mail, Yandex, Mail.ru, Thunderbird, Rambler, Samsung Email, Android), in
Russian and English, plain and HTML, each beside the text the operator must see as what
the client wrote now. The share read right is measured and must be the one docs/email.md
states."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from channels.attachment_store import AttachmentStore
from channels.email.parse import MailParser

CORPUS = Path(__file__).parent / "email_corpus"
LETTERS = sorted(CORPUS.glob("*.eml"))
DOCS = Path(__file__).parent.parent / "docs" / "email.md"


@pytest.fixture(scope="module")
def parser(tmp_path_factory: pytest.TempPathFactory) -> MailParser:
    return MailParser(
        "support@bank.test", AttachmentStore(tmp_path_factory.mktemp("files"), max_bytes=1000)
    )


def fresh_text(parser: MailParser, letter: Path) -> str:
    return parser.parse(letter.read_bytes()).text


def expected(letter: Path) -> str:
    return letter.with_suffix(".txt").read_text(encoding="utf-8").rstrip("\n")


@pytest.mark.parametrize("letter", LETTERS, ids=[letter.stem for letter in LETTERS])
def test_letter_gives_the_clients_fresh_text(parser: MailParser, letter: Path) -> None:
    assert fresh_text(parser, letter) == expected(letter)


def test_corpus_covers_the_formats_asked_for() -> None:
    names = {letter.stem for letter in LETTERS}
    assert len(names) >= 40
    for client in (
        "gmail",
        "outlook",
        "apple_mail",
        "iphone",
        "yandex",
        "mailru",
        "thunderbird",
        "rambler",
        "samsung",
        "android",
    ):
        assert any(name.startswith(client) for name in names), client
    html = [letter for letter in LETTERS if b"Content-Type: text/html" in letter.read_bytes()]
    assert len(html) >= 10
    assert any("_en" in name for name in names) and any("_ru" in name for name in names)


def test_share_read_right_is_the_one_the_docs_state(parser: MailParser) -> None:
    right = sum(fresh_text(parser, letter) == expected(letter) for letter in LETTERS)
    share = f"{right} of {len(LETTERS)} letters ({100 * right // len(LETTERS)} %)"
    print(f"email reply corpus: {share}")
    stated = re.search(r"Read right: \*\*(.+?)\*\*", DOCS.read_text(encoding="utf-8"))
    assert stated is not None and stated.group(1) == share
