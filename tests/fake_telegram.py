"""A local Telegram Bot API server for tests: the wire format of the methods we use, with
long polling that really waits, offset confirmation, webhook delivery with retries, error
injection, and a record of everything the bot sent.

Requests are form-encoded (multipart with files) as aiogram sends them: string fields
arrive raw, everything else JSON-encoded, so each field is decoded by its type.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web

__all__ = ["Call", "FakeTelegram"]

# Fields that Bot API clients send as plain strings (never JSON-encoded).
_STRING_FIELDS = frozenset(
    {
        "text",
        "caption",
        "callback_query_id",
        "url",
        "secret_token",
        "file_id",
        "parse_mode",
        "photo",
        "document",
        "inline_message_id",
        "emoji",
        "phone_number",
        "first_name",
        "last_name",
        "ip_address",
        "business_connection_id",
        "message_effect_id",
        "name",
    }
)
_DEFAULT_ALLOWED = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "callback_query",
        "inline_query",
        "my_chat_member",
    }
)


_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float
    status: int = 200


@dataclass
class _Fault:
    status: int
    description: str
    retry_after: int | None = None
    stall: float = 0.0
    raw_body: str | None = None


@dataclass
class _Webhook:
    url: str
    secret: str | None
    allowed: frozenset[str]


class FakeTelegram:
    def __init__(
        self, token: str = "123456:TEST-fake-token", *, username: str = "switchboard_test_bot"
    ) -> None:
        self.token = token
        self.bot_id = int(token.partition(":")[0])
        self.username = username
        self.calls: list[Call] = []
        self.sent: list[dict[str, Any]] = []  # messages the bot sent, in order
        self.callback_answers: list[dict[str, Any]] = []
        self.conflicts = 0  # getUpdates answered 409
        self.webhook_statuses: list[int] = []  # what our webhook answered, in order
        self.blocked: set[int] = set()  # users who blocked the bot (403)
        self.files: dict[str, tuple[str, bytes]] = {}
        self._updates: list[dict[str, Any]] = []  # not yet confirmed
        self._update_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._faults: dict[str, deque[_Fault]] = {}
        self._arrived = asyncio.Event()
        self._poll_generation = 0
        self._allowed = _DEFAULT_ALLOWED
        self._webhook: _Webhook | None = None
        self._pusher: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # --- server lifecycle -------------------------------------------------------------

    async def start(self, port: int = 0) -> str:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{bound}"
        return self.base_url

    async def close(self) -> None:
        if self._pusher is not None:
            self._pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pusher
        if self._runner is not None:
            await self._runner.cleanup()

    # --- what tests inject ------------------------------------------------------------

    def fail(
        self,
        method: str,
        *,
        status: int,
        description: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
        raw_body: str | None = None,
    ) -> None:
        """The next `times` calls of `method` answer `status` (429 with retry_after, 5xx...)."""
        known = {
            429: f"Too Many Requests: retry after {retry_after}",
            403: "Forbidden: bot was blocked by the user",
        }
        text = description or known.get(status, "Bad Gateway")
        for _ in range(times):
            self._faults.setdefault(method, deque()).append(
                _Fault(status, text, retry_after=retry_after, raw_body=raw_body)
            )

    def serve(self, method: str, *, times: int = 1) -> None:
        """The next `times` calls of `method` are served normally (to order faults after them)."""
        for _ in range(times):
            self._faults.setdefault(method, deque()).append(_Fault(200, ""))

    def stall(self, method: str, seconds: float, *, times: int = 1) -> None:
        """The next `times` calls of `method` hang `seconds` before being served."""
        for _ in range(times):
            self._faults.setdefault(method, deque()).append(_Fault(200, "", stall=seconds))

    def user(
        self,
        user_id: int,
        *,
        first_name: str = "Иван",
        last_name: str | None = None,
        language_code: str = "ru",
    ) -> dict[str, Any]:
        user: dict[str, Any] = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "language_code": language_code,
        }
        if last_name:
            user["last_name"] = last_name
        return user

    def client_message(
        self, user_id: int, text: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        """A message from a user in their private chat with the bot, queued as an update."""
        sender = fields.pop("sender", None) or self.user(user_id)
        message: dict[str, Any] = {
            "message_id": self._next_message_id(user_id),
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": sender["first_name"]},
            "from": sender,
            **fields,
        }
        return self.deliver_message(user_id, message, text)

    def deliver_message(
        self, chat_id: int, message: dict[str, Any], text: str | None
    ) -> dict[str, Any]:
        """Add the text (with a bot_command entity, as Telegram marks commands), keep the
        message for edits and replies, and queue it as an update."""
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                command = text.split()[0]
                message["entities"] = [
                    {
                        "type": "bot_command",
                        "offset": 0,
                        "length": len(command.encode("utf-16-le")) // 2,
                    }
                ]
        self._messages[(chat_id, message["message_id"])] = message
        self.push("message", message)
        return message

    def client_photo(
        self,
        user_id: int,
        *,
        caption: str | None = None,
        content: bytes = b"\xff\xd8\xff fake jpeg",
    ) -> dict[str, Any]:
        small, large = (
            self._register_file("photos/small.jpg", content[:8]),
            self._register_file("photos/large.jpg", content),
        )
        sizes = [
            {
                "file_id": small,
                "file_unique_id": small[-8:],
                "width": 90,
                "height": 90,
                "file_size": len(content[:8]),
            },
            {
                "file_id": large,
                "file_unique_id": large[-8:],
                "width": 1280,
                "height": 960,
                "file_size": len(content),
            },
        ]
        extra: dict[str, Any] = {"photo": sizes}
        if caption:
            extra["caption"] = caption
        return self.client_message(user_id, None, **extra)

    def client_document(self, user_id: int, name: str, content: bytes, mime: str) -> dict[str, Any]:
        file_id = self._register_file(f"documents/{name}", content)
        return self.client_message(
            user_id,
            None,
            document={
                "file_id": file_id,
                "file_unique_id": file_id[-8:],
                "file_name": name,
                "mime_type": mime,
                "file_size": len(content),
            },
        )

    def client_edit(self, user_id: int, message_id: int, text: str) -> dict[str, Any]:
        message = dict(self._messages[(user_id, message_id)], text=text, edit_date=int(time.time()))
        self._messages[(user_id, message_id)] = message
        self.push("edited_message", message)
        return message

    def client_contact(self, user_id: int, phone: str, *, owner_id: int | None) -> dict[str, Any]:
        """A shared contact; `owner_id` is the contact's Telegram user (None: not a user)."""
        contact: dict[str, Any] = {"phone_number": phone, "first_name": "Иван"}
        if owner_id is not None:
            contact["user_id"] = owner_id
        return self.client_message(user_id, None, contact=contact)

    def client_press(self, user_id: int, data: str, *, message_id: int) -> dict[str, Any]:
        """The user pressed an inline button with callback `data` under a bot message."""
        message = self._messages.get((user_id, message_id)) or {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private"},
        }
        query = {
            "id": f"{user_id}{next(self._update_ids)}",
            "from": self.user(user_id),
            "chat_instance": str(user_id),
            "message": message,
            "data": data,
        }
        self.push("callback_query", query)
        return query

    def push(self, kind: str, payload: dict[str, Any]) -> int:
        update_id = next(self._update_ids)
        self._updates.append({"update_id": update_id, kind: payload})
        self._arrived.set()
        return update_id

    # --- what tests read ------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Updates not yet confirmed by the bot."""
        return len(self._updates)

    def texts_to(self, chat_id: int) -> list[str]:
        return [m["text"] for m in self.sent if m["chat"]["id"] == chat_id and "text" in m]

    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    # --- the API ------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        params = await _params(request)
        call = Call(method, params, time.monotonic())
        self.calls.append(call)
        faults = self._faults.get(method)
        if faults:
            fault = faults.popleft()
            if fault.stall:
                await asyncio.sleep(fault.stall)
            elif fault.status != 200:
                call.status = fault.status
                if fault.raw_body is not None:
                    return web.Response(status=fault.status, text=fault.raw_body)
                return _error(fault.status, fault.description, retry_after=fault.retry_after)
        handler = getattr(self, f"_m_{method.lower()}", None)
        if handler is None:
            call.status = 404
            return _error(404, "Not Found")
        try:
            result = await handler(params)
        except _ApiError as exc:
            call.status = exc.status
            return _error(exc.status, exc.description)
        return web.json_response({"ok": True, "result": result})

    async def _m_getme(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Switchboard",
            "username": self.username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _m_getupdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self._webhook is not None:
            raise _ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        self._poll_generation += 1
        generation = self._poll_generation
        if "allowed_updates" in params:
            self._allowed = frozenset(params["allowed_updates"]) or _DEFAULT_ALLOWED
        offset = int(params.get("offset") or 0)
        if offset > 0:
            confirmed = 0  # updates are kept in id order: the confirmed ones lead
            while confirmed < len(self._updates) and self._updates[confirmed]["update_id"] < offset:
                confirmed += 1
            del self._updates[:confirmed]
        limit = max(1, min(100, int(params.get("limit") or 100)))
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        while True:
            if generation != self._poll_generation:
                self.conflicts += 1
                raise _ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            ready = list(
                itertools.islice((u for u in self._updates if _kind(u) in self._allowed), limit)
            )
            remaining = deadline - time.monotonic()
            if ready or remaining <= 0:
                return ready
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), min(remaining, 0.5))

    async def _m_sendmessage(self, params: dict[str, Any]) -> dict[str, Any]:
        text = params.get("text") or ""
        if not text.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if len(text.encode("utf-16-le")) // 2 > 4096:
            raise _ApiError(400, "Bad Request: message is too long")
        return self._bot_message(params, text=text)

    async def _m_sendphoto(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = self._stored_upload(params.get("photo"), "photos/upload.jpg")
        return self._bot_message(
            params,
            photo=[
                {"file_id": file_id, "file_unique_id": file_id[-8:], "width": 800, "height": 600}
            ],
        )

    async def _m_senddocument(self, params: dict[str, Any]) -> dict[str, Any]:
        upload = params.get("document")
        name = upload["filename"] if isinstance(upload, dict) else "document"
        file_id = self._stored_upload(upload, f"documents/{name}")
        return self._bot_message(
            params, document={"file_id": file_id, "file_unique_id": file_id[-8:], "file_name": name}
        )

    async def _m_sendchataction(self, params: dict[str, Any]) -> bool:
        if params.get("action") not in _CHAT_ACTIONS or not params.get("chat_id"):
            raise _ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    async def _m_editmessagetext(self, params: dict[str, Any]) -> dict[str, Any]:
        key = (int(params.get("chat_id") or 0), int(params.get("message_id") or 0))
        message = self._messages.get(key)
        if message is None:
            raise _ApiError(400, "Bad Request: message to edit not found")
        if message.get("text") == params.get("text") and "reply_markup" not in params:
            raise _ApiError(400, "Bad Request: message is not modified")
        message.update(text=params.get("text"), edit_date=int(time.time()))
        if "reply_markup" in params:
            message["reply_markup"] = params["reply_markup"]
        return message

    async def _m_deletemessage(self, params: dict[str, Any]) -> bool:
        """A bot deletes its own messages, and a user's in their private chat, within 48 hours."""
        key = (int(params.get("chat_id") or 0), int(params.get("message_id") or 0))
        message = self._messages.get(key)
        if message is None:
            raise _ApiError(400, "Bad Request: message to delete not found")
        if time.time() - message["date"] > 48 * 3600:
            raise _ApiError(400, "Bad Request: message can't be deleted")
        del self._messages[key]
        return True

    def holds(self, chat_id: int, message_id: int) -> bool:
        """The message is still in the chat (not deleted)."""
        return (chat_id, message_id) in self._messages

    async def _m_answercallbackquery(self, params: dict[str, Any]) -> bool:
        self.callback_answers.append(params)
        return True

    async def _m_getfile(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = params.get("file_id", "")
        if file_id not in self.files:
            raise _ApiError(400, "Bad Request: invalid file_id")
        path, content = self.files[file_id]
        if len(content) > 20 * 1024 * 1024:  # the Bot API's download limit
            raise _ApiError(400, "Bad Request: file is too big")
        return {
            "file_id": file_id,
            "file_unique_id": file_id[-8:],
            "file_size": len(content),
            "file_path": path,
        }

    async def _m_setwebhook(self, params: dict[str, Any]) -> bool:
        url = params.get("url") or ""
        if not url:
            return await self._m_deletewebhook(params)
        if params.get("drop_pending_updates"):
            self._updates.clear()
        allowed = frozenset(params.get("allowed_updates") or ()) or _DEFAULT_ALLOWED
        self._webhook = _Webhook(url, params.get("secret_token"), allowed)
        self._allowed = allowed
        self._poll_generation += 1  # a waiting getUpdates ends with 409
        if self._pusher is None or self._pusher.done():
            self._pusher = asyncio.create_task(self._push_webhook())
        return True

    async def _m_deletewebhook(self, params: dict[str, Any]) -> bool:
        self._webhook = None
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _m_getwebhookinfo(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": self._webhook.url if self._webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    async def _file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        for path, content in self.files.values():
            if path == request.match_info["path"]:
                return web.Response(body=content)
        return web.Response(status=404)

    # --- webhook delivery, as Telegram does it: in order, retried until 2xx ------------

    async def _push_webhook(self) -> None:
        timeout = ClientTimeout(total=10)
        async with ClientSession(timeout=timeout) as http:
            while self._webhook is not None:
                hook = self._webhook
                ready = [u for u in self._updates if _kind(u) in hook.allowed]
                if not ready:
                    self._arrived.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._arrived.wait(), 0.5)
                    continue
                update = ready[0]
                headers = {"X-Telegram-Bot-Api-Secret-Token": hook.secret} if hook.secret else {}
                try:
                    async with http.post(hook.url, json=update, headers=headers) as response:
                        status = response.status
                except (TimeoutError, OSError):
                    status = 0
                self.webhook_statuses.append(status)
                if 200 <= status < 300:
                    self._updates.remove(update)
                else:
                    await asyncio.sleep(0.2)

    # --- internals ----------------------------------------------------------------

    def _next_message_id(self, chat_id: int) -> int:
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def _bot_message(self, params: dict[str, Any], **content: Any) -> dict[str, Any]:
        chat_id = params.get("chat_id")
        if not isinstance(chat_id, int):
            raise _ApiError(400, "Bad Request: chat not found")
        if chat_id in self.blocked:
            raise _ApiError(403, "Forbidden: bot was blocked by the user")
        markup = params.get("reply_markup")
        if markup is not None and not isinstance(markup, dict):
            raise _ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat_id),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            "from": {
                "id": self.bot_id,
                "is_bot": True,
                "first_name": "Switchboard",
                "username": self.username,
            },
            **content,
        }
        if markup is not None and "inline_keyboard" in markup:  # only inline ones come back
            message["reply_markup"] = markup
        if params.get("caption"):
            message["caption"] = params["caption"]
        self._messages[(chat_id, message["message_id"])] = message
        self.sent.append(message)
        return message

    def _register_file(self, path: str, content: bytes) -> str:
        """A new file id, and a file path of its own, as Telegram gives each file."""
        number = len(self.files)
        file_id = f"AgAC{number:04d}{abs(hash(path)) % 10**8:08d}"
        folder, _, name = path.rpartition("/")
        self.files[file_id] = (f"{folder}/file_{number}_{name}", content)
        return file_id

    def _stored_upload(self, upload: Any, path: str) -> str:
        if isinstance(upload, dict):  # multipart file
            return self._register_file(path, upload["content"])
        if isinstance(upload, str) and upload:  # file_id or URL
            return upload if upload in self.files else self._register_file(path, upload.encode())
        raise _ApiError(400, "Bad Request: there is no photo in the request")


class _ApiError(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


def _kind(update: dict[str, Any]) -> str:
    return next(k for k in update if k != "update_id")


def _error(status: int, description: str, *, retry_after: int | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=status)


async def _params(request: web.Request) -> dict[str, Any]:
    raw: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            return {**raw, **(await request.json())}
        form = await request.post()
        for name, value in form.items():
            if isinstance(value, web.FileField):
                raw[name] = {"filename": value.filename, "content": value.file.read()}
            else:
                raw[name] = value
    for name, value in list(raw.items()):  # aiogram names uploads "attach://<part>"
        if isinstance(value, str) and value.startswith("attach://"):
            raw[name] = raw.pop(value.removeprefix("attach://"), value)
    return {name: _decode(name, value) for name, value in raw.items()}


def _decode(name: str, value: Any) -> Any:
    if not isinstance(value, str) or name in _STRING_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value
