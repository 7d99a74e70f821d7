"""Where channels keep the bytes of the files clients send, by content hash.

A file lives at `<directory>/<sha256[:2]>/<sha256>`: no message can overwrite another's
file, whatever it claims to be. Keeping writes nothing: the bytes travel in
`Attachment.content` and the engine writes them (`core.files`) once the message is known
to be new, so a message delivered again writes nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

from core.contracts import Attachment

__all__ = ["AttachmentStore"]


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
