"""A VK client's files, downloaded by the links in their message (`channels.client_files`
says why and when). VK's links expire; the bytes kept here do not.

Links are fetched over HTTPS only, or from the API base the desk configured (a proxy, a
test server); a file is read at most up to the store's limit, since a photo's size is not
told up front.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import aiohttp
from vkbottle import AiohttpClient

from channels.attachment_store import AttachmentStore
from channels.client_files import ClientFiles, FileUnavailable
from core.contracts import Attachment

__all__ = ["vk_client_files"]

_CHUNK = 64 * 1024


def vk_client_files(
    http: AiohttpClient, store: AttachmentStore, *, api_base: str | None
) -> ClientFiles:
    trusted = _origin(api_base) if api_base else None

    def reachable(attachment: Attachment) -> bool:
        url = attachment.url
        return url is not None and (url.startswith("https://") or _origin(url) == trusted)

    async def download(attachment: Attachment) -> bytes:
        assert attachment.url is not None
        data = bytearray()
        try:
            async with http.request(attachment.url, method="GET") as response:
                if response.status >= 400:
                    raise FileUnavailable(f"HTTP {response.status}")
                async for chunk in response.content.iter_chunked(_CHUNK):
                    data += chunk
                    if len(data) > store.max_bytes:
                        raise FileUnavailable(f"larger than {store.max_bytes} bytes")
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise FileUnavailable(str(error) or type(error).__name__) from error
        return bytes(data)

    return ClientFiles(download, reachable, store)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname or "", parts.port
