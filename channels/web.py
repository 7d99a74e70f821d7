"""The web chat channel: a page at `/` and a WebSocket at `/ws`.

A visitor is known by a random id in an HttpOnly cookie, set when the page is first
served; every socket of that browser speaks for the same visitor, and the history
provider replays their conversation when a socket opens, so a reload loses nothing.

The socket speaks JSON text frames:

    client → server  {"type": "message", "id": "<client uuid>", "text": "...",
                      "files": [{"file": "<sha256 from POST /upload>", "name", "mime"}]}
                     {"type": "action", "id": "<uuid>", "action": "handoff|choose|rate",
                      "payload": "..."}
    server → client  {"type": "history", "messages": [item, ...], "prechat": bool,
                      "files": <the largest file /upload takes; 0: none>}
                     {"type": "message", "message": item}
                     {"type": "typing", "author": "operator"}   an operator is writing
                     {"type": "ack", "id": "<client uuid>"}       after the sink stored it,
                     with "text" when the thread keeps another (a card number masked);
                     then, for a message with files, `history` again (the files open now)
                     {"type": "error", "code": "...", "error": "...", "id": ...}

An item is {"id", "author", "text", "buttons": [{"label", "action", "payload"}], "at", ...}.
The page keeps a message until its ack and sends it again after a reconnect; the
platform id `"<visitor>:<client uuid>"` makes the second delivery harmless.

The pre-chat form (`prechat`, a desk setting, off by default): `history` says whether it is
on, and a new visitor's page asks for an optional name and email before the first message,
which carries them as `"intro": {"name": "...", "email": "..."}`. The name becomes the new
client's display name; the email is kept as what the visitor said (`stated_email` in the
message's meta), never as a proof: it makes no email identity and merges with nobody.
With the setting off, an `intro` is ignored.

Files (`channels/uploads.py`): the page uploads a file's bytes to `POST /upload` first,
then names it in a message frame's `files` (the text may then be empty). A file the desk
keeps of a message in the visitor's thread (`"opens": true`) is `GET /files/<n>/<k>`,
the k-th file of message n (the item's `stored_id`), for that visitor only.

Abuse limits (`channels/web_limits.py`): messages, uploads and hand-off presses per visitor
and per network address, sockets per address. A frame over a limit is not stored; the visitor
gets `{"type": "error", "code": "slow_down", "error": <polite text>, "retry_in": s}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import math
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web
from redis.exceptions import RedisError
from yarl import URL

from channels.file_response import file_response
from channels.uploads import BadFile, Uploads
from channels.web_limits import Frame, WebLimits, network_address
from channels.web_relay import FrameRelay
from core.buckets import Buckets
from core.card_numbers import mask_card_numbers
from core.contracts import (
    Action,
    Attachment,
    ChannelKind,
    DeliveryReceipt,
    InboundMessage,
    InboundSink,
    OutboundMessage,
)
from core.history import HistoryItem, history_item_id
from core.numbers import row_id
from core.texts import locale_language, say

__all__ = ["MAX_TEXT", "VISITOR_COOKIE", "WebChat", "same_origin"]

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("web_static")
VISITOR_COOKIE = "sb_visitor"
COOKIE_MAX_AGE = 365 * 24 * 3600
MAX_TEXT = 8000  # characters of one message; the page enforces it too
MAX_FRAME = 1024 * 1024  # above this aiohttp closes the socket (1009, "message too big")
MAX_PAYLOAD = 200
MAX_NAME = 100
MAX_EMAIL = 254
SINK_WAIT = 10.0  # a socket opened while the gateway starts waits this long
CLOSE_WAIT = 2.0
PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
_VISITOR = re.compile(r"[A-Za-z0-9_-]{16,64}")
_CLIENT_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_ACTIONS = {Action.HANDOFF, Action.CHOOSE, Action.RATE, Action.RESOLVED}
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def same_origin(request: web.Request) -> bool:
    """Refuse cross-site WebSocket hijacking and cross-site form posts: a browser always
    sends Origin, and its scheme, host and port must be those the page was served from
    (behind a trusted proxy, the scheme the client used)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    try:
        theirs = URL(origin)
    except ValueError:
        return False
    ours = request.url
    return theirs.host is not None and (theirs.scheme, theirs.host, theirs.port) == (
        ours.scheme,
        ours.host,
        ours.port,
    )


