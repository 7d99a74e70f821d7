"""A file the gateway keeps, read to be sent on to a client: once, before the first try.

Telegram, VK and email send an operator's file (or a client's, passed on) from the bytes
kept under `VAR_DIR` (`Attachment.stored_path`). A file that is missing or unreadable
there will not appear by retrying: it was erased, or another machine kept it in a
`VAR_DIR` this process does not share (docs/operations.md, "Several processes"). So the
reply fails at once, as permanent, before any part of it has gone out, and the operator
hears it was not delivered; a letter never leaves with the file silently dropped.
"""

from __future__ import annotations

import asyncio
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from core.contracts import Attachment, DeliveryError, DeliveryFault

__all__ = ["KeptFile", "read_kept_file"]


@dataclass(frozen=True, slots=True)
class KeptFile:
    name: str
    mime: str
    content: bytes


async def read_kept_file(attachment: Attachment, max_bytes: int | None = None) -> KeptFile:
    """The attachment's kept bytes, or a permanent `DeliveryError` saying why there are
    none to send (no file kept here, unreadable, or over `max_bytes`)."""
    if not attachment.stored_path:
        raise DeliveryError(
            f"attachment {attachment.name!r} has no file kept here",
            permanent=True,
            fault=DeliveryFault.FILE,
        )
    path = Path(attachment.stored_path)
    name = attachment.name or path.name
    try:
        content = await asyncio.to_thread(path.read_bytes)
    except OSError as exc:
        raise DeliveryError(
            f"attachment {name!r} cannot be read from {path}: {exc.strerror or exc}",
            permanent=True,
            fault=DeliveryFault.FILE,
        ) from exc
    if max_bytes is not None and len(content) > max_bytes:
        raise DeliveryError(
            f"attachment {name!r} is {len(content)} bytes, over the limit of {max_bytes}",
            permanent=True,
            fault=DeliveryFault.FILE,
        )
    mime = attachment.mime or mimetypes.guess_type(name)[0] or "application/octet-stream"
    return KeptFile(name, mime, content)
