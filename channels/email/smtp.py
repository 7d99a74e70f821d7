"""Outbound mail over SMTP with retries: a 4xx answer or a network failure is retried
with backoff, a 5xx rejection is permanent at once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from email.message import EmailMessage

import aiosmtplib

from core.contracts import DeliveryError

from channels.email.servers import MailServer

__all__ = ["SmtpSender"]

log = logging.getLogger(__name__)


class SmtpSender:
    def __init__(self, server: MailServer, *, timeout: float = 30.0, attempts: int = 3,
                 first_delay: float = 1.0) -> None:
        self.server = server
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.first_delay = first_delay

    async def send(self, message: EmailMessage, sender: str, recipients: Sequence[str]) -> None:
        """Deliver or raise `DeliveryError` (`permanent` for 5xx rejections)."""
        delay = self.first_delay
        for attempt in range(1, self.attempts + 1):
            try:
                await self._send_once(message, sender, recipients)
                return
            except aiosmtplib.SMTPRecipientsRefused as exc:
                codes = [refused.code for refused in exc.recipients]
                reasons = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
                if all(code >= 500 for code in codes):
                    raise DeliveryError(f"recipient rejected: {reasons}", permanent=True) from exc
                failure: Exception = exc
            except aiosmtplib.SMTPResponseException as exc:
                if exc.code >= 500 and not isinstance(exc, aiosmtplib.SMTPAuthenticationError):
                    raise DeliveryError(f"rejected: {exc.code} {exc.message}",
                                        permanent=True) from exc
                failure = exc
            except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
                failure = exc
            if attempt < self.attempts:
                log.warning("SMTP %s:%s attempt %d failed: %s; retrying in %.1f s",
                            self.server.host, self.server.port, attempt, failure, delay)
                await asyncio.sleep(delay)
                delay *= 2
        raise DeliveryError(f"SMTP delivery failed after {self.attempts} attempts: {failure}")

    async def _send_once(self, message: EmailMessage, sender: str,
                         recipients: Sequence[str]) -> None:
        server = self.server
        response, _ = await aiosmtplib.send(
            message, sender=sender, recipients=list(recipients), hostname=server.host,
            port=server.port, username=server.user, password=server.password,
            use_tls=server.security == "tls", start_tls=server.security == "starttls",
            tls_context=server.tls_context(), timeout=self.timeout)
        refused = {address: reply for address, reply in response.items() if reply.code >= 400}
        if refused:  # some recipients refused while others were accepted
            raise aiosmtplib.SMTPRecipientsRefused([
                aiosmtplib.SMTPRecipientRefused(reply.code, reply.message, address)
                for address, reply in refused.items()])