class _BadRequest(Exception):
    def __init__(self, code: str, error: str, client_id: str | None = None) -> None:
        super().__init__(error)
        self.code = code
        self.error = error
        self.client_id = client_id


class WebChat:
    kind = ChannelKind.WEB

    def __init__(
        self,
        history: Callable[[str], Awaitable[list[HistoryItem]]],
        *,
        buckets: Buckets | None = None,
        limits: WebLimits | None = None,
        trusted_proxies: Sequence[str] = (),
        language: str = "ru",
        relay: FrameRelay | None = None,
        prechat: bool = False,
        uploads: Uploads | None = None,
        files: Callable[[str, int], Awaitable[Sequence[Mapping[str, object]] | None]] | None = None,
    ) -> None:
        """`relay`: with several gateway processes, reaches sockets held by the others;
        `prechat`: ask a new visitor for a name and email first (see the module doc);
        `uploads`: where visitors' files go (none: the page offers no attaching);
        `files`: a message's attachments when the visitor may open them (GET /files/…)."""
        self._history = history
        self._uploads = uploads
        self._files = files
        self._prechat = prechat
        self._relay = relay
        self._buckets = buckets
        self._limits = limits or WebLimits()
        self._trusted_proxies = tuple(trusted_proxies)
        self._language = language
        self._per_address: dict[str, int] = {}
        self._sink: InboundSink | None = None
        self._ready = asyncio.Event()
        self._sockets: dict[str, set[web.WebSocketResponse]] = {}
        # A few kilobytes, served from memory: FileResponse would stat and open the file in
        # a worker thread on every visit.
        self._page_body = (STATIC / "index.html").read_bytes()

    def routes(self) -> list[web.AbstractRouteDef]:
        return [
            web.get("/", self._page),
            web.get("/ws", self._socket),
            web.post("/upload", self._upload),
            web.get("/files/{message_id}/{index}", self._file),
            web.static("/static/chat", STATIC),
        ]

    # -- the ChannelAdapter contract ------------------------------------------------------

    async def run(self, sink: InboundSink) -> None:
        """Accept messages until cancelled; then close the sockets so the server can stop."""
        self._sink = sink
        self._ready.set()
        try:
            if self._relay is not None:
                await self._relay.listen(self._broadcast)  # until cancelled
            else:
                await asyncio.Future()
        finally:
            self._ready.clear()
            self._sink = None
            await self.aclose()

    async def send(self, message: OutboundMessage) -> DeliveryReceipt:
        """Push to every open page of the visitor, in whichever process holds it. The message
        is in the history either way, so a visitor with no page open reads it on their next
        visit."""
        item = HistoryItem(
            id=history_item_id(message_id=message.outbound_id),
            author="bot" if message.auto_reply else "operator",
            text=message.text,
            at=dt.datetime.now(dt.UTC),
            buttons=message.buttons,
            attachments=message.attachments,
            stored_id=message.outbound_id,
        )
        await self._everywhere(message.chat_id, {"type": "message", "message": item.as_json()})
        return DeliveryReceipt(platform_message_id=None)

    async def typing(self, chat_id: str) -> None:
        """The visitor's pages show an operator writing, in whichever process holds them."""
        await self._everywhere(chat_id, {"type": "typing", "author": "operator"})

    async def aclose(self) -> None:
        sockets = [ws for group in self._sockets.values() for ws in group]
        await asyncio.gather(
            *(ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown") for ws in sockets),
            return_exceptions=True,
        )

    # -- HTTP -----------------------------------------------------------------------------

    async def _page(self, request: web.Request) -> web.StreamResponse:
        response = web.Response(
            body=self._page_body, content_type="text/html", charset="utf-8", headers=PAGE_HEADERS
        )
        if _visitor(request) is None:
            _remember(response, request, secrets.token_urlsafe(18))
        return response

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        if self._uploads is None:
            raise web.HTTPNotFound(text="this desk takes no files in the web chat")
        if not same_origin(request):
            raise web.HTTPForbidden(text="cross-origin upload refused")
        visitor = _visitor(request)
        if visitor is None:
            raise web.HTTPUnauthorized(text="open the chat page first")
        address = network_address(request, self._trusted_proxies)
        wait = await self._wait(visitor, address, kind="upload")
        if wait:
            language = locale_language(_locale(request.headers.get("Accept-Language")))
            seconds, text = _slow_down(wait, language or self._language)
            raise web.HTTPTooManyRequests(text=text, headers={"Retry-After": str(seconds)})
        return await self._uploads.receive(request, visitor)

    async def _file(self, request: web.Request) -> web.StreamResponse:
        """A file of a message in the visitor's own thread (an operator's, or their own sent
        from another channel); 404 for anything else."""
        visitor = _visitor(request)
        message_id = row_id(request.match_info["message_id"])
        index = row_id(request.match_info["index"])
        if visitor is None or message_id is None or index is None or self._files is None:
            raise web.HTTPNotFound(text="no such file")
        attachments = await self._files(visitor, message_id)
        return file_response(attachments or [], index - 1)

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        if not same_origin(request):
            raise web.HTTPForbidden(text="cross-origin WebSocket refused")
        address = network_address(request, self._trusted_proxies)
        if self._per_address.get(address, 0) >= self._limits.sockets_per_address:
            raise web.HTTPTooManyRequests(text="too many open chats from this address")
        ws = web.WebSocketResponse(heartbeat=25, max_msg_size=MAX_FRAME, timeout=CLOSE_WAIT)
        visitor = _visitor(request)
        if visitor is None:  # cookies cleared since the page loaded: start afresh
            visitor = secrets.token_urlsafe(18)
            _remember(ws, request, visitor)
        self._per_address[address] = self._per_address.get(address, 0) + 1
        try:
            await self._serve(ws, request, visitor, address)
        finally:
            self._per_address[address] -= 1
            if not self._per_address[address]:
                del self._per_address[address]
        return ws

    async def _serve(
        self, ws: web.WebSocketResponse, request: web.Request, visitor: str, address: str
    ) -> None:
        await ws.prepare(request)
        locale = _locale(request.headers.get("Accept-Language"))
        self._sockets.setdefault(visitor, set()).add(ws)
        try:
            await self._replay(ws, visitor)
            async for frame in ws:
                if frame.type is WSMsgType.TEXT:
                    await self._frame(ws, visitor, address, locale, frame.data)
                elif frame.type is WSMsgType.BINARY:
                    await _push(ws, _error("bad_request", "binary frames are not supported"))
        finally:
            group = self._sockets.get(visitor, set())
            group.discard(ws)
            if not group:
                self._sockets.pop(visitor, None)

    async def _replay(self, ws: web.WebSocketResponse, visitor: str) -> None:
        try:
            items = await self._history(visitor)
        except Exception:
            log.exception("web chat history of a visitor could not be read")
            await _push(ws, _error("unavailable", "history is unavailable, try again later"))
            return
        await _push(
            ws,
            {
                "type": "history",
                "messages": [item.as_json() for item in items],
                "prechat": self._prechat,
                "files": self._uploads.max_bytes if self._uploads else 0,
            },
        )

    # -- the socket protocol --------------------------------------------------------------

    async def _frame(
        self, ws: web.WebSocketResponse, visitor: str, address: str, locale: str | None, data: str
    ) -> None:
        try:
            inbound = _inbound(
                data, visitor, locale, address, prechat=self._prechat, uploads=self._uploads
            )
        except _BadRequest as bad:
            await _push(ws, _error(bad.code, bad.error, bad.client_id))
            return
        client_id = inbound.platform_message_id.split(":", 1)[1]
        wait = await self._wait(
            visitor, address, kind="handoff" if inbound.action is Action.HANDOFF else "message"
        )
        if wait:
            seconds, text = _slow_down(wait, locale_language(locale) or self._language)
            await _push(ws, {**_error("slow_down", text, client_id), "retry_in": seconds})
            return
        try:
            sink = await self._wait_for_sink()
            # shielded: a page closing mid-message must not cut the store in half
            await asyncio.shield(sink([inbound]))
        except Exception:
            log.exception("web chat message %s not stored", client_id)
            await _push(
                ws, _error("not_stored", "the message was not stored; send it again", client_id)
            )
            return
        kept = mask_card_numbers(inbound.text)  # as the thread keeps it
        await _push(
            ws, {"type": "ack", "id": client_id, **({"text": kept} if kept != inbound.text else {})}
        )
        if inbound.attachments:  # stored, its files open: every tab reads the thread again
            for socket in list(self._sockets.get(visitor, ())):
                await self._replay(socket, visitor)
        elif inbound.action is None:  # the visitor's other tabs show what this one sent
            echo = HistoryItem(
                id=client_id,
                author="client",
                text=kept,
                at=inbound.sent_at or dt.datetime.now(dt.UTC),
                attachments=inbound.attachments,
            )
            await self._everywhere(visitor, {"type": "message", "message": echo.as_json()}, but=ws)

    async def _wait(self, visitor: str, address: str, *, kind: Frame) -> dt.timedelta:
        """How long the visitor must wait before this frame counts; zero when it may go now.
        Without Redis the limits are open: the bot's answer cap still holds."""
        if self._buckets is None:
            return dt.timedelta(0)
        try:
            return await self._limits.wait(self._buckets, visitor, address, kind=kind)
        except (RedisError, OSError):
            log.warning("web chat limits unavailable (Redis); the frame is let through")
            return dt.timedelta(0)

    async def _wait_for_sink(self) -> InboundSink:
        async with asyncio.timeout(SINK_WAIT):
            while (sink := self._sink) is None:
                await self._ready.wait()
        return sink

    async def _everywhere(
        self, visitor: str, frame: Mapping[str, Any], but: web.WebSocketResponse | None = None
    ) -> None:
        await self._broadcast(visitor, frame, but)
        if self._relay is not None:
            await self._relay.publish(visitor, frame)

    async def _broadcast(
        self, visitor: str, frame: Mapping[str, Any], but: web.WebSocketResponse | None = None
    ) -> None:
        for ws in list(self._sockets.get(visitor, ())):
            if ws is not but:
                await _push(ws, frame)


def _inbound(
    data: str,
    visitor: str,
    locale: str | None,
    address: str,
    *,
    prechat: bool = False,
    uploads: Uploads | None = None,
) -> InboundMessage:
    """Validate one frame into an `InboundMessage`, or raise `_BadRequest` saying why."""
    try:
        request = json.loads(data)
    except (ValueError, RecursionError):  # `[[[[…` nested past the parser's stack
        raise _BadRequest("bad_json", "the frame is not valid JSON") from None
    if not isinstance(request, dict):
        raise _BadRequest("bad_request", "a frame must be a JSON object")
    client_id = request.get("id")
    if not isinstance(client_id, str) or not _CLIENT_ID.fullmatch(client_id):
        raise _BadRequest("bad_request", "`id` must be 1-64 letters, digits, '-', '_' or '.'")
    base = InboundMessage(
        channel=ChannelKind.WEB,
        external_user_id=visitor,
        chat_id=visitor,
        platform_message_id=f"{visitor}:{client_id}",
        locale=locale,
        sent_at=dt.datetime.now(dt.UTC),
        meta={"source": address},
    )
    if prechat and request.get("intro") is not None:
        base = _introduced(base, request["intro"], client_id)
    kind = request.get("type")
    if kind == "message":
        text = request.get("text")
        if not isinstance(text, str):
            raise _BadRequest("bad_request", "`text` must be a string", client_id)
        if len(text) > MAX_TEXT:
            raise _BadRequest(
                "too_long",
                f"the message has {len(text)} characters; the limit is {MAX_TEXT}",
                client_id,
            )
        attachments = _attachments(request.get("files"), uploads, visitor, client_id)
        return replace(base, text=_clean(text), attachments=attachments)
    if kind == "action":
        try:
            action = Action(request.get("action"))
        except ValueError:
            action = None
        if action not in _ACTIONS:
            raise _BadRequest(
                "bad_request", "`action` must be handoff, choose, rate or resolved", client_id
            )
        payload = request.get("payload")
        if payload is not None and (not isinstance(payload, str) or len(payload) > MAX_PAYLOAD):
            raise _BadRequest(
                "bad_request",
                f"`payload` must be a string of at most {MAX_PAYLOAD} characters",
                client_id,
            )
        return replace(base, action=action, payload=_clean(payload) if payload else None)
    raise _BadRequest(
        "unknown_type", f"unknown frame type {kind!r}: expected message or action", client_id
    )


def _attachments(
    files: object, uploads: Uploads | None, visitor: str, client_id: str
) -> tuple[Attachment, ...]:
    """The uploads a message frame's `files` names, or `_BadRequest` saying why not."""
    if files and uploads is None:
        raise _BadRequest("bad_request", "this desk takes no files in the web chat", client_id)
    try:
        return uploads.attachments(visitor, files) if uploads else ()
    except BadFile as bad:
        raise _BadRequest("bad_file", str(bad), client_id) from None


def _introduced(base: InboundMessage, intro: object, client_id: str) -> InboundMessage:
    """The pre-chat form's name and email on the visitor's first message."""
    if not isinstance(intro, dict):
        raise _BadRequest("bad_request", "`intro` must be an object", client_id)
    name, email = intro.get("name") or "", intro.get("email") or ""
    if not isinstance(name, str) or not isinstance(email, str):
        raise _BadRequest("bad_request", "`intro` name and email must be strings", client_id)
    name, email = " ".join(_clean(name).split()), email.strip().lower()
    if len(name) > MAX_NAME:
        raise _BadRequest("too_long", f"the name is longer than {MAX_NAME} characters", client_id)
    if email and (len(email) > MAX_EMAIL or not _EMAIL.fullmatch(email)):
        raise _BadRequest("bad_email", "the email address does not look like one", client_id)
    meta = {**base.meta, "stated_email": email} if email else base.meta
    return replace(base, display_name=name or None, meta=meta)


def _slow_down(wait: dt.timedelta, language: str) -> tuple[int, str]:
    """Whole seconds to wait, and the polite text that says so."""
    seconds = max(1, math.ceil(wait.total_seconds()))
    return seconds, say("slow_down", language, seconds=seconds)


def _clean(text: str) -> str:
    """What every database stores: no NUL characters, no lone UTF-16 surrogates."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def _error(code: str, error: str, client_id: str | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error", "code": code, "error": error}
    if client_id is not None:
        frame["id"] = client_id
    return frame


async def _push(ws: web.WebSocketResponse, frame: Mapping[str, Any]) -> None:
    """Send if the socket is still open; a page that went away reads it from the history."""
    if ws.closed:
        return
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.send_json(frame)


def _visitor(request: web.Request) -> str | None:
    value = request.cookies.get(VISITOR_COOKIE)
    return value if value and _VISITOR.fullmatch(value) else None


def _remember(response: web.StreamResponse, request: web.Request, visitor: str) -> None:
    response.set_cookie(
        VISITOR_COOKIE,
        visitor,
        max_age=COOKIE_MAX_AGE,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=request.secure,
    )


def _locale(accept_language: str | None) -> str | None:
    """The visitor's preferred language from Accept-Language: 'ru-RU,ru;q=0.9' → 'ru'."""
    if not accept_language:
        return None
    ranked = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            with contextlib.suppress(ValueError):
                quality = float(params.strip()[2:])
        primary = tag.strip().split("-")[0].lower()
        if primary.isalpha() and 0 < quality:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else None
