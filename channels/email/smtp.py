"""Outbound mail over SMTP with retries: a 4xx answer or a network failure is retried
with backoff, a 5xx rejection is permanent at once."""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from email.message import EmailMessage

import aiosmtplib

from channels.delivery import Failure, RetryPolicy, send_with_retries
from channels.email.servers import MailServer
from core.contracts import DeliveryFault

__all__ = ["SmtpSender"]

log = logging.getLogger(__name__)


class SmtpSender:
    def __init__(
        self,
        server: MailServer,
        *,
        timeout: float = 30.0,
        attempts: int = 3,
        first_delay: float = 1.0,
    ) -> None:
        self.server = server
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.first_delay = first_delay

    async def send(self, message: EmailMessage, sender: str, recipients: Sequence[str]) -> None:
        """Deliver or raise `DeliveryError` (`permanent` for 5xx rejections)."""
        await send_with_retries(
            functools.partial(self._send_once, message, sender, recipients),
            _classify,
            RetryPolicy(
                attempts=self.attempts,
                base_delay=self.first_delay,
                max_delay=self.first_delay * 2 ** (self.attempts - 1),
            ),
            what=f"SMTP {self.server.host}:{self.server.port}",
        )

    async def _send_once(
        self, message: EmailMessage, sender: str, recipients: Sequence[str]
    ) -> None:
        server = self.server
        response, _ = await aiosmtplib.send(
            message,
            sender=sender,
            recipients=list(recipients),
            hostname=server.host,
            port=server.port,
            username=server.user,
            password=server.password,
            use_tls=server.security == "tls",
            start_tls=server.security == "starttls",
            tls_context=server.tls_context(),
            timeout=self.timeout,
        )
        refused = {address: reply for address, reply in response.items() if reply.code >= 400}
        if refused:  # some recipients refused while others were accepted
            raise aiosmtplib.SMTPRecipientsRefused(
                [
                    aiosmtplib.SMTPRecipientRefused(reply.code, reply.message, address)
                    for address, reply in refused.items()
                ]
            )


def _classify(exc: Exception) -> Failure | None:
    """5xx rejections are permanent (a failed login is not: it can be fixed); the rest of
    SMTP's and the network's errors are retried."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        permanent = all(refused.code >= 500 for refused in exc.recipients)
        return Failure(retryable=not permanent, permanent=permanent, fault=DeliveryFault.RECIPIENT)
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return Failure(retryable=True, fault=DeliveryFault.CONFIGURATION)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        permanent = exc.code >= 500
        return Failure(retryable=not permanent, permanent=permanent, fault=_refusal_fault(exc))
    if isinstance(exc, (TimeoutError, aiosmtplib.SMTPException, OSError)):
        return Failure(retryable=True)
    return None


def _refusal_fault(exc: aiosmtplib.SMTPResponseException) -> DeliveryFault:
    """Our own address refused is the desk's setting to fix; a 5xx to the letter itself
    (size, content) is the message; a 4xx is the server not taking it for now."""
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        return DeliveryFault.CONFIGURATION
    return DeliveryFault.CONTENT if exc.code >= 500 else DeliveryFault.UNREACHABLE
