"""The email channel: IMAP in, SMTP out, threaded by Message-ID and `[#id]` subject tags,
loop-safe (robots are never answered). `EmailAdapter` is the entry point."""

from __future__ import annotations

from channels.email.adapter import EmailAdapter
from channels.email.servers import MailServer

__all__ = ["EmailAdapter", "MailServer"]
