"""Files a web chat visitor attaches: uploaded over HTTP, then named in a message frame.

    POST /upload   the file's bytes as the body; same origin and the visitor's cookie
                   only. Answers {"file": "<sha256>", "size": n}; 413 over the limit.

A message frame then names it: `"files": [{"file": "<sha256>", "name": "...", "mime":
"..."}]` (at most `MAX_FILES`). Files live under a folder of the visitor's own (a hash of
their cookie), by content hash, 0600: a frame can only name a file its visitor uploaded,
and the same bytes uploaded twice are one file. The name and type the page gives are
metadata only (`safe_name`; the console shows only common picture types inline).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Mapping
from pathlib import Path

from aiohttp import web

from channels.attachment_store import safe_name
from core.contracts import Attachment, AttachmentKind
from core.files import write_once

__all__ = ["MAX_FILES", "BadFile", "WebUploads"]

MAX_FILES = 5
_DIGEST = re.compile(r"[0-9a-f]{64}")
_MIME = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}")


class BadFile(Exception):
    """A frame's `files` entry that names no upload of this visitor, or says it badly."""


class WebUploads:
    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes

    async def receive(self, request: web.Request, visitor: str) -> web.Response:
        """Keep the body as the visitor's file; the answer names it for a message frame."""
        if request.content_length is not None and request.content_length > self.max_bytes:
            raise web.HTTPRequestEntityTooLarge(
                max_size=self.max_bytes, actual_size=request.content_length
            )
        data = bytearray()
        async for chunk in request.content.iter_chunked(64 * 1024):
            data += chunk
            if len(data) > self.max_bytes:  # a chunked body says no length up front
                raise web.HTTPRequestEntityTooLarge(max_size=self.max_bytes, actual_size=len(data))
        if not data:
            raise web.HTTPBadRequest(text="the file is empty")
        digest = hashlib.sha256(data).hexdigest()
        if not await asyncio.to_thread(write_once, self._path(visitor, digest), bytes(data)):
            raise web.HTTPServiceUnavailable(text="the file could not be kept; try again")
        return web.json_response({"file": digest, "size": len(data)})

    def attachment(self, visitor: str, entry: object, index: int) -> Attachment:
        """The attachment a frame's `files` entry names; `BadFile` saying why not."""
        if not isinstance(entry, Mapping):
            raise BadFile("each of `files` must be an object")
        digest, name, mime = entry.get("file"), entry.get("name"), entry.get("mime")
        if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
            raise BadFile("`file` must be what /upload answered")
        if name is not None and not isinstance(name, str):
            raise BadFile("`name` must be a string")
        mime = mime.lower() if isinstance(mime, str) and _MIME.fullmatch(mime.lower()) else None
        path = self._path(visitor, digest)
        if not path.is_file():
            raise BadFile("no such upload: send the file again")
        return Attachment(
            AttachmentKind.PHOTO if (mime or "").startswith("image/") else AttachmentKind.DOCUMENT,
            file_id=digest,
            name=safe_name(name, mime or "", index),
            size=path.stat().st_size,
            mime=mime or "application/octet-stream",
            stored_path=str(path),
        )

    def _path(self, visitor: str, digest: str) -> Path:
        folder = hashlib.sha256(visitor.encode()).hexdigest()[:32]
        return self.directory / folder / digest
