"""Files from our disk as VK attachments, the way VK documents it for community messages.

`messages.send` takes only references to files VK already holds (`photo-1_2_key`), so a
file that exists only here (an operator's photo, an email attachment) is uploaded first:
ask for an upload server for the dialog, POST the file to it, save what it returns. VK's
photo server takes JPEG, PNG and GIF only; anything else goes as a document.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp
from vkbottle import API, AiohttpClient

from channels.kept_files import KeptFile
from channels.vk.inbound import attachment_reference
from core.contracts import DeliveryError, DeliveryFault

__all__ = ["PHOTO_TYPES", "upload"]

PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/gif"})
"""What VK's photo server takes; other pictures go as documents."""


async def upload(
    api: API, http: AiohttpClient, peer_id: int, file: KeptFile, *, as_photo: bool
) -> str:
    """Upload `file` for the dialog with `peer_id`; return the reference for `messages.send`.
    VK API errors and unavailable servers propagate for the caller's retry policy."""
    if as_photo:
        server = await api.request("photos.getMessagesUploadServer", {"peer_id": peer_id})
        sent = await _post(http, _field(server, "response", "upload_url"), "photo", file)
        if sent.get("photo") in (None, "", "[]"):
            raise DeliveryError(
                f"VK could not read {file.name!r} as a photo",
                permanent=True,
                fault=DeliveryFault.FILE,
            )
        saved = await api.request(
            "photos.saveMessagesPhoto",
            {"photo": sent["photo"], "server": sent.get("server"), "hash": sent.get("hash")},
        )
        kind, body = "photo", _field(saved, "response", 0)
    else:
        server = await api.request(
            "docs.getMessagesUploadServer", {"type": "doc", "peer_id": peer_id}
        )
        sent = await _post(http, _field(server, "response", "upload_url"), "file", file)
        saved = await api.request("docs.save", {"file": _field(sent, "file"), "title": file.name})
        kind = str(_field(saved, "response", "type"))
        body = _field(saved, "response", kind)
    reference = attachment_reference(kind, body) if isinstance(body, Mapping) else None
    if reference is None:
        raise DeliveryError(f"VK saved {file.name!r} but returned no {kind} id")
    return reference


async def _post(http: AiohttpClient, url: str, field: str, file: KeptFile) -> Mapping[str, Any]:
    """POST the file as multipart; a 5xx raises `aiohttp.ClientResponseError` (retried),
    a refusal raises a permanent `DeliveryError`."""
    form = aiohttp.FormData(quote_fields=False)  # a raw UTF-8 file name, as browsers send
    form.add_field(field, file.content, filename=file.name, content_type=file.mime)
    async with http.request(url, method="POST", data=form) as response:  # type: ignore[arg-type]
        if response.status >= 500:
            response.raise_for_status()
        try:
            answer = await response.json(content_type=None)
        except ValueError:
            answer = None
        status = response.status
    if status >= 400 or not isinstance(answer, Mapping) or "error" in answer:
        detail = answer.get("error") if isinstance(answer, Mapping) else f"HTTP {status}"
        raise DeliveryError(
            f"VK refused the upload of {file.name!r}: {detail}",
            permanent=True,
            fault=DeliveryFault.FILE,
        )
    return answer


def _field(answer: Any, *path: str | int) -> Any:
    """A value deep in a VK answer; a missing one means VK answered something unexpected."""
    value = answer
    for step in path:
        try:
            value = value[step]
        except (KeyError, IndexError, TypeError):
            raise DeliveryError(
                f"unexpected VK answer while uploading: {str(answer)[:200]}"
            ) from None
    return value
