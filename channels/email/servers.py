"""How to reach a mail server: host, port, transport security and credentials."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["MailServer", "Security"]

Security = Literal["tls", "starttls", "plain"]


@dataclass(frozen=True, slots=True)
class MailServer:
    """`tls` connects over TLS (IMAPS 993, SMTPS 465), `starttls` upgrades a plain
    connection (IMAP 143, submission 587), `plain` never encrypts (loopback and tests)."""

    host: str
    port: int
    security: Security = "tls"
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    cafile: str | None = None  # a private CA (corporate servers); else the system's

    def tls_context(self) -> ssl.SSLContext | None:
        if self.security == "plain":
            return None
        return ssl.create_default_context(cafile=self.cafile)
