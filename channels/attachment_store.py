"""Where channels keep the bytes of the files clients send, by content hash.

A file lives at `<directory>/<sha256[:2]>/<sha256>`: no message can overwrite another's
file, whatever it claims to be. Keeping writes nothing: the bytes travel in
`Attachment.content` and the engine writes them (`core.files`) once the message is known
to be new, so a message delivered again writes nothing. The name a client gave a file is
metadata only, cleaned by `safe_name`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from pathlib import Path

from core.contracts import Attachment

__all__ = ["NAME_MAX_BYTES", "AttachmentStore", "safe_name"]

NAME_MAX_BYTES = 255  # NAME_MAX of ext4, XFS, btrfs, APFS, NTFS (in UTF-16 units there)
_UNSAFE = re.compile(r"[^\w.\- ()\[\]]+", re.UNICODE)


class AttachmentStore:
    """Files larger than `max_bytes`, or with no `directory`, keep only their metadata."""

    def __init__(self, directory: Path | None, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes

    def wants(self, size: int | None) -> bool:
        """Whether a file of `size` bytes (None: not said) would be kept."""
        return self.directory is not None and (size or 0) <= self.max_bytes

    def keep(self, attachment: Attachment, data: bytes) -> Attachment:
        """`attachment` carrying `data` for its content-hash place, or as it was when such
        bytes are not kept (none, too many, or no directory)."""
        if not data or self.directory is None or len(data) > self.max_bytes:
            return attachment
        digest = hashlib.sha256(data).hexdigest()
        return dataclasses.replace(
            attachment,
            size=len(data),
            stored_path=str(self.directory / digest[:2] / digest),
            content=data,
        )


def safe_name(name: str | None, mime: str, index: int) -> str:
    """A file name that cannot leave its directory or break a file system: no path, no
    odd characters, at most `NAME_MAX_BYTES` bytes of UTF-8 with its extension kept."""
    base = os.path.basename((name or "").replace("\\", "/")).strip().strip(".")
    base = _UNSAFE.sub("_", base).strip() or f"attachment-{index}"
    if "." not in base:
        extension = {
            "message/rfc822": ".eml",
            "text/plain": ".txt",
            "text/html": ".html",
            "image/jpeg": ".jpg",
            "image/png": ".png",
            "application/pdf": ".pdf",
        }
        base += extension.get(mime, "")
    return _cut_to_bytes(base, NAME_MAX_BYTES)


def _cut_to_bytes(name: str, limit: int) -> str:
    """`name` shortened in its stem, on a character boundary, to `limit` UTF-8 bytes."""
    if len(name.encode()) <= limit:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or len(extension.encode()) > 16:
        stem, dot, extension = name, "", ""
    room = limit - len((dot + extension).encode())
    return stem.encode()[:room].decode("utf-8", "ignore").rstrip() + dot + extension
