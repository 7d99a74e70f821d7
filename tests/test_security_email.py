"""Attacks by letter, over the real path: client → SMTP → Dovecot → IMAP → the gateway.
A forged `From` with a link code, a `Reply-To` that tries to take the address over, a
`Message-ID` reused to overwrite another sender's attachment, a name too long for disk."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import waiting
from mail_servers import (  # noqa: F401
    Dovecot,
    SmtpRelay,
    client_letter,
    dovecot,
    mailbox,
    smtp_server,
    submit,
    support_adapter,
)
from sqlalchemy import select
from test_recognition import client_of, link_code, merges, said, sent_to, web

from bot.history import web_history
from core.contracts import ChannelKind
from core.models import Author, Direction, Identity, Message
from switchboard.app import Gateway, running

TRUSTED = "mx.support.test"
VICTIM = "victim@client.ru"
SECRET = "Номер карты 4276 1234 5678 9012, паспорт 4510 123456"


@contextlib.asynccontextmanager
async def with_email(
    gateway: Gateway, dovecot: Dovecot, smtp: SmtpRelay, login: str, tmp: Path
) -> AsyncIterator[Gateway]:
    gateway.adapters[ChannelKind.EMAIL] = support_adapter(
        dovecot, smtp, login, tmp, trusted_authserv_ids=[TRUSTED]
    )
    async with running(gateway, host="127.0.0.1", port=0):
        yield gateway


async def letters_in(gateway: Gateway, sender: str | None = None) -> list[Message]:
    async with gateway.sessions() as session:
        query = (
            select(Message)
            .join(Identity, Identity.id == Message.identity_id)
            .where(Message.channel == ChannelKind.EMAIL, Message.direction == Direction.IN)
        )
        if sender is not None:
            query = query.where(Identity.external_id == sender)
        return list(await session.scalars(query.order_by(Message.id)))


async def deliver(gateway: Gateway, smtp: SmtpRelay, letter: EmailMessage, count: int) -> None:
    """Send a letter and wait until `count` letters are stored."""
    await submit(smtp, letter)

    async def stored() -> bool:
        return len(await letters_in(gateway)) >= count

    await waiting.eventually(stored, 15.0, what=f"{count} letters stored")


def mailed_code(smtp: SmtpRelay, address: str) -> str | None:
    for record in smtp.sent_to(address):
        found = re.search(r"\b(\d{6})\b", record.message.get_content())
        if found and "Код подтверждения" in str(record.message["Subject"]):
            return found.group(1)
    return None


async def test_a_forged_from_with_a_link_code_merges_nothing_the_address_proves_itself(
    gateway: Gateway, dovecot: Dovecot, smtp_server: SmtpRelay, mailbox: str, tmp_path: Path
) -> None:
    async with with_email(gateway, dovecot, smtp_server, mailbox, tmp_path):
        await deliver(gateway, smtp_server, client_letter(mailbox, SECRET, sender=VICTIM), 1)
        code = await link_code(gateway, web("связать", who="visitor-x"))

        forged = client_letter(mailbox, code, sender=VICTIM, subject="Код")  # no DMARC verdict
        await deliver(gateway, smtp_server, forged, 2)
        await waiting.eventually(lambda: mailed_code(smtp_server, VICTIM) is not None)

        assert await merges(gateway) == []
        shown = [item.text for item in await web_history(gateway.sessions, "visitor-x")]
        assert not any("4276" in text for text in shown)  # the victim's letters stay theirs
        told = (await sent_to(gateway, "visitor-x"))[-1].text
        assert "не подтвердил" in told and VICTIM in told

        # the code went to the mailbox itself: whoever reads it, and only they, can link
        typed = mailed_code(smtp_server, VICTIM)
        assert typed is not None
        await gateway.engine.handle(web(typed, who="visitor-x"))
        [record] = await merges(gateway)
        assert record.reason == "email_code"


async def test_only_the_topmost_verdict_of_a_trusted_server_links_by_letter(
    gateway: Gateway, dovecot: Dovecot, smtp_server: SmtpRelay, mailbox: str, tmp_path: Path
) -> None:
    async with with_email(gateway, dovecot, smtp_server, mailbox, tmp_path):
        code = await link_code(gateway, web("связать", who="visitor-x"))
        planted = client_letter(mailbox, code, sender=VICTIM, subject="Код")
        planted["Authentication-Results"] = (
            f"{TRUSTED}; dmarc=fail (p=reject) header.from=client.ru"
        )
        planted["Authentication-Results"] = f"{TRUSTED}; dmarc=pass header.from=client.ru"
        await deliver(gateway, smtp_server, planted, 1)
        await waiting.eventually(lambda: mailed_code(smtp_server, VICTIM) is not None)
        assert await merges(gateway) == []

        code = await link_code(gateway, web("связать", who="visitor-p"))
        vouched = client_letter(mailbox, code, sender="petr@client.test", subject="Код")
        vouched["Authentication-Results"] = (
            f"{TRUSTED}; spf=pass smtp.mailfrom=client.test; "
            "dkim=pass header.d=client.test; "
            "dmarc=pass (p=reject) header.from=client.test"
        )
        await deliver(gateway, smtp_server, vouched, 2)
        await waiting.eventually(lambda: len(smtp_server.sent_to("petr@client.test")) == 1)
        await gateway.outbox.drain()

    [record] = await merges(gateway)
    assert record.reason == "link_code"
    assert await client_of(gateway, ChannelKind.EMAIL, "petr@client.test") == await client_of(
        gateway, ChannelKind.WEB, "visitor-p"
    )


async def test_reply_to_answers_one_letter_and_never_takes_the_address_over(
    gateway: Gateway, dovecot: Dovecot, smtp_server: SmtpRelay, mailbox: str, tmp_path: Path
) -> None:
    thief = "thief@evil.test"
    async with with_email(gateway, dovecot, smtp_server, mailbox, tmp_path):
        await deliver(gateway, smtp_server, client_letter(mailbox, SECRET, sender=VICTIM), 1)
        await waiting.eventually(lambda: len(smtp_server.sent_to(VICTIM)) == 1)
        hijack = client_letter(
            mailbox, "Я потерял карту, что делать?", sender=VICTIM, Reply_To=thief
        )
        await deliver(gateway, smtp_server, hijack, 2)
        await waiting.eventually(
            lambda: len(smtp_server.sent_to(thief)) == 1
        )  # that letter's answer

        # the conversation waits for an operator since the first letter, and the client
        # heard so once: the next answer to the address is the operator's
        later = client_letter(mailbox, "Как заблокировать карту?", sender=VICTIM)
        await deliver(gateway, smtp_server, later, 3)
        operator = await gateway.desk.operators.register("Ольга")
        taken = await gateway.desk.actions.take_next(operator.id)
        await gateway.desk.actions.reply(operator.id, taken.id, "Заблокируйте карту в приложении.")
        await waiting.eventually(lambda: len(smtp_server.sent_to(VICTIM)) == 2)
        await gateway.outbox.drain()
        answer = smtp_server.sent_to(VICTIM)[-1].message.get_body(("plain",))
        assert answer is not None and "Заблокируйте карту" in answer.get_content()

    assert len(smtp_server.sent_to(thief)) == 1
    async with gateway.sessions() as session:
        identity = await session.scalar(select(Identity).where(Identity.external_id == VICTIM))
        notes = list(
            await session.scalars(
                select(Message.text).where(
                    Message.private.is_(True), Message.author == Author.SYSTEM
                )
            )
        )
    assert identity is not None and identity.chat_id == VICTIM
    assert any(thief in note and "Reply-To" in note for note in notes)


async def test_a_reused_message_id_is_another_senders_letter_and_overwrites_nothing(
    gateway: Gateway, dovecot: Dovecot, smtp_server: SmtpRelay, mailbox: str, tmp_path: Path
) -> None:
    reused = "<scan-1@client.ru>"
    async with with_email(gateway, dovecot, smtp_server, mailbox, tmp_path):
        genuine = client_letter(mailbox, "Скан паспорта", sender=VICTIM, message_id=reused)
        genuine.add_attachment(
            b"%PDF-1.4 passport", maintype="application", subtype="pdf", filename="паспорт.pdf"
        )
        await deliver(gateway, smtp_server, genuine, 1)
        forged = client_letter(
            mailbox, "Скан паспорта", sender="thief@evil.test", message_id=reused
        )
        forged.add_attachment(
            b"%PDF-1.4 something else",
            maintype="application",
            subtype="pdf",
            filename="паспорт.pdf",
        )
        await deliver(gateway, smtp_server, forged, 2)

    (victim_letter,) = await letters_in(gateway, VICTIM)
    (thief_letter,) = await letters_in(gateway, "thief@evil.test")
    assert Path(victim_letter.attachments[0]["stored_path"]).read_bytes() == b"%PDF-1.4 passport"
    assert (
        Path(thief_letter.attachments[0]["stored_path"]).read_bytes() == b"%PDF-1.4 something else"
    )
    assert victim_letter.conversation_id != thief_letter.conversation_id


async def test_a_file_name_too_long_for_the_disk_does_not_fail_the_letter(
    gateway: Gateway, dovecot: Dovecot, smtp_server: SmtpRelay, mailbox: str, tmp_path: Path
) -> None:
    name = "契約書" * 40 + ".pdf"  # 120 characters, 364 bytes of UTF-8
    async with with_email(gateway, dovecot, smtp_server, mailbox, tmp_path):
        letter = client_letter(mailbox, "Договор во вложении", sender=VICTIM)
        letter.add_attachment(
            b"%PDF-1.4 contract", maintype="application", subtype="pdf", filename=name
        )
        await deliver(gateway, smtp_server, letter, 1)

    (stored,) = await letters_in(gateway, VICTIM)
    attachment = stored.attachments[0]
    assert stored.text.startswith("Договор")
    assert len(attachment["name"].encode()) <= 255 and attachment["name"].endswith(".pdf")
    assert Path(attachment["stored_path"]).read_bytes() == b"%PDF-1.4 contract"
    assert Path(attachment["stored_path"]).stat().st_mode & 0o077 == 0


async def test_thanks_by_email_count_against_the_bots_answer_cap(gateway: Gateway) -> None:
    for _ in range(8):
        await gateway.engine.handle(said("Спасибо!", who=VICTIM, channel=ChannelKind.EMAIL))
    answers = [m for m in await sent_to(gateway, VICTIM) if m.author is Author.BOT]
    assert len(answers) == gateway.settings.email.bot_answers_per_hour
