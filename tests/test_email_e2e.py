"""The email channel inside the real gateway: letters travel client → SMTP → Dovecot →
IMAP → engine → SMTP → client, against the sample KB, the real queue and database."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

from mail_servers import (  # noqa: F401
    Dovecot,
    Recorded,
    Responder,
    SmtpRelay,
    client_letter,
    dovecot,
    mailbox,
    smtp_server,
    submit,
    support_adapter,
)
from sqlalchemy import func, select
from stepping_clock import SteppingClock
from waiting import eventually

from core.contracts import ChannelKind, DeliveryFault
from core.messages import SEND_LEASE
from core.models import Author, ConversationEvent, Delivery, Direction, EventKind, Identity, Message
from switchboard.app import Gateway, open_gateway, running
from switchboard.settings import Settings

QUESTION = "Я потерял карту, что делать?"
MARKER = "marker@client.test"


@contextlib.asynccontextmanager
async def with_email(
    gateway: Gateway, dovecot: Dovecot, smtp: SmtpRelay, login: str, tmp: Path
) -> AsyncIterator[Gateway]:
    """The gateway serving, with the email channel on the test mailbox."""
    gateway.adapters.setdefault(ChannelKind.EMAIL, support_adapter(dovecot, smtp, login, tmp))
    async with running(gateway, host="127.0.0.1", port=0):
        yield gateway


async def answered_marker(gateway: Gateway, smtp: SmtpRelay, login: str) -> None:
    """Send one more client's letter and wait for its answer. The mailbox is read in order,
    so whatever the letters before it caused (a loop's next letter, a letter stored twice)
    has happened by then: an outcome to wait for instead of a sleep."""
    await submit(smtp, client_letter(login, QUESTION, sender=MARKER))
    await eventually(lambda: smtp.sent_to(MARKER), what="the answer to the marker letter")
    await gateway.outbox.drain()


async def messages(gateway: Gateway, direction: Direction) -> list[Message]:
    async with gateway.sessions() as session:
        return list(
            await session.scalars(
                select(Message)
                .where(Message.channel == ChannelKind.EMAIL, Message.direction == direction)
                .order_by(Message.id)
            )
        )


async def count(gateway: Gateway, direction: Direction) -> int:
    async with gateway.sessions() as session:
        return int(
            await session.scalar(
                select(func.count(Message.id)).where(
                    Message.channel == ChannelKind.EMAIL, Message.direction == direction
                )
            )
            or 0
        )


async def test_a_question_is_answered_by_email_in_the_same_thread(
    gateway: Gateway, dovecot: Dovecot, smtp_server: SmtpRelay, mailbox: str, tmp_path: Path
) -> None:
    question = client_letter(
        mailbox, QUESTION, sender="Анна <anna@client.test>", subject="Потеряла карту"
    )
    async with with_email(gateway, dovecot, smtp_server, mailbox, tmp_path):
        await submit(smtp_server, question)
        await eventually(lambda: len(smtp_server.sent_to("anna@client.test")) == 1)
        await gateway.outbox.drain()
    (inbound,) = await messages(gateway, Direction.IN)
    (answer,) = await messages(gateway, Direction.OUT)
    letter = smtp_server.sent_to("anna@client.test")[0].message
    assert inbound.channel_message_id == question["Message-ID"]
    assert answer.author is Author.BOT and answer.delivery is Delivery.SENT
    assert answer.channel_message_id == letter["Message-ID"]
    assert letter["In-Reply-To"] == question["Message-ID"]
    assert letter["Subject"] == f"Re: Потеряла карту [#{inbound.conversation_id}]"
    assert letter["Auto-Submitted"] == "auto-replied"
    assert answer.text.strip() in letter.get_content()
    assert dovecot.flags(mailbox) == ["\\Seen"]


async def test_a_reply_is_routed_to_its_conversation_by_headers(
    gateway: Gateway, dovecot: Dovecot, smtp_server: SmtpRelay, mailbox: str, tmp_path: Path
) -> None:
    client = "petr@client.test"
    async with with_email(gateway, dovecot, smtp_server, mailbox, tmp_path):
        await submit(
            smtp_server,
            client_letter(mailbox, "позовите оператора", sender=client, subject="Перевод"),
        )
        await eventually(lambda: len(smtp_server.sent_to(client)) == 1)
        operator = await gateway.desk.operators.register("Олег")
        first = await gateway.desk.actions.take_next(operator.id)
        assert first is not None
        await gateway.desk.actions.close(operator.id, first.id)
        ours = smtp_server.sent_to(client)[0].message
        # the client answers our letter from a mail program that drops the subject tag
        reply = client_letter(
            mailbox,
            "Спасибо, а сколько идёт перевод?\n\n> старое письмо",
            sender=client,
            subject="другая тема",
            In_Reply_To=str(ours["Message-ID"]),
            References=str(ours["Message-ID"]),
        )
        await submit(smtp_server, reply)
        await eventually(
            lambda: len(dovecot.flags(mailbox)) == 2 and dovecot.flags(mailbox)[1] == "\\Seen"
        )
        await gateway.outbox.drain()
    inbound = await messages(gateway, Direction.IN)
    assert [m.conversation_id for m in inbound] == [first.id, first.id]
    assert inbound[1].text == "Спасибо, а сколько идёт перевод?"
    async with gateway.sessions() as session:
        kinds = list(
            await session.scalars(
                select(ConversationEvent.kind).where(ConversationEvent.conversation_id == first.id)
            )
        )
    assert EventKind.REOPENED in kinds


ANDROID_RUSSIAN_REPLY = """\
Документы отправил ещё вчера, когда будет решение?

02.12.2026 14:20 пользователь "Служба поддержки" <{support}> написал:

> Здравствуйте! Пришлите, пожалуйста, справку о доходах.
>
> Служба поддержки
"""
BOTTOM_POSTED_REPLY = """\
On 02.12.2026 14:20, Bank Support wrote:
> Hi
> Which card is it?

Hello
It is the Visa ending in 4431.

--
John Smith
"""


async def test_android_russian_and_bottom_posted_replies_store_only_the_new_words(
    gateway: Gateway, dovecot: Dovecot, smtp_server: SmtpRelay, mailbox: str, tmp_path: Path
) -> None:
    async with with_email(gateway, dovecot, smtp_server, mailbox, tmp_path):
        await submit(
            smtp_server,
            client_letter(
                mailbox,
                ANDROID_RUSSIAN_REPLY.format(support=mailbox),
                sender="sergey@client.test",
                subject="Re: Заявка на кредит",
            ),
        )
        await submit(
            smtp_server,
            client_letter(
                mailbox, BOTTOM_POSTED_REPLY, sender="john@client.test", subject="Re: Card"
            ),
        )
        await eventually(lambda: dovecot.flags(mailbox) == ["\\Seen", "\\Seen"])
        await gateway.outbox.drain()
    android, bottom = await messages(gateway, Direction.IN)
    assert android.text == "Документы отправил ещё вчера, когда будет решение?"
    assert bottom.text == "Hello\nIt is the Visa ending in 4431."
    assert android.original_text is not None and "справку о доходах" in android.original_text
    assert bottom.original_text is not None and "John Smith" in bottom.original_text


def auto_responder(dovecot: Dovecot, support: str) -> Responder:
    """The client's side answers every letter automatically, like an out-of-office robot."""

    def respond(record: Recorded) -> None:
        incoming = record.message
        reply = EmailMessage()
        reply["From"] = record.rcpt_tos[0]
        reply["To"] = support
        reply["Subject"] = f"Автоответ: {incoming['Subject']}"
        reply["Message-ID"] = f"<auto{len(dovecot.flags(support))}@client.test>"
        reply["In-Reply-To"] = str(incoming["Message-ID"])
        reply["Auto-Submitted"] = "auto-replied"
        reply.set_content("Я в отпуске до понедельника.")
        dovecot.deliver(support, reply.as_bytes(), sender="")

    return respond


def bouncer(dovecot: Dovecot, support: str) -> Responder:
    """The client's server returns every letter: a delivery status notification."""

    def bounce(record: Recorded) -> None:
        returned_headers = record.content.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace")
        report = (
            "From: Mail Delivery System <MAILER-DAEMON@mx.client.test>\r\n"
            f"To: {support}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
            "Message-ID: <dsn1@mx.client.test>\r\nAuto-Submitted: auto-replied\r\n"
            "MIME-Version: 1.0\r\n"
            'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
            "--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
            "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
            "Reporting-MTA: dns; mx.client.test\r\n\r\n"
            f"Final-Recipient: rfc822; {record.rcpt_tos[0]}\r\nAction: failed\r\n"
            "Status: 5.1.1\r\n\r\n"
            f"--B\r\nContent-Type: text/rfc822-headers\r\n\r\n{returned_headers}\r\n\r\n--B--\r\n"
        )
        dovecot.deliver(support, report.encode(), sender="")

    return bounce


async def test_auto_replies_and_bounces_are_stored_never_answered(
    gateway: Gateway, dovecot: Dovecot, smtp_server: SmtpRelay, mailbox: str, tmp_path: Path
) -> None:
    smtp_server.responders["olga@client.test"] = auto_responder(dovecot, mailbox)
    smtp_server.responders["gone@client.test"] = bouncer(dovecot, mailbox)
    async with with_email(gateway, dovecot, smtp_server, mailbox, tmp_path):
        await submit(smtp_server, client_letter(mailbox, QUESTION, sender="olga@client.test"))
        await submit(smtp_server, client_letter(mailbox, QUESTION, sender="gone@client.test"))
        await eventually(
            lambda: len(dovecot.flags(mailbox)) == 4 and set(dovecot.flags(mailbox)) == {"\\Seen"}
        )
        await gateway.outbox.drain()
        await answered_marker(gateway, smtp_server, mailbox)
    assert len(smtp_server.sent_to("olga@client.test")) == 1  # one answer, then silence
    assert len(smtp_server.sent_to("gone@client.test")) == 1
    assert smtp_server.sent_to("mailer-daemon@mx.client.test") == []
    inbound = await messages(gateway, Direction.IN)
    assert [m.automated for m in inbound].count(True) == 2
    assert len(await messages(gateway, Direction.OUT)) == 3  # olga, gone and the marker


async def test_a_bounce_is_recorded_on_the_conversation_of_the_returned_letter(
    gateway: Gateway, dovecot: Dovecot, smtp_server: SmtpRelay, mailbox: str, tmp_path: Path
) -> None:
    smtp_server.responders["gone@client.test"] = bouncer(dovecot, mailbox)
    async with with_email(gateway, dovecot, smtp_server, mailbox, tmp_path):
        await submit(smtp_server, client_letter(mailbox, QUESTION, sender="gone@client.test"))
        await eventually(lambda: dovecot.flags(mailbox) == ["\\Seen", "\\Seen"])
        await gateway.outbox.drain()
    (answer,) = await messages(gateway, Direction.OUT)
    async with gateway.sessions() as session:
        bounced_on = list(
            await session.scalars(
                select(ConversationEvent.conversation_id).where(
                    ConversationEvent.kind == EventKind.BOUNCED
                )
            )
        )
    assert bounced_on == [answer.conversation_id]
    assert answer.delivery is Delivery.FAILED and (answer.delivery_error or "").startswith(
        "bounced"
    )
    assert answer.delivery_fault is DeliveryFault.RECIPIENT


async def test_restart_while_200_letters_wait_stores_and_answers_each_once(
    gateway: Gateway,
    settings: Settings,
    clock: SteppingClock,
    dovecot: Dovecot,
    smtp_server: SmtpRelay,
    mailbox: str,
    tmp_path: Path,
) -> None:
    clients = [f"client{n}@client.test" for n in range(200)]
    for n, client in enumerate(clients):
        letter = client_letter(mailbox, QUESTION, sender=client, message_id=f"<w{n}@client.test>")
        dovecot.deliver(mailbox, letter.as_bytes(), sender=client)
    async with with_email(gateway, dovecot, smtp_server, mailbox, tmp_path):
        await eventually(lambda: len(smtp_server.outside) >= 40, timeout=60)
    # The gateway stops mid-way (its tasks are cancelled) and a new one starts. A reply the
    # stopped one wrote but had not sent is the new one's once its send lease has run out:
    # the restart takes that long on the test's hand-moved clock.
    clock.advance(seconds=SEND_LEASE.total_seconds())
    async with open_gateway(settings, clock=clock) as restarted:
        async with with_email(restarted, dovecot, smtp_server, mailbox, tmp_path):
            await eventually(lambda: len(smtp_server.outside) >= 200, timeout=120)
            await eventually(lambda: set(dovecot.flags(mailbox)) == {"\\Seen"}, timeout=30)
            await restarted.outbox.drain()
            await answered_marker(restarted, smtp_server, mailbox)
        assert await count(restarted, Direction.IN) == 200 + 1  # each letter once, and the marker
        answers = await messages(restarted, Direction.OUT)
    assert len(answers) == 200 + 1 and {a.delivery for a in answers} == {Delivery.SENT}
    assert sorted(r.rcpt_tos[0] for r in smtp_server.outside) == sorted([*clients, MARKER])
    async with gateway.sessions() as session:
        identities = await session.scalar(
            select(func.count(Identity.id)).where(Identity.channel == ChannelKind.EMAIL)
        )
    assert identities == 200 + 1
