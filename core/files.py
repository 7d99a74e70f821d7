"""Attachment bytes on disk, written once the engine knows their message is new.

A channel names the place (`Attachment.stored_path`, by content hash for email) and
hands the bytes along in `Attachment.content`; the engine calls `keep_files` after its
duplicate check, so a message delivered again writes nothing. A file is written whole or
not at all (a temporary file renamed into place), 0600 in 0700 folders, and never
rewritten: the same path holds the same bytes. One file that cannot be written keeps its
attachment's metadata and never fails the message.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from dataclasses import replace
from pathlib import Path

from core.contracts import Attachment, InboundMessage

__all__ = ["keep_files", "write_once"]

log = logging.getLogger(__name__)


async def keep_files(inbound: InboundMessage) -> InboundMessage:
    """`inbound` with its attachments' bytes on disk; an attachment whose file could not
    be written loses its `stored_path`, not the message. The disk work runs in a thread."""
    if not any(attachment.content is not None for attachment in inbound.attachments):
        return inbound
    kept = await asyncio.to_thread(lambda: tuple(map(_keep, inbound.attachments)))
    return replace(inbound, attachments=kept)


def write_once(path: Path, data: bytes) -> bool:
    """Write `data` at `path` unless a file is there already; False (logged) when the
    disk refused."""
    try:
        if path.is_file():
            return True
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".part-")  # mode 0600
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError:
        log.exception("attachment file %s of %d bytes not written", path, len(data))
        return False
    return True


def _keep(attachment: Attachment) -> Attachment:
    if attachment.content is None:
        return attachment
    written = attachment.stored_path is not None and write_once(
        Path(attachment.stored_path), attachment.content
    )
    return replace(
        attachment, content=None, stored_path=attachment.stored_path if written else None
    )
