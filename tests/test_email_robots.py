"""Loop safety: letters from robots are marked `automated` (stored, never answered) and
bounces carry the Message-ID of the letter that bounced."""

from __future__ import annotations

import pytest

from channels.attachment_store import AttachmentStore
from channels.email.parse import MailParser

SUPPORT = "support@bank.test"


@pytest.fixture
def parser() -> MailParser:
    return MailParser(SUPPORT, AttachmentStore(None, 0))


def letter(
    *headers: str, body: str = "Текст письма", sender: str = "ivan@mail.ru", subject: str = "Вопрос"
) -> bytes:
    head = [
        f"From: {sender}",
        f"To: {SUPPORT}",
        f"Subject: {subject}",
        "Message-ID: <x1@mail.ru>",
        *headers,
        "Content-Type: text/plain; charset=utf-8",
    ]
    return ("\r\n".join(head) + "\r\n\r\n" + body).encode()


@pytest.mark.parametrize(
    "headers",
    [
        ("Auto-Submitted: auto-replied",),
        ("Auto-Submitted: auto-generated",),
        ("Precedence: bulk",),
        ("Precedence: list",),
        ("Precedence: junk",),
        ("List-Id: <clients.lists.example.org>",),
        ("List-Unsubscribe: <mailto:leave@lists.example.org>",),
        ("X-Autoreply: yes",),
        ("X-Autorespond: Out of office",),
        ("X-Auto-Response-Suppress: All",),
        ("X-Loop: helpdesk@shop.test",),
        ("Return-Path: <>",),
    ],
    ids=lambda h: h[0].split(":")[0] + ":" + h[0].split(":")[1].strip()[:12],
)
def test_robot_headers_mark_the_letter_automated(
    parser: MailParser, headers: tuple[str, ...]
) -> None:
    message = parser.parse(letter(*headers))
    assert message.automated and not message.bounce
    assert message.meta["automation"]


@pytest.mark.parametrize(
    "sender",
    [
        "MAILER-DAEMON@mx.mail.ru",
        "postmaster@corp.ru",
        "no-reply@gosuslugi.ru",
        "noreply@bank.test",
        "do-not-reply@shop.test",
        "owner-clients@lists.test",
        "clients-request@lists.test",
        SUPPORT,
        "Support@Bank.Test",
    ],
)
def test_robot_and_own_senders_are_automated(parser: MailParser, sender: str) -> None:
    assert parser.parse(letter(sender=sender)).automated


def test_yandex_style_autoreply_subject(parser: MailParser) -> None:
    message = parser.parse(
        letter(body="Я в отпуске до 1 декабря", subject="Автоответ: Re: Вопрос [#5]")
    )
    assert message.automated and message.thread_hint == 5


def test_people_are_not_robots(parser: MailParser) -> None:
    message = parser.parse(letter("Auto-Submitted: no", "Precedence: first-class"))
    assert not message.automated and not message.bounce
    assert "automation" not in message.meta


DSN = """\
From: Mail Delivery System <MAILER-DAEMON@mx.bank.test>
To: support@bank.test
Subject: Undelivered Mail Returned to Sender
Message-ID: <dsn1@mx.bank.test>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.bank.test.
I'm sorry to have to inform you that your message could not be delivered.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.bank.test

Final-Recipient: rfc822; nobody@gone.test
Original-Recipient: rfc822;nobody@gone.test
Action: {action}
Status: {status}
Diagnostic-Code: smtp; 550 5.1.1 user unknown

--B
Content-Type: {returned}

From: support@bank.test
To: nobody@gone.test
Subject: Re: Вопрос [#77]
Message-ID: <switchboard.501@bank.test>
In-Reply-To: <q9@gone.test>

--B--
"""


@pytest.mark.parametrize("returned", ["text/rfc822-headers", "message/rfc822"])
def test_delivery_status_notification_is_a_bounce(parser: MailParser, returned: str) -> None:
    raw = DSN.format(action="failed", status="5.1.1", returned=returned).replace("\n", "\r\n")
    message = parser.parse(raw.encode())
    assert message.bounce and message.automated
    assert "<switchboard.501@bank.test>" in message.reply_to
    assert message.meta["failed_recipients"] == ["nobody@gone.test"]


def test_delayed_delivery_is_automated_but_not_a_bounce(parser: MailParser) -> None:
    raw = DSN.format(action="delayed", status="4.4.1", returned="text/rfc822-headers")
    message = parser.parse(raw.replace("\n", "\r\n").encode())
    assert message.automated and not message.bounce


def test_old_style_bounce_with_the_original_quoted_in_the_body(parser: MailParser) -> None:
    body = (
        "Не удалось доставить письмо следующим адресатам:\n  nobody@gone.test\n\n"
        "------ This is a copy of the message, including all the headers. ------\n"
        "Message-ID: <switchboard.502@bank.test>\nSubject: Re: Вопрос\n"
    )
    message = parser.parse(
        letter(body=body, sender="MAILER-DAEMON@mx.yandex.ru", subject="Недоставленное сообщение")
    )
    assert message.bounce and message.reply_to == ("<switchboard.502@bank.test>",)


def test_exim_failed_recipients_header(parser: MailParser) -> None:
    message = parser.parse(
        letter("X-Failed-Recipients: Nobody@Gone.test", sender="mailer-daemon@mx.test")
    )
    assert message.bounce and message.meta["failed_recipients"] == ["nobody@gone.test"]
