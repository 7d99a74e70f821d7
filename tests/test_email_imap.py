"""Inbound over real IMAP: letters sent through SMTP into a private Dovecot reach the sink
once, are marked only after the sink returned, survive sink failures, restarts and
connections cut mid-IDLE."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from mail_servers import (  # noqa: F401
    PASSWORD,
    Collector,
    Dovecot,
    SmtpRelay,
    client_letter,
    dovecot,
    handed_over_before_marker,
    mailbox,
    running,
    smtp_server,
    started_dovecot,
    submit,
    support_adapter,
)
from waiting import eventually

from channels.email import MailServer
from channels.email.imap import ImapInbox


async def test_letter_reaches_the_sink_once_and_is_seen_only_after_it_returned(
    dovecot: Dovecot, smtp_server: SmtpRelay, mailbox: str, tmp_path: Path
) -> None:
    sink = Collector()
    sink.hold = asyncio.Event()
    adapter = support_adapter(dovecot, smtp_server, mailbox, tmp_path)
    async with running(adapter, sink):
        letter = client_letter(
            mailbox,
            "Здравствуйте! Как поменять ПИН-код?",
            sender="Иван Петров <Ivan@Client.test>",
            subject="ПИН-код",
        )
        await submit(smtp_server, letter)
        await eventually(lambda: sink.calls == 1)
        assert dovecot.flags(mailbox) in (["\\Recent"], [""])  # the store has not returned yet
        sink.hold.set()
        await eventually(lambda: dovecot.flags(mailbox) == ["\\Seen"])
        await submit(smtp_server, client_letter(mailbox, "И ещё вопрос"))  # wakes the inbox again
        await sink.wait_for(2)
        handed_over = await handed_over_before_marker(smtp_server, mailbox, sink)
    first = sink.received[0]
    assert len(handed_over) == 2 and sink.calls == 3  # each letter once, then the marker
    assert first.platform_message_id == letter["Message-ID"]
    assert (first.external_user_id, first.display_name, first.subject) == (
        "ivan@client.test",
        "Иван Петров",
        "ПИН-код",
    )
    assert first.text == "Здравствуйте! Как поменять ПИН-код?"
    assert dovecot.flags(mailbox) == ["\\Seen"] * 3


async def test_a_failing_store_leaves_the_letter_unseen_and_it_is_retried(
    dovecot: Dovecot, smtp_server: SmtpRelay, mailbox: str
) -> None:
    from channels.attachment_store import AttachmentStore
    from channels.email.parse import MailParser

    parser = MailParser(mailbox, AttachmentStore(None, 0))
    sink = Collector()
    sink.fail = 2
    inbox = ImapInbox(
        MailServer("127.0.0.1", dovecot.port, "plain", mailbox, PASSWORD),
        poll_interval=1.0,
        retry_delays=(0.3, 1.0),
    )

    async def handle(raw: bytes) -> None:
        await sink([parser.parse(raw)])

    task = asyncio.create_task(inbox.run(handle))
    try:
        await submit(smtp_server, client_letter(mailbox, "Письмо, которое не сразу сохранится"))
        await eventually(lambda: sink.calls >= 1)
        assert dovecot.flags(mailbox)[0] != "\\Seen"
        await sink.wait_for(1)
        await eventually(lambda: dovecot.flags(mailbox) == ["\\Seen"])
        assert sink.calls == 3  # two failures, then stored
    finally:
        await inbox.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_reader_cancelled_mid_store_takes_the_letter_when_it_runs_again(
    dovecot: Dovecot, smtp_server: SmtpRelay, mailbox: str
) -> None:
    """The mailbox's lease lost while a new letter is being stored cancels the reader; when
    this process holds the lease again, that letter is read, though newer ones came."""
    from channels.attachment_store import AttachmentStore
    from channels.email.parse import MailParser

    parser = MailParser(mailbox, AttachmentStore(None, 0))
    sink = Collector()
    inbox = ImapInbox(
        MailServer("127.0.0.1", dovecot.port, "plain", mailbox, PASSWORD), poll_interval=0.3
    )
    storing = asyncio.Event()

    async def handle(raw: bytes) -> None:
        letter = parser.parse(raw)
        if letter.text == "Письмо, которое прервали":
            storing.set()
            await asyncio.Event().wait()  # cancelled mid-store
        await sink([letter])

    first = asyncio.create_task(inbox.run(handle))
    await submit(smtp_server, client_letter(mailbox, "Первое письмо"))
    await sink.wait_for(1)  # the reader is past its catch-up, waiting for new letters
    await submit(smtp_server, client_letter(mailbox, "Письмо, которое прервали"))
    await asyncio.wait_for(storing.wait(), 20)
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    await submit(smtp_server, client_letter(mailbox, "Письмо после него"))
    storing.clear()
    again = asyncio.create_task(inbox.run(_storing_all(parser, sink)))
    try:
        await sink.wait_for(3)
        await eventually(lambda: dovecot.flags(mailbox) == ["\\Seen"] * 3)
    finally:
        await inbox.stop()
        again.cancel()
        await asyncio.gather(again, return_exceptions=True)
    assert sorted(m.text for m in sink.received) == [
        "Первое письмо",
        "Письмо после него",
        "Письмо, которое прервали",
    ]


def _storing_all(parser: Any, sink: Collector) -> Callable[[bytes], Awaitable[None]]:
    async def handle(raw: bytes) -> None:
        await sink([parser.parse(raw)])

    return handle


async def test_restart_with_200_waiting_letters_hands_each_over_once(
    dovecot: Dovecot, smtp_server: SmtpRelay, mailbox: str, tmp_path: Path
) -> None:
    letters = [
        client_letter(
            mailbox,
            f"Вопрос номер {n}",
            sender=f"c{n % 7}@client.test",
            message_id=f"<wait{n}@client.test>",
        )
        for n in range(200)
    ]
    for letter in letters:
        dovecot.deliver(mailbox, letter.as_bytes(), sender=str(letter["From"]))
    sink = Collector()
    async with running(support_adapter(dovecot, smtp_server, mailbox, tmp_path), sink):
        await sink.wait_for(60)  # stopped part-way, like a restart of the gateway
    async with running(support_adapter(dovecot, smtp_server, mailbox, tmp_path), sink):
        await sink.wait_for(200, timeout=60)
        handed_over = await handed_over_before_marker(smtp_server, mailbox, sink)
    assert sorted(handed_over) == sorted(f"<wait{n}@client.test>" for n in range(200))
    assert dovecot.flags(mailbox) == ["\\Seen"] * 201


async def test_connection_cut_mid_idle_reconnects_and_misses_nothing(
    dovecot: Dovecot, smtp_server: SmtpRelay, mailbox: str, tmp_path: Path
) -> None:
    sink = Collector()
    async with running(support_adapter(dovecot, smtp_server, mailbox, tmp_path), sink):
        await submit(smtp_server, client_letter(mailbox, "до обрыва", message_id="<a@client.test>"))
        await sink.wait_for(1)
        await eventually(lambda: dovecot.flags(mailbox) == ["\\Seen"])  # handled: back to IDLE
        dovecot.kick(mailbox)
        await submit(
            smtp_server, client_letter(mailbox, "во время обрыва", message_id="<b@client.test>")
        )
        await sink.wait_for(2)
        cut = dovecot.sessions(mailbox)
        dovecot.kick(mailbox)
        await eventually(lambda: dovecot.sessions(mailbox) - cut, what="a new IMAP session")
        await submit(
            smtp_server, client_letter(mailbox, "после обрыва", message_id="<c@client.test>")
        )
        await sink.wait_for(3)
        handed_over = await handed_over_before_marker(smtp_server, mailbox, sink)
    assert handed_over == ["<a@client.test>", "<b@client.test>", "<c@client.test>"]
    assert dovecot.flags(mailbox) == ["\\Seen"] * 4


async def test_processed_folder_receives_handled_letters(
    dovecot: Dovecot, smtp_server: SmtpRelay, mailbox: str, tmp_path: Path
) -> None:
    sink = Collector()
    adapter = support_adapter(
        dovecot, smtp_server, mailbox, tmp_path, processed_folder="Обработанные письма"
    )
    async with running(adapter, sink):
        for n in range(3):
            await submit(smtp_server, client_letter(mailbox, f"письмо {n}"))
        await sink.wait_for(3)
        await eventually(lambda: dovecot.count(mailbox) == 0)
    assert dovecot.count(mailbox, "Обработанные письма") == 3


async def test_html_koi8r_letter_with_attachment_through_the_servers(
    dovecot: Dovecot, smtp_server: SmtpRelay, mailbox: str, tmp_path: Path
) -> None:
    letter = client_letter(mailbox, "", subject="Выписка")
    letter.set_content(
        "<p>Пришлите, пожалуйста, <b>выписку</b>. Скан прилагаю.</p>",
        subtype="html",
        charset="koi8-r",
    )
    letter.add_attachment(
        b"%PDF-1.4 scan", maintype="application", subtype="pdf", filename="скан.pdf"
    )
    sink = Collector()
    async with running(support_adapter(dovecot, smtp_server, mailbox, tmp_path), sink):
        await submit(smtp_server, letter)
        (message,) = await sink.wait_for(1)
    assert message.text == "Пришлите, пожалуйста, выписку. Скан прилагаю."
    (attachment,) = message.attachments
    assert attachment.name == "скан.pdf" and attachment.content == b"%PDF-1.4 scan"
    assert attachment.stored_path is not None
    assert Path(attachment.stored_path).is_relative_to(tmp_path)  # written by the engine


async def test_a_recreated_folder_new_uidvalidity_is_read_again(
    dovecot: Dovecot, smtp_server: SmtpRelay, mailbox: str, tmp_path: Path
) -> None:
    dovecot.doveadm("mailbox", "create", "-u", mailbox, "Поддержка")
    sink = Collector()
    adapter = support_adapter(dovecot, smtp_server, mailbox, tmp_path, folder="Поддержка")
    async with running(adapter, sink):
        for n in range(3):
            dovecot.deliver(
                mailbox, client_letter(mailbox, f"старое {n}").as_bytes(), folder="Поддержка"
            )
        await sink.wait_for(3)
        dovecot.doveadm("mailbox", "delete", "-u", mailbox, "Поддержка")
        dovecot.doveadm("mailbox", "create", "-u", mailbox, "Поддержка")
        dovecot.kick(mailbox)
        # UID 1 again: a reader that kept the old highest UID would skip it
        dovecot.deliver(
            mailbox,
            client_letter(mailbox, "новое", message_id="<new@client.test>").as_bytes(),
            folder="Поддержка",
        )
        await sink.wait_for(4)
    assert sink.ids()[3] == "<new@client.test>"
    assert dovecot.flags(mailbox, "Поддержка") == ["\\Seen"]


@pytest.fixture(scope="module")
async def plain_imap_server() -> AsyncIterator[Dovecot]:
    """A server without IDLE, MOVE and UIDPLUS: the inbox must poll and copy/expunge."""
    async with started_dovecot("imap_capability = IMAP4rev1 LITERAL+") as server:
        yield server


async def test_without_idle_and_move_it_polls_and_copies(
    plain_imap_server: Dovecot, smtp_server: SmtpRelay, tmp_path: Path
) -> None:
    login = await plain_imap_server.add_user()
    sink = Collector()
    adapter = support_adapter(
        plain_imap_server, smtp_server, login, tmp_path, processed_folder="Done"
    )
    async with running(adapter, sink):
        for n in range(3):
            plain_imap_server.deliver(login, client_letter(login, f"письмо {n}").as_bytes())
        await sink.wait_for(3)
        await eventually(lambda: plain_imap_server.count(login) == 0)
    assert plain_imap_server.count(login, "Done") == 3
