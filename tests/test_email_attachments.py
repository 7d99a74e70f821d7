"""A letter's attachments on disk: by content hash, written only once the engine knows the
letter is new, and one file the disk refuses never costs the letter.

Parsed from raw bytes and handed to the running engine: the parser and the engine are
the two halves that decide what is written (the servers' path is in
tests/test_security_email.py)."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from channels.attachment_store import AttachmentStore
from channels.email.parse import MailParser
from core.contracts import ChannelKind
from core.models import Direction, Message
from switchboard.app import Gateway

SUPPORT = "support@bank.test"


@pytest.fixture
def parser(tmp_path: Path) -> MailParser:
    return MailParser(SUPPORT, AttachmentStore(tmp_path / "files", max_bytes=1000))


def letter(sender: str, message_id: str, *files: tuple[str, bytes]) -> bytes:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, SUPPORT, "Документы"
    mail["Message-ID"] = message_id
    mail.set_content("Документы во вложении")
    for name, data in files:
        mail.add_attachment(data, maintype="application", subtype="pdf", filename=name)
    return mail.as_bytes()


def files_in(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file())


async def stored_attachments(gateway: Gateway) -> list[list[dict[str, Any]]]:
    async with gateway.sessions() as session:
        rows = await session.scalars(
            select(Message.attachments)
            .where(Message.channel == ChannelKind.EMAIL, Message.direction == Direction.IN)
            .order_by(Message.id)
        )
        return [list(row) for row in rows]


async def test_two_letters_with_the_same_file_keep_one_copy(
    gateway: Gateway, parser: MailParser, tmp_path: Path
) -> None:
    scan = ("скан.pdf", b"%PDF-1.4 the same scan")
    first = parser.parse(letter("anna@client.test", "<a-1@client.test>", scan))
    second = parser.parse(letter("petr@client.test", "<p-1@client.test>", scan))
    assert files_in(tmp_path / "files") == []  # parsing writes nothing

    await gateway.engine.handle_many([first, second])

    [kept] = files_in(tmp_path / "files")
    assert kept.read_bytes() == b"%PDF-1.4 the same scan" and kept.stat().st_mode & 0o077 == 0
    assert [[a["stored_path"] for a in row] for row in await stored_attachments(gateway)] == [
        [str(kept)],
        [str(kept)],
    ]


async def test_a_letter_delivered_again_writes_no_file(
    gateway: Gateway, parser: MailParser, tmp_path: Path
) -> None:
    raw = letter("anna@client.test", "<a-2@client.test>", ("договор.pdf", b"%PDF-1.4 contract"))
    await gateway.engine.handle(parser.parse(raw))
    [kept] = files_in(tmp_path / "files")
    kept.unlink()  # so that any write of the duplicate would show

    await gateway.engine.handle(parser.parse(raw))  # the mailbox hands the letter over again

    assert files_in(tmp_path / "files") == []
    assert len(await stored_attachments(gateway)) == 1


async def test_a_file_the_disk_refuses_keeps_its_name_and_the_letter(
    gateway: Gateway, parser: MailParser, tmp_path: Path
) -> None:
    raw = letter(
        "anna@client.test",
        "<a-3@client.test>",
        ("first.pdf", b"%PDF-1.4 first"),
        ("second.pdf", b"%PDF-1.4 second"),
    )
    parsed = parser.parse(raw)
    refused, accepted = parsed.attachments
    assert refused.stored_path is not None and accepted.stored_path is not None
    Path(refused.stored_path).parent.parent.mkdir(parents=True)
    Path(refused.stored_path).parent.write_bytes(b"")  # a file where its folder should be

    await gateway.engine.handle(parsed)

    [row] = await stored_attachments(gateway)
    assert [a["name"] for a in row] == ["first.pdf", "second.pdf"]
    assert "stored_path" not in row[0]  # no path to a file that is not there
    assert Path(row[1]["stored_path"]).read_bytes() == b"%PDF-1.4 second"
