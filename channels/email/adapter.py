"""The email channel: a support mailbox read over IMAP and answered over SMTP."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from channels.attachment_store import AttachmentStore
from channels.email.compose import compose
from channels.email.imap import ImapInbox
from channels.email.parse import MailParser
from channels.email.servers import MailServer
from channels.email.smtp import SmtpSender
from channels.kept_files import read_kept_file
from core.contracts import (
    ChannelKind,
    DeliveryError,
    DeliveryFault,
    DeliveryReceipt,
    InboundSink,
    OutboundMessage,
)

__all__ = ["EmailAdapter"]


class EmailAdapter:
    """`address` is the support mailbox's own address: the From of our letters, the
    domain of our Message-IDs, and a sender never answered (a loop)."""

    kind = ChannelKind.EMAIL

    def __init__(
        self,
        *,
        address: str,
        imap: MailServer,
        smtp: MailServer,
        folder: str = "INBOX",
        processed_folder: str | None = None,
        poll_interval: float = 60.0,
        attachment_dir: Path | None = None,
        attachment_max_bytes: int = 10 * 1024 * 1024,
        display_name: str | None = None,
        timeout: float = 30.0,
        trusted_authserv_ids: Sequence[str] = (),
    ) -> None:
        self.address = address
        self.display_name = display_name
        self.attachment_max_bytes = attachment_max_bytes
        self.parser = MailParser(
            address, AttachmentStore(attachment_dir, attachment_max_bytes), trusted_authserv_ids
        )
        self.inbox = ImapInbox(
            imap,
            folder=folder,
            processed_folder=processed_folder,
            poll_interval=poll_interval,
            timeout=timeout,
        )
        self.outbox = SmtpSender(smtp, timeout=timeout)

    async def run(self, sink: InboundSink) -> None:
        async def handle(raw: bytes) -> None:
            # parsing (HTML, charset guessing, attachment files) is CPU and disk work:
            # keep it off the event loop the web chat and the other channels share
            await sink([await asyncio.to_thread(self.parser.parse, raw)])

        await self.inbox.run(handle)

    async def send(self, message: OutboundMessage) -> DeliveryReceipt:
        files = [await read_kept_file(a, self.attachment_max_bytes) for a in message.attachments]
        try:
            letter = compose(
                message, address=self.address, display_name=self.display_name, files=files
            )
        except (ValueError, TypeError) as exc:  # e.g. a malformed address in chat_id
            raise DeliveryError(
                f"cannot build the letter: {exc}", permanent=True, fault=DeliveryFault.RECIPIENT
            ) from exc
        await self.outbox.send(letter, self.address, [message.chat_id])
        return DeliveryReceipt(platform_message_id=str(letter["Message-ID"]))

    async def aclose(self) -> None:
        """Stop reading after the letter in hand; `run` then returns."""
        await self.inbox.stop()
