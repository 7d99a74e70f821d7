"""The VK community channel: vkbottle's API client for every call, our own long poll.

vkbottle's polling saves `ts` before the handlers finish, so the loop here asks the Bots
Long Poll server itself (through the API's HTTP client) and moves `ts` past a batch only
after the sink stored every message in it. The position is kept with the poller lease,
so a restarted or replacement process resumes where the last one stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
from vkbottle import API, AiohttpClient, VKAPIError
from vkbottle.api.request_rescheduler import ABCRequestRescheduler

from channels.attachment_store import AttachmentStore
from channels.delivery import (
    Failure,
    RetryPolicy,
    SendRateLimiter,
    nothing_to_send,
    send_with_retries,
)
from channels.kept_files import read_kept_file
from channels.polling import PollerLease, UnsharedLease, read_each, store_all
from channels.text import split_text
from channels.vk.client_files import vk_client_files
from channels.vk.inbound import sender_of, to_inbound
from channels.vk.keyboard import keyboard_json
from channels.vk.upload import PHOTO_TYPES, upload
from core.contracts import (
    Attachment,
    AttachmentKind,
    ChannelKind,
    DeliveryError,
    DeliveryFault,
    DeliveryReceipt,
    InboundMessage,
    InboundSink,
    OutboundMessage,
)
from core.retry import until_done

__all__ = ["TEXT_LIMIT", "VkChannel", "VkUnavailable", "poller_name", "random_id"]

log = logging.getLogger(__name__)

T = TypeVar("T")

TEXT_LIMIT = 4096
_ATTACHMENTS_PER_MESSAGE = 10
_NAMES_CACHED = 10_000
# unknown, too many per second, flood control, internal
_RETRYABLE_CODES = frozenset({1, 6, 9, 10})
_CONFIGURATION_CODES = frozenset({5, 15, 27, 28})  # token or access: fixable, not by retrying
_RECIPIENT_CODES = frozenset({7, 18, 900, 901, 902, 917})
"""The client cannot be written to: denied, deleted, blacklisted us, no permission, privacy
settings, no access to the chat."""
_VK_REFERENCE = re.compile(r"(photo|doc|audio_message|audio|video|wall|market)-?\d+_\d+(_\w+)?")


def poller_name(group_id: int) -> str:
    return f"vk:{group_id}"


def random_id(outbound_id: int, piece: int) -> int:
    """VK drops a second `messages.send` with the same random_id, so a retried or resent
    piece of one outbound message is never delivered twice. 64 pieces per message."""
    return ((outbound_id << 6) | (piece & 0x3F)) & 0x7FFFFFFF


class VkUnavailable(Exception):
    """VK answered something that is not JSON (an error page, a 5xx)."""


class _FailFast(ABCRequestRescheduler):
    """vkbottle's default rescheduler retries a non-JSON answer forever, blocking the caller;
    failing lets our retry policy decide."""

    async def reschedule(
        self, ctx_api: Any, method: str, data: dict[str, Any], recent_response: Any
    ) -> dict[str, Any]:
        raise VkUnavailable(f"{method}: VK answered {str(recent_response)[:200]!r}")


@dataclass(frozen=True, slots=True)
class _Server:
    url: str
    key: str
    ts: str


class VkChannel:
    kind = ChannelKind.VK

    def __init__(
        self,
        token: str,
        group_id: int,
        *,
        api_base: str | None = None,
        lease: PollerLease | None = None,
        wait: int = 25,
        request_timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        limiter: SendRateLimiter | None = None,
        files: AttachmentStore | None = None,
    ) -> None:
        """`files`: where the bytes of clients' files are kept (channels/client_files.py);
        None keeps their metadata and VK links only."""
        self._http = AiohttpClient(timeout=aiohttp.ClientTimeout(total=request_timeout))
        self._api = API(token, http_client=self._http, request_rescheduler=_FailFast())
        if api_base:
            base = api_base.rstrip("/")
            self._api.API_URL = base + "/" if base.endswith("/method") else base + "/method/"
        self._group_id = group_id
        self._lease = lease or UnsharedLease()
        self._wait = wait
        self._request_timeout = request_timeout
        self._retry = retry or RetryPolicy()
        # About 20 calls a second per community token.
        self._limiter = limiter or SendRateLimiter(
            per_chat_rate=1.0, per_chat_burst=3, global_rate=20.0, global_burst=20
        )
        self._names: OrderedDict[int, str] = OrderedDict()
        self._files = vk_client_files(self._http, files, api_base=api_base) if files else None

    async def run(self, sink: InboundSink) -> None:
        await self._lease.hold(functools.partial(self._poll, sink))

    async def send(self, message: OutboundMessage) -> DeliveryReceipt:
        try:
            peer_id = int(message.chat_id)
        except ValueError:
            raise DeliveryError(
                f"not a VK peer id: {message.chat_id!r}",
                permanent=True,
                fault=DeliveryFault.RECIPIENT,
            ) from None
        references = [a.file_id for a in message.attachments if _is_vk_reference(a.file_id)]
        local = [
            a for a in message.attachments if a.stored_path and not _is_vk_reference(a.file_id)
        ]
        links = [
            a.url
            for a in message.attachments
            if a.url and not a.stored_path and not _is_vk_reference(a.file_id)
        ]
        skipped = len(message.attachments) - len(references) - len(local) - len(links)
        if skipped:
            log.warning(
                "VK: %d attachment(s) of message %s have no VK id, file or link and are not sent",
                skipped,
                message.outbound_id,
            )
        text = "\n".join([message.text, *links]) if links else message.text
        pieces = split_text(text, TEXT_LIMIT)
        if not pieces and not references and not local:
            raise nothing_to_send()
        for attachment in local:
            references.append(await self._upload(message.chat_id, peer_id, attachment))
        batches = [
            references[i : i + _ATTACHMENTS_PER_MESSAGE]
            for i in range(0, len(references), _ATTACHMENTS_PER_MESSAGE)
        ]
        parts = list(itertools.zip_longest(pieces, batches))
        keyboard = keyboard_json(message)
        first: int | None = None
        for index, (piece, batch) in enumerate(parts):
            params: dict[str, Any] = {
                "peer_ids": [peer_id],
                "message": piece or None,
                "attachment": batch,
                "random_id": random_id(message.outbound_id, index),
            }
            if index == len(parts) - 1 and keyboard:
                params["keyboard"] = keyboard
            answer = await self._deliver(
                message.chat_id, functools.partial(self._api.request, "messages.send", params)
            )
            if first is None:
                first = _conversation_message_id(answer)
        return DeliveryReceipt(f"{peer_id}:{first}" if first is not None else None)

    async def typing(self, chat_id: str) -> None:
        """ "typing…" in the client's dialog with the community, for about ten seconds."""
        await self._api.request(
            "messages.setActivity",
            {"peer_id": int(chat_id), "type": "typing", "group_id": self._group_id},
        )

    async def aclose(self) -> None:
        await self._http.close()

    async def _upload(self, chat_id: str, peer_id: int, attachment: Attachment) -> str:
        """Upload a file kept on our disk. A resend after a crash uploads it again, but the
        same random_id keeps VK from delivering the message twice."""
        file = await read_kept_file(attachment)
        as_photo = attachment.kind is AttachmentKind.PHOTO and file.mime in PHOTO_TYPES
        return await self._deliver(
            chat_id,
            functools.partial(upload, self._api, self._http, peer_id, file, as_photo=as_photo),
        )

    async def _poll(self, sink: InboundSink) -> None:
        server = await self._until_done("groups.getLongPollServer", self._long_poll_server)
        ts = await self._lease.load_cursor() or server.ts
        while True:
            answer = await until_done(
                functools.partial(
                    self._http.request_json,
                    server.url,
                    method="POST",
                    data={"act": "a_check", "key": server.key, "ts": ts, "wait": self._wait},
                    timeout=aiohttp.ClientTimeout(total=self._wait + self._request_timeout),
                ),
                retry_on=(aiohttp.ClientError, TimeoutError, ValueError),
                what="VK long poll",
            )
            failed = answer.get("failed")
            if failed == 1:
                log.error(
                    "VK long poll: event history lost before ts %s; continuing from %s",
                    ts,
                    answer.get("ts"),
                )
                ts = str(answer.get("ts"))
                await self._lease.save_cursor(ts)
                continue
            if failed in (2, 3):
                fresh = await self._until_done("groups.getLongPollServer", self._long_poll_server)
                server = _Server(fresh.url, fresh.key, server.ts)
                if failed == 3:
                    log.error("VK long poll: information lost; continuing from ts %s", fresh.ts)
                    ts = fresh.ts
                continue
            updates = [u for u in answer.get("updates") or () if isinstance(u, Mapping)]
            if updates:
                await store_all(sink, await self._read(updates))
                await asyncio.gather(
                    *(self._answer_press(u) for u in updates if u.get("type") == "message_event")
                )
            new_ts = str(answer.get("ts", ts))
            if new_ts != ts:
                ts = new_ts
                await self._lease.save_cursor(ts)

    async def _read(self, updates: list[Mapping[str, Any]]) -> list[InboundMessage]:
        names = await self._display_names(_sender(u) for u in updates)
        messages = read_each(updates, functools.partial(to_inbound, names=names), channel="vk")
        return await self._files.fetch(messages) if self._files else messages

    async def _long_poll_server(self) -> _Server:
        answer = await self._api.request("groups.getLongPollServer", {"group_id": self._group_id})
        body = answer["response"]
        return _Server(str(body["server"]), str(body["key"]), str(body["ts"]))

    async def _display_names(self, user_ids: Iterable[int | None]) -> Mapping[int, str]:
        """Names from `users.get`, cached; a failed look-up only costs the names."""
        wanted = {u for u in user_ids if u is not None}
        missing = sorted(wanted - self._names.keys())
        if missing:
            try:
                answer = await self._api.request("users.get", {"user_ids": missing})
            except (VKAPIError, VkUnavailable, aiohttp.ClientError, TimeoutError) as exc:
                log.warning("VK users.get failed: %s", exc)
            else:
                for user in answer.get("response") or ():
                    name = " ".join(x for x in (user.get("first_name"), user.get("last_name")) if x)
                    self._names[int(user["id"])] = name
                while len(self._names) > _NAMES_CACHED:
                    self._names.popitem(last=False)
        for user_id in wanted & self._names.keys():
            self._names.move_to_end(user_id)
        return {u: self._names[u] for u in wanted if u in self._names}

    async def _answer_press(self, event: Mapping[str, Any]) -> None:
        """Stop the callback button's spinner; failing costs only the spinner."""
        body = event.get("object") or {}
        with contextlib.suppress(VKAPIError, VkUnavailable, aiohttp.ClientError, TimeoutError):
            await self._api.request(
                "messages.sendMessageEventAnswer",
                {
                    "event_id": body.get("event_id"),
                    "user_id": body.get("user_id"),
                    "peer_id": body.get("peer_id"),
                },
            )

    async def _deliver(self, chat_id: str, call: Callable[[], Awaitable[T]]) -> T:
        async def limited() -> T:
            await self._limiter.acquire(chat_id)
            return await call()

        return await send_with_retries(
            limited, _classify, self._retry, what=f"VK send to {chat_id}"
        )

    async def _until_done(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        return await until_done(
            call,
            what=f"VK {what}",
            retry_on=(VKAPIError, VkUnavailable, aiohttp.ClientError, TimeoutError, KeyError),
        )


def _sender(event: Mapping[str, Any]) -> int | None:
    """The update's sender, None when it cannot be read (the update is then skipped)."""
    try:
        return sender_of(event)
    except Exception:  # noqa: BLE001 - read_each logs the update
        return None


def _is_vk_reference(file_id: str | None) -> bool:
    return file_id is not None and _VK_REFERENCE.fullmatch(file_id) is not None


def _conversation_message_id(answer: Mapping[str, Any]) -> int | None:
    sent = answer.get("response")
    if isinstance(sent, list) and sent and isinstance(sent[0], Mapping):
        return sent[0].get("conversation_message_id") or sent[0].get("message_id")
    return sent if isinstance(sent, int) else None


def _classify(exc: Exception) -> Failure | None:
    if isinstance(exc, VKAPIError):
        if exc.code in _RETRYABLE_CODES:
            return Failure(retryable=True)
        if exc.code in _CONFIGURATION_CODES:
            return Failure(retryable=False, fault=DeliveryFault.CONFIGURATION)
        recipient = exc.code in _RECIPIENT_CODES
        fault = DeliveryFault.RECIPIENT if recipient else DeliveryFault.CONTENT
        return Failure(retryable=False, permanent=True, fault=fault)
    if isinstance(exc, (VkUnavailable, aiohttp.ClientError, TimeoutError)):
        return Failure(retryable=True)
    return None
