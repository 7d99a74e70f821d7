"""Attachments: metadata for every file in a letter, bytes kept within a size limit
(`channels.attachment_store`: by content hash, written once the letter is known to be
new). The name the sender gave is metadata only, cleaned and cut to the file-system byte
limit (a 120-character CJK name is 360 bytes). One attachment that cannot be read keeps what
could be read of it and never fails the letter.
"""

from __future__ import annotations

import hashlib
import logging
from email.message import Message

from channels.attachment_store import AttachmentStore, safe_name
from channels.email.body import is_body_part, is_technical_part, leaf_parts
from core.contracts import Attachment, AttachmentKind

__all__ = ["extract_attachments"]

log = logging.getLogger(__name__)

_KINDS = {
    "image": AttachmentKind.PHOTO,
    "audio": AttachmentKind.AUDIO,
    "video": AttachmentKind.VIDEO,
}


def extract_attachments(message: Message, store: AttachmentStore) -> tuple[Attachment, ...]:
    found: list[Attachment] = []
    for part in leaf_parts(message):
        if is_body_part(part) or is_technical_part(part):
            continue
        index = len(found) + 1
        try:
            found.append(_attachment(part, store, index))
        except Exception:  # noqa: BLE001 - one odd part must not cost the letter
            log.exception("attachment %d unreadable, kept as a name only", index)
            found.append(Attachment(kind=AttachmentKind.OTHER, name=f"attachment-{index}"))
    return tuple(found)


def _attachment(part: Message, store: AttachmentStore, index: int) -> Attachment:
    data = _payload(part)
    found = Attachment(
        kind=_KINDS.get(part.get_content_maintype(), AttachmentKind.DOCUMENT),
        file_id=hashlib.sha256(data).hexdigest() if data else None,
        name=safe_name(_filename(part), part.get_content_type(), index),
        size=len(data),
        mime=part.get_content_type(),
    )
    return store.keep(found, data)


def _filename(part: Message) -> str | None:
    try:
        return part.get_filename()
    except (ValueError, LookupError, TypeError):
        return None


def _payload(part: Message) -> bytes:
    if part.get_content_type() in {"message/rfc822", "message/global"}:
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            try:
                return inner[0].as_bytes()
            except (ValueError, TypeError, LookupError, UnicodeError):
                return b""
    try:
        data = part.get_payload(decode=True)
    except (ValueError, TypeError, LookupError, AssertionError):
        return b""
    return data if isinstance(data, bytes) else b""
