"""The web operator console: a page at `/operator` and its WebSocket at `/operator/ws`.

A thin transport over `Desk`: each command on the socket is one desk call, and
every answer is a fresh read from the desk. The socket is signed in by the session cookie
(admin/signin.py; `?lang=ru|en` picks the language of the desk's messages); no cookie, an
expired one or a signed-out one gets an error frame and close code 4401, so the page can
tell it from a dropped connection and show the sign-in form. The session is checked again
with every heartbeat, so signing out or disabling an operator closes their consoles.

    page → server  {"cmd": "queue", "view": "waiting|mine|breaching"}   {"cmd": "next"}
                   {"cmd": "take" | "open" | "close", "conversation_id": N}
                   {"cmd": "reply" | "note", "conversation_id": N, "text": "..."}
                   a reply may name "via": another channel the client wrote from, and add
                   "files": [{"file", "name", "mime"}] uploaded first to
                   POST /operator/uploads (admin/console_api.py; channels/uploads.py)
                   {"cmd": "transfer_targets"}   {"cmd": "transfer", "conversation_id": N,
                   "group": "..." | "operator_id": N, "note": "..."}
                   {"cmd": "presence", "state": "online" | "away"}
                   {"cmd": "kb_search", "conversation_id": N, "query": "..."}
                   {"cmd": "kb_save", "conversation_id": N[, "article_id": "..."]}
    server → page  {"type": "hello", "operator": {...}, "max_file": bytes, "presence": state}
                   {"type": "queue", "view", "rows"}   {"type": "conversation", "conversation": {...}}
                   {"type": "transfer_targets", "groups", "colleagues"}   {"type": "presence", "state"}
                   {"type": "kb_results", "conversation_id", "query", "articles"}
                   {"type": "kb_saved", "article_id", "question", "created"}
                   {"type": "notice", "notice": {...}}   {"type": "error", "code", "error"}

Queue and conversation frames sent because something changed, not in answer to a command,
carry `"live": true`.

Live updates: each socket follows the desk feed and re-sends its queue, and the open
conversation when a notice concerns it; while the socket is open the operator's leases
are renewed (`desk.actions.heartbeat`) so nothing they hold is taken back from them.

Presence: an open console is an operator at the desk, so opening one (and every heartbeat)
announces an offline operator online; away is their own choice and stays until they
change it. Closing their last console (in any process), or signing out, makes an online
operator offline, so nothing more is pushed to them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import functools
import json
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web
from redis.exceptions import RedisError

from admin.accounts import Accounts
from admin.console_api import uploader
from admin.desk import ConversationView, Desk, DeskError, QueueView
from admin.macros import Macros
from admin.signin import CONSOLE_HEADERS, SignInRoutes, session_token
from admin.suggestions import look_up, suggest
from channels.file_response import opens_here
from channels.uploads import BadFile, Uploads
from channels.web import same_origin
from core.contracts import ChannelKind
from core.events import DeskFeed
from core.history import SHOWN_ATTACHMENT_FIELDS
from core.models import Operator, OperatorRole
from routing.presence import OperatorPresence, PresenceState

__all__ = ["OperatorConsole"]

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("console_static")
HEARTBEAT_EVERY = 30.0
CONSOLE_GONE_AFTER = dt.timedelta(seconds=3 * HEARTBEAT_EVERY)  # its process died
REFRESH_PAUSE = 0.15  # notices arriving together cause one refresh
FEED_RETRY = 2.0
MAX_TEXT = 20000
CLOSE_WAIT = 2.0
UNAUTHORIZED, DISABLED = 4401, 4403
VIEWS: tuple[QueueView, ...] = ("waiting", "mine", "breaching")
COMMANDS = frozenset(
    {
        "queue",
        "next",
        "open",
        "take",
        "reply",
        "note",
        "close",
        "macros",
        "macro_save",
        "macro_delete",
        "transfer",
        "transfer_targets",
        "presence",
        "kb_search",
        "kb_save",
    }
)
MAX_QUERY = 500
CHOSEN_PRESENCE = {state.value: state for state in (PresenceState.ONLINE, PresenceState.AWAY)}


class _BadCommand(Exception):
    def __init__(self, code: str, error: str) -> None:
        super().__init__(error)
        self.code = code


@dataclass(eq=False)
class _Session:
    """One open console: who it is, and what it shows."""

    operator: Operator
    language: str
    ws: web.WebSocketResponse
    token: str
    view: QueueView = "waiting"
    presence: str = PresenceState.OFFLINE.value  # as the page was last told
    console_id: str = field(default_factory=lambda: secrets.token_hex(8))
    open_id: int | None = None
    changed: set[int | None] = field(default_factory=set)
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class OperatorConsole:
    def __init__(
        self, desk: Desk, feed: DeskFeed, accounts: Accounts, *, macros: Macros, uploads: Uploads
    ) -> None:
        self._desk = desk
        self._uploads = uploads
        self._macros = macros
        self._feed = feed
        self._accounts = accounts
        self._signin = SignInRoutes(accounts, on_sign_out=self._signed_out)
        self._open: set[_Session] = set()

    def routes(self) -> list[web.AbstractRouteDef]:
        return [
            web.get("/operator", self._page),
            web.get("/operator/login", self._page),
            web.get("/operator/ws", self._socket),
            *self._signin.routes(),
            web.static("/static/operator", STATIC),
            # What a browser asks for when a page's own icon has not loaded yet.
            web.get("/favicon.ico", self._icon),
        ]

    async def aclose(self) -> None:
        """Close every console socket (on shutdown: otherwise the server waits for them)."""
        await asyncio.gather(
            *(state.ws.close(code=1001, message=b"server shutdown") for state in list(self._open)),
            return_exceptions=True,
        )

    async def _page(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html", headers=CONSOLE_HEADERS)

    async def _icon(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "icon.svg")

    async def _signed_out(self, token: str, operator_id: int | None) -> None:
        if operator_id is not None:
            try:
                await self._desk.presence.set(operator_id, PresenceState.OFFLINE)
            except (RedisError, PermissionError) as exc:
                log.warning("operator %s signed out, still shown present: %s", operator_id, exc)
        await asyncio.gather(
            *(
                _refuse(state.ws, UNAUTHORIZED, "unauthorized", "signed out")
                for state in list(self._open)
                if state.token == token
            ),
            return_exceptions=True,
        )

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        if not same_origin(request):
            raise web.HTTPForbidden(text="cross-origin WebSocket refused")
        ws = web.WebSocketResponse(heartbeat=25, max_msg_size=1024 * 1024, timeout=CLOSE_WAIT)
        await ws.prepare(request)
        asked = request.query.get("lang")
        language = asked if asked in ("ru", "en") else "ru"
        token = session_token(request) or ""
        try:
            operator = await self._accounts.console.operator(token)
        except Exception:
            log.exception("console session check failed")
            await _refuse(ws, 1011, "failed", "sign-in failed on the server; try again")
            return ws
        if operator is None:
            await _refuse(ws, UNAUTHORIZED, "unauthorized", "sign in first")
            return ws
        state = _Session(operator=operator, language=language, ws=ws, token=token)
        self._open.add(state)
        helpers = [
            asyncio.create_task(work(state))
            for work in (self._follow, self._refresh, self._heartbeat)
        ]
        try:
            state.presence = (await self._arrived(state)).state.value
            await _push(
                ws,
                {
                    "type": "hello",
                    "operator": {
                        "id": operator.id,
                        "name": operator.name,
                        "groups": operator.group_names,
                        "capacity": operator.capacity,
                        "language": language,
                        "role": operator.role.value,
                    },
                    "max_file": self._uploads.max_bytes,
                    "presence": state.presence,
                },
            )
            await self._command(state, {"cmd": "queue"})
            await self._command(state, {"cmd": "macros"})
            async for frame in ws:
                if frame.type is WSMsgType.TEXT:
                    await self._command(state, frame.data)
        finally:
            self._open.discard(state)
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            try:
                await self._desk.presence.left(operator.id, state.console_id)
            except Exception:
                log.exception("operator %s left; their presence is not updated", operator.id)
        return ws

    async def _arrived(self, state: _Session) -> OperatorPresence:
        return await self._desk.presence.arrived(
            state.operator.id, state.console_id, ttl=CONSOLE_GONE_AFTER
        )

    # -- commands -------------------------------------------------------------------------

    async def _command(self, state: _Session, request: Mapping[str, Any] | str) -> None:
        """Run one command (a frame, or a request made here); whatever goes wrong is
        answered, and the socket stays open."""
        cmd = None
        try:
            request = _parse(request) if isinstance(request, str) else request
            cmd = request["cmd"]
            await self._run(state, request)
        except _BadCommand as bad:
            await _push(
                state.ws, {"type": "error", "code": bad.code, "error": str(bad), "cmd": cmd}
            )
        except DeskError as refused:
            await _push(
                state.ws,
                {
                    "type": "error",
                    "code": "desk",
                    "key": refused.key,
                    "error": refused.text(state.language),
                    "cmd": cmd,
                },
            )
        except PermissionError:
            await _refuse(state.ws, DISABLED, "disabled", "this operator was disabled")
        except Exception:
            log.exception("console command %r of operator %s failed", cmd, state.operator.id)
            await _push(
                state.ws,
                {
                    "type": "error",
                    "code": "failed",
                    "cmd": cmd,
                    "error": "the command failed on the server; it is logged",
                },
            )

    async def _run(self, state: _Session, request: Mapping[str, Any]) -> None:
        desk, me, cmd = self._desk, state.operator.id, request["cmd"]
        if cmd not in COMMANDS:
            raise _BadCommand("unknown_cmd", f"unknown command {cmd!r}")
        if cmd == "queue":
            view = request.get("view", state.view)
            if view not in VIEWS:
                raise _BadCommand("bad_request", f"view must be one of {', '.join(VIEWS)}")
            state.view = view
            await self._send_queue(state)
            return
        if cmd.startswith("macro"):
            await self._macro(state, request)
            return
        if cmd == "presence":
            asked = request.get("state")
            chosen = CHOSEN_PRESENCE.get(asked) if isinstance(asked, str) else None
            if chosen is None:
                raise _BadCommand("bad_request", "state must be online or away")
            await desk.presence.set(me, chosen)
            await self._send_presence(state, chosen.value)
            return
        if cmd == "transfer_targets":
            targets = await desk.transfers.targets(me)
            await _push(state.ws, {"type": "transfer_targets", **_plain(targets)})
            return
        if cmd == "next":
            await self._show(state, await desk.actions.take_next(me))
            await self._send_queue(state)
            return
        conversation_id = _conversation_id(request)
        if cmd == "open":
            await self._show(state, await desk.conversations.for_operator(me, conversation_id))
        elif cmd == "take":
            await self._show(state, await desk.actions.take(me, conversation_id))
            await self._send_queue(state)
        elif cmd == "transfer":
            await self._show(state, await self._transfer(me, conversation_id, request))
            await self._send_queue(state)
        elif cmd == "kb_search":
            query = request.get("query")
            if not isinstance(query, str) or len(query) > MAX_QUERY:
                raise _BadCommand(
                    "bad_request", f"query must be a string of at most {MAX_QUERY} characters"
                )
            opened = await desk.conversations.for_operator(me, conversation_id)
            found = look_up(desk.teaching, query, opened.channel) if query.strip() else []
            await _push(
                state.ws,
                {
                    "type": "kb_results",
                    "conversation_id": conversation_id,
                    "query": query,
                    "articles": [dataclasses.asdict(s) for s in found],
                },
            )
        elif cmd == "kb_save":
            article_id = request.get("article_id")
            if article_id is not None and not isinstance(article_id, str):
                raise _BadCommand("bad_request", "article_id must be a string")
            saved = await desk.teaching.save_reply(me, conversation_id, article_id=article_id)
            await _push(state.ws, {"type": "kb_saved", **dataclasses.asdict(saved)})
        elif cmd in ("reply", "note"):
            text = request.get("text")
            if not isinstance(text, str) or len(text) > MAX_TEXT:
                raise _BadCommand(
                    "bad_request", f"text must be a string of at most {MAX_TEXT} characters"
                )
            if cmd == "reply":
                try:
                    files = self._uploads.attachments(uploader(me), request.get("files"))
                except BadFile as bad:
                    raise _BadCommand("bad_file", str(bad)) from None
                await desk.actions.reply(me, conversation_id, text, files, via=_via(request))
            else:
                await desk.actions.note(me, conversation_id, text)
            await self._show(state, await desk.conversations.for_operator(me, conversation_id))
        else:  # close
            await desk.actions.close(me, conversation_id)
            await self._show(state, await desk.conversations.for_operator(me, conversation_id))
            await self._send_queue(state)

    async def _transfer(
        self, me: int, conversation_id: int, request: Mapping[str, Any]
    ) -> ConversationView:
        """Hand the conversation to a group's queue or to a colleague, with a note."""
        group, colleague = request.get("group"), request.get("operator_id")
        note = request.get("note", "")
        if not isinstance(note, str) or len(note) > MAX_TEXT:
            raise _BadCommand(
                "bad_request", f"note must be a string of at most {MAX_TEXT} characters"
            )
        if (group is None) == (colleague is None):
            raise _BadCommand("bad_request", "name either a group or an operator_id")
        if group is not None and not isinstance(group, str):
            raise _BadCommand("bad_request", "group must be a string")
        if colleague is not None and (
            isinstance(colleague, bool) or not isinstance(colleague, int)
        ):
            raise _BadCommand("bad_request", "operator_id must be an integer")
        return await self._desk.transfers.transfer(
            me,
            conversation_id,
            group=group,
            to_operator=None if colleague is None else str(colleague),
            note=note,
        )

    async def _send_presence(self, state: _Session, presence: str) -> None:
        state.presence = presence
        await _push(state.ws, {"type": "presence", "state": presence})

    async def _macro(self, state: _Session, request: Mapping[str, Any]) -> None:
        """List, save or remove saved replies; every answer is the fresh list."""
        me, cmd = state.operator.id, request["cmd"]
        if cmd == "macro_save":
            title, text = request.get("title"), request.get("text")
            if not isinstance(title, str) or not isinstance(text, str):
                raise _BadCommand("bad_request", "title and text must be strings")
            await self._macros.save(
                me, title, text, shared=bool(request.get("shared")) and _is_admin(state)
            )
        elif cmd == "macro_delete":
            macro_id = request.get("macro_id")
            if isinstance(macro_id, bool) or not isinstance(macro_id, int):
                raise _BadCommand("bad_request", "macro_id must be an integer")
            await self._macros.remove(me, macro_id, admin=_is_admin(state))
        macros = await self._macros.visible(me)
        await _push(
            state.ws,
            {
                "type": "macros",
                "macros": [dataclasses.asdict(m) for m in macros],
                "admin": _is_admin(state),
            },
        )

    async def _show(
        self, state: _Session, conversation: ConversationView, *, live: bool = False
    ) -> None:
        state.open_id = conversation.id
        payload = _plain(conversation)
        for message in payload["messages"]:
            message["attachments"] = [
                {k: v for k, v in a.items() if k in SHOWN_ATTACHMENT_FIELDS}
                | {"opens": opens_here(a)}
                for a in message["attachments"]
            ]
        payload["mine"] = conversation.operator_id == state.operator.id
        payload["suggestions"] = [
            dataclasses.asdict(s) for s in suggest(self._desk.teaching, conversation)
        ]
        await _push(state.ws, {"type": "conversation", "conversation": payload, "live": live})

    async def _send_queue(self, state: _Session, *, live: bool = False) -> None:
        rows = await self._desk.queue.rows(state.operator.id, state.view)
        await _push(
            state.ws,
            {
                "type": "queue",
                "view": state.view,
                "now": dt.datetime.now(dt.UTC),
                "rows": [_plain(row) for row in rows],
                "live": live,
            },
        )

    # -- live updates ---------------------------------------------------------------------

    async def _follow(self, state: _Session) -> None:
        """Note every desk notice for `_refresh`; resubscribe if Redis drops the feed."""
        while True:
            try:
                async for notice in self._feed.listen():
                    await _push(state.ws, {"type": "notice", "notice": notice})
                    state.changed.update(
                        notice.get("conversation_ids") or (notice.get("conversation_id"),)
                    )
                    state.wake.set()
            except (RedisError, OSError) as exc:
                log.warning("console feed lost (%s); resubscribing", exc)
            await asyncio.sleep(FEED_RETRY)

    async def _refresh(self, state: _Session) -> None:
        while True:
            await state.wake.wait()
            await asyncio.sleep(REFRESH_PAUSE)
            state.wake.clear()
            changed, state.changed = state.changed, set()
            try:
                await self._send_queue(state, live=True)
                if state.open_id is not None and state.open_id in changed:
                    opened = await self._desk.conversations.for_operator(
                        state.operator.id, state.open_id
                    )
                    await self._show(state, opened, live=True)
            except (DeskError, PermissionError):
                state.open_id = None
            except Exception:
                log.exception("console refresh for operator %s failed", state.operator.id)

    async def _heartbeat(self, state: _Session) -> None:
        """Renew the operator's leases and presence while their session lasts; close when it
        ends."""
        while True:
            try:
                if await self._accounts.console.operator(state.token) is None:
                    await _refuse(state.ws, UNAUTHORIZED, "unauthorized", "the session ended")
                    return
                await self._desk.actions.heartbeat(state.operator.id)
                presence = (await self._arrived(state)).state.value
                if presence != state.presence:  # changed in the admin bot, or another console
                    await self._send_presence(state, presence)
            except Exception:
                log.exception("heartbeat of operator %s failed", state.operator.id)
            await asyncio.sleep(HEARTBEAT_EVERY)


