"""Outbound over real SMTP: the headers a client's mail program threads by, loop-safety
marks on bot answers, and how rejections and outages are reported."""

from __future__ import annotations

from pathlib import Path

import pytest
from mail_servers import (  # noqa: F401
    Dovecot,
    SmtpRelay,
    dovecot,
    free_port,
    mailbox,
    smtp_server,
    support_adapter,
)

from channels.email import MailServer
from channels.email.compose import compose
from channels.email.smtp import SmtpSender
from core.contracts import (
    Attachment,
    AttachmentKind,
    ChannelKind,
    DeliveryError,
    DeliveryFault,
    OutboundMessage,
)

CLIENT = "ivan+bank@client.test"


def outbound(**fields: object) -> OutboundMessage:
    values: dict[str, object] = {
        "channel": ChannelKind.EMAIL,
        "chat_id": CLIENT,
        "text": "Здравствуйте! Карта будет готова «завтра» №1.",
        "outbound_id": 41,
        "subject": "Re: Карта",
        "conversation_id": 7,
        "reply_to": ("<q1@client.test>", "<switchboard.40@support.test>", "<q2@client.test>"),
        "auto_reply": True,
    }
    values.update(fields)
    return OutboundMessage(**values)  # type: ignore[arg-type]


async def test_bot_answer_carries_threading_and_loop_safety_headers(
    dovecot: Dovecot, smtp_server: SmtpRelay, mailbox: str, tmp_path: Path
) -> None:
    adapter = support_adapter(dovecot, smtp_server, mailbox, tmp_path)
    receipt = await adapter.send(outbound())
    (record,) = smtp_server.sent_to(CLIENT)
    letter = record.message
    domain = mailbox.partition("@")[2]
    assert receipt.platform_message_id == f"<switchboard.41@{domain}>" == letter["Message-ID"]
    assert record.mail_from == mailbox and record.rcpt_tos == [CLIENT]
    assert letter["From"] == mailbox and letter["To"] == CLIENT
    assert letter["Subject"] == "Re: Карта [#7]"
    assert letter["In-Reply-To"] == "<q2@client.test>"
    assert letter["References"] == "<q1@client.test> <switchboard.40@support.test> <q2@client.test>"
    assert letter["Auto-Submitted"] == "auto-replied"
    assert letter.get_content_charset() == "utf-8"
    assert letter.get_content().strip() == "Здравствуйте! Карта будет готова «завтра» №1."


async def test_operator_answer_is_not_marked_automatic_and_keeps_an_existing_tag(
    dovecot: Dovecot, smtp_server: SmtpRelay, mailbox: str, tmp_path: Path
) -> None:
    adapter = support_adapter(dovecot, smtp_server, mailbox, tmp_path)
    await adapter.send(outbound(auto_reply=False, subject="Re: Re: Ответ: Карта [#7]", reply_to=()))
    letter = smtp_server.sent_to(CLIENT)[0].message
    assert letter["Auto-Submitted"] is None
    assert letter["Subject"] == "Re: Карта [#7]"
    assert letter["In-Reply-To"] is None and letter["References"] is None


async def test_attachment_is_sent_from_its_stored_file(
    dovecot: Dovecot, smtp_server: SmtpRelay, mailbox: str, tmp_path: Path
) -> None:
    stored = tmp_path / "statement.pdf"
    stored.write_bytes(b"%PDF-1.4 statement")
    adapter = support_adapter(dovecot, smtp_server, mailbox, tmp_path)
    await adapter.send(
        outbound(
            attachments=(
                Attachment(
                    AttachmentKind.DOCUMENT,
                    name="выписка.pdf",
                    mime="application/pdf",
                    stored_path=str(stored),
                ),
            )
        )
    )
    letter = smtp_server.sent_to(CLIENT)[0].message
    (part,) = list(letter.iter_attachments())
    assert part.get_filename() == "выписка.pdf" and part.get_content() == b"%PDF-1.4 statement"


async def test_a_file_that_is_gone_or_too_big_fails_the_letter_and_nothing_is_sent(
    dovecot: Dovecot, smtp_server: SmtpRelay, mailbox: str, tmp_path: Path
) -> None:
    """A letter never leaves with the operator's file silently dropped: the reply fails as
    permanent (the operator hears it was not delivered) and the client gets nothing."""
    adapter = support_adapter(dovecot, smtp_server, mailbox, tmp_path)
    too_big = tmp_path / "scan.tiff"
    too_big.write_bytes(b"\0" * 100_001)  # the adapter's limit is 100,000 bytes
    for path, reason in (
        (tmp_path / "erased.pdf", "cannot be read"),
        (too_big, "over the limit of 100000"),
    ):
        document = Attachment(AttachmentKind.DOCUMENT, name=path.name, stored_path=str(path))
        with pytest.raises(DeliveryError, match=reason) as failure:
            await adapter.send(outbound(attachments=(document,)))
        assert failure.value.permanent and failure.value.fault is DeliveryFault.FILE
    assert smtp_server.sent_to(CLIENT) == []


async def test_rejected_recipient_is_a_permanent_failure(
    dovecot: Dovecot, smtp_server: SmtpRelay, mailbox: str, tmp_path: Path
) -> None:
    smtp_server.reject[CLIENT] = "550 5.1.1 No such user"
    adapter = support_adapter(dovecot, smtp_server, mailbox, tmp_path)
    with pytest.raises(DeliveryError) as failure:
        await adapter.send(outbound())
    assert failure.value.permanent and failure.value.fault is DeliveryFault.RECIPIENT
    assert "5.1.1" in str(failure.value)
    assert smtp_server.sent_to(CLIENT) == []


async def test_a_malformed_address_is_a_permanent_failure(
    dovecot: Dovecot, smtp_server: SmtpRelay, mailbox: str, tmp_path: Path
) -> None:
    adapter = support_adapter(dovecot, smtp_server, mailbox, tmp_path)
    with pytest.raises(DeliveryError) as failure:
        await adapter.send(outbound(chat_id="ivan@client.test\r\nBcc: all@client.test"))
    assert failure.value.permanent


async def test_unreachable_server_is_retried_then_reported_as_temporary() -> None:
    sender = SmtpSender(
        MailServer("127.0.0.1", free_port(), "plain"), timeout=2, attempts=3, first_delay=0.05
    )
    letter = compose(outbound(), address="support@bank.test", display_name=None)
    with pytest.raises(DeliveryError) as failure:
        await sender.send(letter, "support@bank.test", [CLIENT])
    assert not failure.value.permanent and failure.value.fault is DeliveryFault.UNREACHABLE
    assert "after 3 attempts" in str(failure.value)


async def test_login_with_credentials(smtp_server: SmtpRelay) -> None:
    letter = compose(
        outbound(),
        address="support@bank.test",
        display_name="Банк «Ромашка»",
    )
    good = SmtpSender(
        MailServer(
            smtp_server.host, smtp_server.port, "plain", smtp_server.user, smtp_server.password
        )
    )
    await good.send(letter, "support@bank.test", [CLIENT])
    (sent,) = smtp_server.sent_to(CLIENT)
    assert sent.message["From"].addresses[0].display_name == "Банк «Ромашка»"
    smtp_server.clear()
