"""A local VK API server for tests: the methods a community bot uses and the Bots Long
Poll endpoint with VK's `ts`/`failed` semantics, error injection, and a record of what
the bot sent.

Calls arrive as vkbottle sends them: POST `/method/<name>` with `access_token` and `v` in
the query string and the parameters form-encoded (lists comma-joined). Errors are HTTP 200
with an `error` object, as VK does. `messages.send` honours `random_id`: a repeated one
returns the first message's id and sends nothing.

Files go VK's way for community messages: `photos.getMessagesUploadServer` /
`docs.getMessagesUploadServer` give an `upload_url` here (`/upload/...`); a multipart POST
there answers what `photos.saveMessagesPhoto` / `docs.save` take; those answer the saved
objects, whose reference (`photo-777_1_key`) `messages.send` accepts. The photo server,
like VK's, answers `"photo": "[]"` for bytes that are not a JPEG, PNG or GIF. Every file
it holds (saved, or a client's: `host_file`) is served at its link, `/files/<key>/<name>`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import secrets
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

__all__ = ["FakeVk"]

_MESSAGES = {
    5: "User authorization failed: invalid access_token (4).",
    6: "Too many requests per second",
    9: "Flood control",
    10: "Internal server error",
    100: "One of the parameters specified was missing or invalid",
    121: "Invalid hash",
    901: "Can't send messages for users without permission",
    914: "Message is too long",
}


_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a")


@dataclass(frozen=True)
class Upload:
    """One multipart POST to an upload server, as received."""

    server: str  # "photo" or "doc"
    peer_id: int
    field: str
    filename: str | None
    content_type: str
    content: bytes


@dataclass
class _Fault:
    code: int = 0  # VK error code
    status: int = 200  # HTTP status (5xx: an HTML page instead of JSON)
    stall: float = 0.0
    failed: int = 0  # long poll: {"failed": n}


class FakeVk:
    def __init__(self, token: str = "vk1.a.fake-community-token", group_id: int = 777) -> None:
        self.token = token
        self.group_id = group_id
        self.calls: list[tuple[str, dict[str, Any], float]] = []
        self.finished: list[str] = []  # the methods whose calls have been handled, in order
        self.sent: list[dict[str, Any]] = []
        self.event_answers: list[dict[str, Any]] = []
        self.activities: list[dict[str, Any]] = []  # messages.setActivity: "typing…"
        self.names: dict[int, tuple[str, str]] = {}
        self.blocked: set[int] = set()
        self.lp_requests = 0
        self.uploads: list[Upload] = []
        self.saved: dict[str, bytes] = {}  # attachment reference -> the bytes uploaded
        self.files: dict[str, bytes] = {}  # link path -> bytes served there
        self.file_fetches: list[str] = []  # link paths asked for, in order
        self._pending: dict[str, tuple[str, bytes]] = {}  # upload token -> (filename, bytes)
        self._item_ids = itertools.count(456239017)
        self._events: list[dict[str, Any]] = []
        self._key = secrets.token_hex(8)
        self._faults: dict[str, deque[_Fault]] = {}
        self._by_random_id: dict[tuple[int, int], tuple[int, int]] = {}
        self._message_ids = itertools.count(1)
        self._conversation_ids: dict[int, itertools.count[int]] = {}
        self._arrived = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/method/{method}", self._method)
        app.router.add_route("*", "/lp/{group}", self._long_poll)
        app.router.add_post("/upload/{server}/{peer}", self._upload)
        app.router.add_get("/files/{key}/{name}", self._file)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/method/"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # --- what tests inject ------------------------------------------------------------

    def fail(self, method: str, *, code: int = 0, status: int = 200, times: int = 1) -> None:
        """Next `times` calls of `method` ("lp" for the long poll, "upload" for the upload
        servers) answer VK error `code` or, with a 5xx `status`, an HTML error page."""
        for _ in range(times):
            self._faults.setdefault(method, deque()).append(_Fault(code=code, status=status))

    def stall(self, method: str, seconds: float, *, times: int = 1) -> None:
        for _ in range(times):
            self._faults.setdefault(method, deque()).append(_Fault(stall=seconds))

    def fail_long_poll(self, failed: int) -> None:
        """The next long-poll request answers {"failed": n}; 2 and 3 also expire the key."""
        self._faults.setdefault("lp", deque()).append(_Fault(failed=failed))

    def client_message(
        self,
        user_id: int,
        text: str = "",
        *,
        payload: dict[str, Any] | None = None,
        attachments: list[dict[str, Any]] | None = None,
        ref: str | None = None,
        lang_id: int = 0,
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "date": int(time.time()),
            "from_id": user_id,
            "id": next(self._message_ids),
            "out": 0,
            "peer_id": user_id,
            "text": text,
            "conversation_message_id": self._next_cmid(user_id),
            "fwd_messages": [],
            "important": False,
            "is_hidden": False,
            "attachments": attachments or [],
            "random_id": 0,
        }
        if payload is not None:
            message["payload"] = json.dumps(payload)
        if ref is not None:
            message["ref"] = ref
        client_info = {
            "button_actions": [
                "text",
                "vkpay",
                "open_app",
                "location",
                "open_link",
                "callback",
                "intent_subscribe",
                "intent_unsubscribe",
            ],
            "keyboard": True,
            "inline_keyboard": True,
            "carousel": True,
            "lang_id": lang_id,
        }
        self.push("message_new", {"message": message, "client_info": client_info})
        return message

    def client_edit(self, message: dict[str, Any], text: str) -> dict[str, Any]:
        edited = dict(message, text=text, update_time=int(time.time()))
        self.push("message_edit", edited)
        return edited

    def client_press(
        self, user_id: int, payload: dict[str, Any], *, conversation_message_id: int
    ) -> str:
        event_id = secrets.token_hex(6)
        self.push(
            "message_event",
            {
                "user_id": user_id,
                "peer_id": user_id,
                "event_id": event_id,
                "payload": payload,
                "conversation_message_id": conversation_message_id,
            },
        )
        return event_id

    def push(self, kind: str, obj: dict[str, Any]) -> None:
        self._events.append(
            {
                "group_id": self.group_id,
                "type": kind,
                "event_id": secrets.token_hex(20),
                "v": "5.199",
                "object": obj,
            }
        )
        self._arrived.set()

    def host_file(self, name: str, content: bytes) -> str:
        """A link VK would give for a file it holds (a client's photo, a saved upload)."""
        path = f"/files/{secrets.token_hex(6)}/{name}"
        self.files[path] = content
        return f"{self.base_url}{path}"

    def texts_to(self, peer_id: int) -> list[str]:
        return [m["message"] for m in self.sent if m["peer_id"] == peer_id]

    def calls_of(self, method: str) -> list[tuple[str, dict[str, Any], float]]:
        return [c for c in self.calls if c[0] == method]

    # --- the API ------------------------------------------------------------------

    async def _method(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            return await self._answer(method, request)
        finally:
            self.finished.append(method)  # answered, or the client gave up waiting

    async def _answer(self, method: str, request: web.Request) -> web.Response:
        params: dict[str, Any] = dict(await request.post())
        self.calls.append((method, params, time.monotonic()))
        if request.query.get("access_token") != self.token:
            return _error(5, params)
        fault = self._take_fault(method)
        if fault is not None:
            if fault.stall:
                await asyncio.sleep(fault.stall)
            elif fault.status >= 500:
                return _error_page(fault.status)
            elif fault.code:
                return _error(fault.code, params)
        handler = getattr(self, "_m_" + method.replace(".", "_").lower(), None)
        if handler is None:
            return _error(3, params, "Unknown method passed")
        try:
            return web.json_response({"response": handler(params)})
        except _VkError as exc:
            return _error(exc.code, params)

    def _m_groups_getbyid(self, params: dict[str, Any]) -> dict[str, Any]:
        group = {
            "id": self.group_id,
            "name": "Банк «Пример»",
            "is_closed": 0,
            "type": "group",
            "screen_name": f"club{self.group_id}",
        }
        return {"groups": [group], "profiles": []}

    def _m_groups_getlongpollserver(self, params: dict[str, Any]) -> dict[str, Any]:
        if int(params.get("group_id", 0)) != self.group_id:
            raise _VkError(100)
        return {
            "key": self._key,
            "server": f"{self.base_url}/lp/{self.group_id}",
            "ts": str(len(self._events)),
        }

    def _m_users_get(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        users = []
        for raw in str(params.get("user_ids", "")).split(","):
            if raw.strip():
                user_id = int(raw)
                first, last = self.names.get(user_id, ("Пётр", f"Петров{user_id}"))
                users.append(
                    {
                        "id": user_id,
                        "first_name": first,
                        "last_name": last,
                        "can_access_closed": True,
                        "is_closed": False,
                    }
                )
        return users

    def _m_messages_send(self, params: dict[str, Any]) -> int | list[dict[str, int]]:
        """`peer_id` answers the message id; `peer_ids` a list with conversation ids."""
        if params.get("peer_ids"):
            answers = []
            for raw in str(params["peer_ids"]).split(","):
                message_id, cmid = self._send_one(int(raw), params)
                answers.append(
                    {"peer_id": int(raw), "message_id": message_id, "conversation_message_id": cmid}
                )
            return answers
        return self._send_one(int(params.get("peer_id", 0)), params)[0]

    def _send_one(self, peer_id: int, params: dict[str, Any]) -> tuple[int, int]:
        random_id = int(params.get("random_id", 0))
        text = params.get("message", "")
        if not peer_id or not (text or params.get("attachment")):
            raise _VkError(100)
        if len(text) > 4096:
            raise _VkError(914)
        if peer_id in self.blocked:
            raise _VkError(901)
        if random_id and (peer_id, random_id) in self._by_random_id:
            return self._by_random_id[(peer_id, random_id)]
        sent = (next(self._message_ids), self._next_cmid(peer_id))
        if random_id:
            self._by_random_id[(peer_id, random_id)] = sent
        keyboard = json.loads(params["keyboard"]) if params.get("keyboard") else None
        self.sent.append(
            {
                "peer_id": peer_id,
                "message": text,
                "random_id": random_id,
                "keyboard": keyboard,
                "attachment": params.get("attachment"),
                "message_id": sent[0],
                "conversation_message_id": sent[1],
            }
        )
        return sent

    def _m_photos_getmessagesuploadserver(self, params: dict[str, Any]) -> dict[str, Any]:
        peer_id = int(params.get("peer_id") or 0)
        if not peer_id:
            raise _VkError(100)
        return {
            "upload_url": f"{self.base_url}/upload/photo/{peer_id}",
            "album_id": -3,
            "user_id": 0,
            "group_id": self.group_id,
        }

    def _m_docs_getmessagesuploadserver(self, params: dict[str, Any]) -> dict[str, Any]:
        peer_id = int(params.get("peer_id") or 0)
        if not peer_id or params.get("type", "doc") not in ("doc", "audio_message", "graffiti"):
            raise _VkError(100)
        return {"upload_url": f"{self.base_url}/upload/doc/{peer_id}"}

    def _m_photos_savemessagesphoto(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            [uploaded] = json.loads(params.get("photo") or "[]")
            name, content = self._pending.pop(uploaded["photo"])
        except (ValueError, KeyError, TypeError):
            raise _VkError(100) from None
        if params.get("hash") != _hash(content) or str(params.get("server")) != "836536":
            raise _VkError(121)
        photo = {
            "album_id": -3,
            "date": int(time.time()),
            "id": next(self._item_ids),
            "owner_id": -self.group_id,
            "access_key": secrets.token_hex(9),
            "sizes": [
                {"type": "x", "width": 604, "height": 403, "url": self.host_file(name, content)}
            ],
            "text": "",
            "has_tags": False,
        }
        self.saved[f"photo{photo['owner_id']}_{photo['id']}_{photo['access_key']}"] = content
        return [photo]

    def _m_docs_save(self, params: dict[str, Any]) -> dict[str, Any]:
        token = str(params.get("file") or "")
        if token not in self._pending:
            raise _VkError(100)
        name, content = self._pending.pop(token)
        title = str(params.get("title") or name)
        doc = {
            "id": next(self._item_ids),
            "owner_id": -self.group_id,
            "title": title,
            "size": len(content),
            "ext": title.rpartition(".")[2],
            "date": int(time.time()),
            "type": 1,
            "url": self.host_file(name, content),
        }
        self.saved[f"doc{doc['owner_id']}_{doc['id']}"] = content
        return {"type": "doc", "doc": doc}

    async def _upload(self, request: web.Request) -> web.Response:
        server, peer_id = request.match_info["server"], int(request.match_info["peer"])
        fault = self._take_fault("upload")
        if fault is not None and fault.status >= 500:
            return _error_page(fault.status)
        field = "photo" if server == "photo" else "file"
        form = await request.post()
        part = form.get(field)
        if not isinstance(part, web.FileField):
            return web.json_response({"error": "no_file", "error_descr": f"no {field} field"})
        content = part.file.read()
        self.uploads.append(
            Upload(server, peer_id, field, part.filename, part.content_type, content)
        )
        token = secrets.token_hex(16)
        self._pending[token] = (part.filename or "file", content)
        if server == "doc":
            return web.json_response({"file": token})
        photo = (
            json.dumps(
                [
                    {
                        "markers_restarted": True,
                        "photo": token,
                        "sizes": [],
                        "latitude": 0,
                        "longitude": 0,
                        "kid": secrets.token_hex(16),
                    }
                ]
            )
            if content.startswith(_IMAGE_MAGIC)
            else "[]"
        )
        return web.json_response({"server": 836536, "photo": photo, "hash": _hash(content)})

    async def _file(self, request: web.Request) -> web.Response:
        self.file_fetches.append(request.path)
        content = self.files.get(request.path)
        if content is None:
            raise web.HTTPNotFound()
        return web.Response(body=content, content_type="application/octet-stream")

    def _m_messages_setactivity(self, params: dict[str, Any]) -> int:
        if params.get("type") != "typing" or not params.get("peer_id"):
            raise _VkError(100)
        self.activities.append(params)
        return 1

    def _m_messages_sendmessageeventanswer(self, params: dict[str, Any]) -> int:
        self.event_answers.append(params)
        return 1

    async def _long_poll(self, request: web.Request) -> web.Response:
        params = {**request.query, **(await request.post())}
        self.lp_requests += 1
        fault = self._take_fault("lp")
        if fault is not None:
            if fault.failed:
                if fault.failed in (2, 3):
                    self._key = secrets.token_hex(8)
                answer: dict[str, Any] = {"failed": fault.failed}
                if fault.failed == 1:
                    answer["ts"] = str(len(self._events))
                return web.json_response(answer)
            if fault.stall:
                await asyncio.sleep(fault.stall)
            elif fault.status >= 500:
                return _error_page(fault.status)
        if params.get("act") != "a_check" or params.get("key") != self._key:
            return web.json_response({"failed": 2})
        try:
            ts = int(str(params.get("ts", "")))
        except ValueError:
            return web.json_response({"failed": 1, "ts": str(len(self._events))})
        if ts > len(self._events):
            return web.json_response({"failed": 1, "ts": str(len(self._events))})
        deadline = time.monotonic() + min(float(str(params.get("wait") or 25)), 90)
        while len(self._events) <= ts and time.monotonic() < deadline:
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), min(0.5, deadline - time.monotonic()))
        return web.json_response({"ts": str(len(self._events)), "updates": self._events[ts:]})

    def _take_fault(self, method: str) -> _Fault | None:
        faults = self._faults.get(method)
        return faults.popleft() if faults else None

    def _next_cmid(self, peer_id: int) -> int:
        return next(self._conversation_ids.setdefault(peer_id, itertools.count(1)))


class _VkError(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _hash(content: bytes) -> str:
    return hashlib.md5(content).hexdigest()


def _error_page(status: int) -> web.Response:
    return web.Response(
        status=status, text=f"<html><h1>{status} Bad Gateway</h1></html>", content_type="text/html"
    )


def _error(code: int, params: dict[str, Any], message: str | None = None) -> web.Response:
    request_params = [{"key": k, "value": str(v)} for k, v in params.items()]
    return web.json_response(
        {
            "error": {
                "error_code": code,
                "error_msg": message or _MESSAGES.get(code, "Unknown error occurred"),
                "request_params": request_params,
            }
        }
    )