def _is_admin(state: _Session) -> bool:
    """Admins may save and remove the desk's shared replies."""
    return state.operator.role is OperatorRole.ADMIN


def _parse(data: str) -> dict[str, Any]:
    try:
        request = json.loads(data)
    except ValueError:
        raise _BadCommand("bad_json", "the frame is not valid JSON") from None
    if not isinstance(request, dict) or not isinstance(request.get("cmd"), str):
        raise _BadCommand("bad_request", 'a command is a JSON object with a "cmd" string')
    return request


def _conversation_id(request: Mapping[str, Any]) -> int:
    value = request.get("conversation_id")
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _BadCommand("bad_request", "conversation_id must be a positive integer")
    return value


def _via(request: Mapping[str, Any]) -> ChannelKind | None:
    """Another channel of the client's to answer in; none: the one they wrote from last."""
    asked = request.get("via")
    if asked is None:
        return None
    try:
        return ChannelKind(asked)
    except ValueError:
        channels = ", ".join(kind.value for kind in ChannelKind)
        raise _BadCommand("bad_request", f"via must be one of {channels}") from None


def _plain(view: Any) -> dict[str, Any]:
    """A desk view as JSON-ready values: times in ISO 8601, durations in seconds."""
    return {k: _value(v) for k, v in dataclasses.asdict(view).items()}


def _value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return round(value.total_seconds())
    if isinstance(value, dict):
        return {k: _value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_value(v) for v in value]
    return value


_dumps = functools.partial(json.dumps, default=_value, ensure_ascii=False)


async def _push(ws: web.WebSocketResponse, frame: Mapping[str, Any]) -> None:
    if ws.closed:
        return
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.send_json(frame, dumps=_dumps)


async def _refuse(ws: web.WebSocketResponse, close_code: int, code: str, error: str) -> None:
    await _push(ws, {"type": "error", "code": code, "error": error})
    await ws.close(code=close_code, message=error.encode()[:120])
