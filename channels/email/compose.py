"""One `OutboundMessage` → one UTF-8 letter with our threading headers.

Bot answers carry `Auto-Submitted: auto-replied` (RFC 3834) so well-behaved
auto-responders on the client's side stay silent, and `X-Auto-Response-Suppress` for
Exchange, which ignores RFC 3834.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from channels.email.threading import domain_of, message_id_for, reference_headers, reply_subject
from channels.kept_files import KeptFile
from core.contracts import OutboundMessage

__all__ = ["compose"]


def compose(
    outbound: OutboundMessage,
    *,
    address: str,
    display_name: str | None,
    files: Sequence[KeptFile] = (),
) -> EmailMessage:
    """The letter, with `files` (the outbound's attachments, read by `read_kept_file`)
    attached under their names."""
    letter = EmailMessage()
    letter["From"] = formataddr((display_name, address)) if display_name else address
    letter["To"] = outbound.chat_id
    letter["Subject"] = reply_subject(outbound.subject, outbound.conversation_id)
    letter["Message-ID"] = message_id_for(outbound.outbound_id, domain_of(address))
    letter["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    in_reply_to, references = reference_headers(outbound.reply_to)
    if in_reply_to:
        letter["In-Reply-To"] = in_reply_to
    if references:
        letter["References"] = references
    if outbound.auto_reply:
        letter["Auto-Submitted"] = "auto-replied"
        letter["X-Auto-Response-Suppress"] = "All"
    letter.set_content(outbound.text.rstrip() + "\n", charset="utf-8")
    for file in files:
        maintype, _, subtype = file.mime.partition("/")
        letter.add_attachment(
            file.content, maintype=maintype, subtype=subtype or "octet-stream", filename=file.name
        )
    return letter
