"""One `OutboundMessage` → one UTF-8 letter with our threading headers.

Bot answers carry `Auto-Submitted: auto-replied` (RFC 3834) so well-behaved
auto-responders on the client's side stay silent, and `X-Auto-Response-Suppress` for
Exchange, which ignores RFC 3834.
"""

from __future__ import annotations

import datetime as dt
import logging
import mimetypes
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path

from channels.email.threading import domain_of, message_id_for, reference_headers, reply_subject
from core.contracts import OutboundMessage

__all__ = ["compose"]

log = logging.getLogger(__name__)


def compose(
    outbound: OutboundMessage, *, address: str, display_name: str | None, attachment_max_bytes: int
) -> EmailMessage:
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
    for attachment in outbound.attachments:
        path = Path(attachment.stored_path) if attachment.stored_path else None
        if path is None or not path.is_file() or path.stat().st_size > attachment_max_bytes:
            log.warning(
                "attachment %r not sent: no stored file within the size limit", attachment.name
            )
            continue
        mime = attachment.mime or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        maintype, _, subtype = mime.partition("/")
        letter.add_attachment(
            path.read_bytes(),
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=attachment.name or path.name,
        )
    return letter
