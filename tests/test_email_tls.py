"""Encrypted transports: IMAP and SMTP over implicit TLS and STARTTLS, against Dovecot and
aiosmtpd with a self-signed certificate the client is told to trust (`cafile`)."""

from __future__ import annotations

import ssl
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from mail_servers import (
    PASSWORD,
    Collector,
    Dovecot,
    SmtpRelay,
    client_letter,
    free_port,
    running,
    started_dovecot,
)

from channels.email import EmailAdapter, MailServer
from channels.email.compose import compose
from channels.email.servers import Security
from channels.email.smtp import SmtpSender
from core.contracts import ChannelKind, DeliveryError, OutboundMessage


@pytest.fixture(scope="module")
async def tls_dovecot() -> AsyncIterator[Dovecot]:
    async with started_dovecot(tls=True) as server:
        yield server


@pytest.fixture(scope="module")
def tls_smtp(tls_dovecot: Dovecot) -> Iterator[dict[str, SmtpRelay]]:
    """Two SMTP servers into the same Dovecot: one with STARTTLS, one with implicit TLS."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls_dovecot.certificate, tls_dovecot.root / "key.pem")
    relays = {
        "starttls": SmtpRelay(tls_dovecot, port=free_port()),
        "tls": SmtpRelay(tls_dovecot, port=free_port()),
    }
    controllers = [
        Controller(
            relays["starttls"],
            hostname="127.0.0.1",
            port=relays["starttls"].port,
            tls_context=context,
            require_starttls=True,
        ),
        Controller(
            relays["tls"], hostname="127.0.0.1", port=relays["tls"].port, ssl_context=context
        ),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for controller in controllers:
            controller.start()
    yield relays
    for controller in controllers:
        controller.stop()


def answer(to: str) -> OutboundMessage:
    return OutboundMessage(
        channel=ChannelKind.EMAIL,
        chat_id=to,
        outbound_id=9,
        text="Ответ по защищённому каналу",
        subject="Вопрос",
        conversation_id=3,
        auto_reply=True,
    )


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_both_directions_over_an_encrypted_transport(
    tls_dovecot: Dovecot, tls_smtp: dict[str, SmtpRelay], security: Security, tmp_path: Path
) -> None:
    login = await tls_dovecot.add_user()
    cafile = str(tls_dovecot.certificate)
    relay = tls_smtp[security]
    port = tls_dovecot.tls_port if security == "tls" else tls_dovecot.port
    adapter = EmailAdapter(
        address=login,
        imap=MailServer("127.0.0.1", port, security, login, PASSWORD, cafile),
        smtp=MailServer("127.0.0.1", relay.port, security, cafile=cafile),
        attachment_dir=tmp_path,
        poll_interval=1.0,
        timeout=10,
    )
    sink = Collector()
    async with running(adapter, sink):
        tls_dovecot.deliver(login, client_letter(login, "Вопрос по TLS").as_bytes())
        (message,) = await sink.wait_for(1)
        receipt = await adapter.send(answer("ivan@client.test"))
    assert message.text == "Вопрос по TLS"
    (record,) = relay.sent_to("ivan@client.test")
    assert record.message["Message-ID"] == receipt.platform_message_id


async def test_an_untrusted_certificate_is_refused(tls_smtp: dict[str, SmtpRelay]) -> None:
    sender = SmtpSender(MailServer("127.0.0.1", tls_smtp["tls"].port, "tls"), attempts=1, timeout=5)
    letter = compose(
        answer("ivan@client.test"),
        address="support@bank.test",
        display_name=None,
    )
    with pytest.raises(DeliveryError) as failure:
        await sender.send(letter, "support@bank.test", ["ivan@client.test"])
    assert not failure.value.permanent
    assert "CERTIFICATE_VERIFY_FAILED" in str(failure.value) or "certificate" in str(failure.value)
