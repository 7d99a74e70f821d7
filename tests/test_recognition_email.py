"""Recognition over the real email channel: the verification letter travels through SMTP,
and a link code arrives in a letter through Dovecot and IMAP."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

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
from test_recognition import client_of, last_text, link_code, merges, tg
from waiting import eventually

from core.contracts import ChannelKind
from switchboard.app import Gateway, running


@contextlib.asynccontextmanager
async def with_email(
    gateway: Gateway, dovecot: Dovecot, smtp: SmtpRelay, login: str, tmp: Path
) -> AsyncIterator[Gateway]:
    gateway.adapters.setdefault(ChannelKind.EMAIL, support_adapter(dovecot, smtp, login, tmp))
    async with running(gateway, host="127.0.0.1", port=0):
        yield gateway


async def test_the_verification_letter_is_mailed_and_its_code_confirms_the_address(
    gateway: Gateway, dovecot: Dovecot, smtp_server: SmtpRelay, mailbox: str, tmp_path: Path
) -> None:
    async with with_email(gateway, dovecot, smtp_server, mailbox, tmp_path):
        await gateway.engine.handle(tg("моя почта anna@client.test"))
        await gateway.engine.handle(tg("да"))
        await eventually(lambda: len(smtp_server.sent_to("anna@client.test")) == 1)
        letter = smtp_server.sent_to("anna@client.test")[0].message
        code = re.search(r"\b(\d{6})\b", letter.get_content())
        assert code and "Код подтверждения" in str(letter["Subject"])

        await gateway.engine.handle(tg(code.group(1)))

        assert "подтверждён" in await last_text(gateway, "1001")
        assert await client_of(gateway, ChannelKind.EMAIL, "anna@client.test") == await client_of(
            gateway, ChannelKind.TELEGRAM, "1001"
        )


async def test_a_link_code_sent_by_email_makes_the_address_prove_itself(
    gateway: Gateway, dovecot: Dovecot, smtp_server: SmtpRelay, mailbox: str, tmp_path: Path
) -> None:
    """No trusted server vouched for the letter's From (tests/test_security_email.py has
    the trusted case): the address is mailed a code, typed back in the chat that asked."""
    async with with_email(gateway, dovecot, smtp_server, mailbox, tmp_path):
        code = await link_code(gateway, tg("/link"))
        await submit(
            smtp_server,
            client_letter(
                mailbox,
                f"{code}\n\n--\nС уважением, Пётр",
                sender="petr@client.test",
                subject="Код",
            ),
        )
        await eventually(lambda: len(smtp_server.sent_to("petr@client.test")) == 1)
        letter = smtp_server.sent_to("petr@client.test")[0].message
        mailed = re.search(r"\b(\d{6})\b", letter.get_content())
        assert mailed and "Код подтверждения" in str(letter["Subject"])
        assert await merges(gateway) == []
        assert "petr@client.test" in await last_text(gateway, "1001")

        await gateway.engine.handle(tg(mailed.group(1)))
        await gateway.outbox.drain()

    [record] = await merges(gateway)
    assert record.reason == "email_code"
    assert await client_of(gateway, ChannelKind.EMAIL, "petr@client.test") == await client_of(
        gateway, ChannelKind.TELEGRAM, "1001"
    )
