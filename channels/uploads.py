"""Files a page attaches to a message: uploaded over HTTP first, then named in the message.

The web chat (a visitor) and the operator console (an operator) both work this way: the
page posts a file's bytes (`receive`: answers {"file": "<sha256>", "size": n}, 413 over
the limit), then its message names it: `"files": [{"file": "<sha256>", "name": "...",
"mime": "..."}]` (at most `MAX_FILES`). Files live under a folder of their uploader's
own (a hash of who they are), by content hash, 0600: a message can only name a file its
own author uploaded, and the same bytes uploaded twice are one file. The name and type
the page gives are metadata only (`safe_name`; the console shows only common picture
types inline).

A message that names an upload links it into the kept files (`<kept>/<sha[:2]>/<sha>`),
where it stays with the message; the upload itself is removed a day after it was last
sent up (`sweep`), so files picked and never sent do not fill the disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import hashlib
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path

from aiohttp import web

from channels.attachment_store import safe_name
from core.contracts import Attachment, AttachmentKind
from core.files import write_once

__all__ = ["MAX_FILES", "UNSENT_KEPT", "BadFile", "Uploads"]

MAX_FILES = 5
UNSENT_KEPT = dt.timedelta(days=1)
"""How long an upload waits for a message to name it (`Uploads.sweep`)."""
_DIGEST = re.compile(r"[0-9a-f]{64}")
_MIME = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}")


class BadFile(Exception):
    """A message's `files` that name no upload of its author, or say it badly."""


class Uploads:
    def __init__(self, directory: Path, kept: Path, max_bytes: int) -> None:
        """`directory`: uploads not sent yet; `kept`: the files messages named, which stay."""
        self.directory = directory
        self.kept = kept
        self.max_bytes = max_bytes

    async def receive(self, request: web.Request, owner: str) -> web.Response:
        """Keep the body as `owner`'s file; the answer names it for a message."""
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
        if not await asyncio.to_thread(_fresh, self._path(owner, digest), bytes(data)):
            raise web.HTTPServiceUnavailable(text="the file could not be kept; try again")
        return web.json_response({"file": digest, "size": len(data)})

    def attachments(self, owner: str, files: object) -> tuple[Attachment, ...]:
        """The uploads of `owner` a message's `files` names; `BadFile` saying why not."""
        if not files:
            return ()
        if not isinstance(files, list) or len(files) > MAX_FILES:
            raise BadFile(f"`files` must list at most {MAX_FILES} uploads")
        named = [self._attachment(owner, entry, n) for n, entry in enumerate(files, 1)]
        return tuple(self._keep(attachment) for attachment in named)

    def _attachment(self, owner: str, entry: object, index: int) -> Attachment:
        if not isinstance(entry, Mapping):
            raise BadFile("each of `files` must be an object")
        digest, name, mime = entry.get("file"), entry.get("name"), entry.get("mime")
        if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
            raise BadFile("`file` must be what /upload answered")
        if name is not None and not isinstance(name, str):
            raise BadFile("`name` must be a string")
        mime = mime.lower() if isinstance(mime, str) and _MIME.fullmatch(mime.lower()) else None
        path = self._path(owner, digest)
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

    def sweep(self) -> int:
        """Remove the uploads last sent up more than `UNSENT_KEPT` ago (a file a message
        named stays among the kept ones), and the folders left empty; how many files."""
        oldest = time.time() - UNSENT_KEPT.total_seconds()
        return sum(_empty(folder, oldest) for folder in self.directory.glob("*"))

    def discard(self, owner: str) -> int:
        """Remove every upload of `owner` not sent yet (a forgotten client's); how many."""
        return _empty(self._folder(owner), None)

    def _folder(self, owner: str) -> Path:
        return self.directory / hashlib.sha256(owner.encode()).hexdigest()[:32]

    def _path(self, owner: str, digest: str) -> Path:
        return self._folder(owner) / digest

    def _keep(self, attachment: Attachment) -> Attachment:
        """`attachment` naming its kept file: a second name for the upload's bytes (a copy
        across file systems), so that sweeping the upload leaves the message its file."""
        upload, digest = Path(attachment.stored_path or ""), attachment.file_id or ""
        kept = self.kept / digest[:2] / digest
        try:
            kept.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.link(upload, kept)
        except FileExistsError:
            pass
        except FileNotFoundError:
            raise BadFile("no such upload: send the file again") from None
        except OSError:  # no hard links here: a copy
            try:
                copied = write_once(kept, upload.read_bytes())
            except OSError:
                copied = False
            if not copied:
                raise BadFile("the file could not be kept; send it again") from None
        return dataclasses.replace(attachment, stored_path=str(kept))


def _fresh(path: Path, data: bytes) -> bool:
    """Write an upload once; sent up again, it waits a full `UNSENT_KEPT` again."""
    if not write_once(path, data):
        return False
    with contextlib.suppress(OSError):
        os.utime(path)
    return True


def _empty(folder: Path, older_than: float | None) -> int:
    """Remove the files in `folder` (only those last changed before `older_than`, when
    given), then the folder if nothing is left; how many files went."""
    if not folder.is_dir():
        return 0
    removed = 0
    for file in folder.iterdir():
        with contextlib.suppress(FileNotFoundError):
            if older_than is None or file.stat().st_mtime < older_than:
                file.unlink()
                removed += 1
    with contextlib.suppress(OSError):  # only an empty folder goes
        folder.rmdir()
    return removed
