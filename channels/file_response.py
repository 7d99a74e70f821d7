"""A kept file, as the console hands it to an operator and the web chat to its visitor.

Only files the gateway keeps (`Attachment.stored_path`: email attachments, Telegram clients'
files, uploads from the web chat and the console) can be opened; a platform's own
reference (a VK file) has no bytes here. A picture of a common type opens in the browser;
anything else downloads under its own name, never rendered as a page of the gateway's
origin (`nosniff`, and a sandbox policy in case).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

__all__ = ["INLINE_TYPES", "file_response", "opens_here"]

INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
"""Pictures a browser shows safely; everything else is a download."""

_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; sandbox",
    "Cache-Control": "private, no-store",
}


def opens_here(attachment: Mapping[str, object]) -> bool:
    """The gateway has this attachment's bytes to hand out."""
    path = attachment.get("stored_path")
    return isinstance(path, str) and Path(path).is_file()


def file_response(attachments: Sequence[Mapping[str, object]], index: int) -> web.StreamResponse:
    """The `index`-th attachment's bytes with the headers above; 404 when there are none."""
    if not 0 <= index < len(attachments) or not opens_here(attachments[index]):
        raise web.HTTPNotFound(text="no such file")
    attachment = attachments[index]
    mime = str(attachment.get("mime") or "").lower()
    name = str(attachment.get("name") or f"file-{index + 1}")
    inline = mime in INLINE_TYPES
    fallback = name.encode("ascii", "replace").decode().replace('"', "'").replace("?", "_")
    disposition = (
        f'{"inline" if inline else "attachment"}; filename="{fallback}"; '
        f"filename*=UTF-8''{quote(name, safe='')}"
    )
    return web.FileResponse(
        str(attachment["stored_path"]),
        headers={
            **_HEADERS,
            "Content-Type": mime if inline else "application/octet-stream",
            "Content-Disposition": disposition,
        },
    )
