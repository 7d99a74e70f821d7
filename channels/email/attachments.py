"""Attachments: metadata for every file in a letter, bytes on disk within a size limit.

Files are written under `<directory>/<letter key>/<n>-<safe name>`, where the letter
key is derived from the Message-ID, so storing the same letter again (a retry after the
sink failed) rewrites the same files instead of piling up copies.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from email.message import Message
from pathlib import Path

from core.contracts import Attachment, AttachmentKind

from channels.email.body import is_body_part, is_technical_part, leaf_parts

__all__ = ["AttachmentStore", "extract_attachments"]

_UNSAFE = re.compile(r"[^\w.\- ()\[\]]+", re.UNICODE)
_KINDS = {"image": AttachmentKind.PHOTO, "audio": AttachmentKind.AUDIO,
          "video": AttachmentKind.VIDEO}


class AttachmentStore:
    """Where attachment bytes go; files larger than `max_bytes` keep only metadata."""

    def __init__(self, directory: Path | None, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes

    def save(self, letter_key: str, index: int, name: str, data: bytes) -> str | None:
        if self.directory is None or len(data) > self.max_bytes:
            return None
        folder = self.directory / letter_key
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{index}-{name}"
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".part-")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return str(target)


def extract_attachments(message: Message, message_id: str,
                        store: AttachmentStore) -> tuple[Attachment, ...]:
    letter_key = hashlib.sha256(message_id.encode()).hexdigest()[:24]
    found: list[Attachment] = []
    for part in leaf_parts(message):
        if is_body_part(part) or is_technical_part(part):
            continue
        data = _payload(part)
        name = safe_name(_filename(part), part.get_content_type(), len(found) + 1)
        stored = store.save(letter_key, len(found) + 1, name, data) if data else None
        found.append(Attachment(
            kind=_KINDS.get(part.get_content_maintype(), AttachmentKind.DOCUMENT),
            file_id=hashlib.sha256(data).hexdigest() if data else None,
            name=name, size=len(data), mime=part.get_content_type(), stored_path=stored,
        ))
    return tuple(found)


def safe_name(name: str | None, mime: str, index: int) -> str:
    """A file name that cannot leave its directory or break a file system."""
    base = os.path.basename((name or "").replace("\\", "/")).strip().strip(".")
    base = _UNSAFE.sub("_", base)[:120].strip() or f"attachment-{index}"
    if "." not in base:
        extension = {"message/rfc822": ".eml", "text/plain": ".txt", "text/html": ".html",
                     "image/jpeg": ".jpg", "image/png": ".png", "application/pdf": ".pdf"}
        base += extension.get(mime, "")
    return base


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
