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
                   {"cmd": "typing", "conversation_id": N}   the client sees "typing…"
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
import dataclasses
import datetime as dt
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web
from redis.exceptions import RedisError

from admin import console_frames as frames
from admin.accounts import Accounts
from admin.console_api import uploader
from admin.console_frames import BadCommand, plain, push, refuse
from admin.desk import ConversationView, Desk, DeskError, QueueView
from admin.macros import Macros
from admin.signin import CONSOLE_HEADERS, SignInRoutes, session_token
from admin.suggestions import look_up, suggest
from channels.file_response import opens_here
from channels.uploads import BadFile, Uploads
from channels.web import same_origin
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
MAX_QUERY = 500
CHOSEN_PRESENCE = {state.value: state for state in (PresenceState.ONLINE, PresenceState.AWAY)}


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


Command = Callable[[_Session, Mapping[str, Any]], Awaitable[None]]


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
        self._commands: dict[str, Command] = {
            "queue": self._queue,
            "next": self._next,
            "open": self._open_one,
            "take": self._take,
            "reply": self._reply,
            "note": self._note,
            "close": self._close,
            "macros": self._macro,
            "macro_save": self._macro,
            "macro_delete": self._macro,
            "transfer_targets": self._transfer_targets,
            "transfer": self._transfer,
            "presence": self._presence,
            "kb_search": self._kb_search,
            "kb_save": self._kb_save,
            "typing": self._typing,
        }

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
                refuse(state.ws, UNAUTHORIZED, "unauthorized", "signed out")
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
            await refuse(ws, 1011, "failed", "sign-in failed on the server; try again")
            return ws
        if operator is None:
            await refuse(ws, UNAUTHORIZED, "unauthorized", "sign in first")
            return ws
        state = _Session(operator=operator, language=language, ws=ws, token=token)
        self._open.add(state)
        helpers = [
            asyncio.create_task(work(state))
            for work in (self._follow, self._refresh, self._heartbeat)
        ]
        try:
            state.presence = (await self._arrived(state)).state.value
            await push(
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
            request = frames.parse(request) if isinstance(request, str) else request
            cmd = request["cmd"]
            await self._run(state, request)
        except BadCommand as bad:
            await push(state.ws, {"type": "error", "code": bad.code, "error": str(bad), "cmd": cmd})
        except DeskError as refused:
            await push(
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
            await refuse(state.ws, DISABLED, "disabled", "this operator was disabled")
        except Exception:
            log.exception("console command %r of operator %s failed", cmd, state.operator.id)
            await push(
                state.ws,
                {
                    "type": "error",
                    "code": "failed",
                    "cmd": cmd,
                    "error": "the command failed on the server; it is logged",
                },
            )

    async def _run(self, state: _Session, request: Mapping[str, Any]) -> None:
        command = self._commands.get(request["cmd"])
        if command is None:
            raise BadCommand("unknown_cmd", f"unknown command {request['cmd']!r}")
        await command(state, request)

    async def _queue(self, state: _Session, request: Mapping[str, Any]) -> None:
        view = request.get("view", state.view)
        if view not in VIEWS:
            raise BadCommand("bad_request", f"view must be one of {', '.join(VIEWS)}")
        state.view = view
        await self._send_queue(state)

    async def _next(self, state: _Session, request: Mapping[str, Any]) -> None:
        await self._show(state, await self._desk.actions.take_next(state.operator.id))
        await self._send_queue(state)

    async def _open_one(self, state: _Session, request: Mapping[str, Any]) -> None:
        await self._show_fresh(state, frames.conversation_id(request))

    async def _take(self, state: _Session, request: Mapping[str, Any]) -> None:
        taken = await self._desk.actions.take(state.operator.id, frames.conversation_id(request))
        await self._show(state, taken)
        await self._send_queue(state)

    async def _reply(self, state: _Session, request: Mapping[str, Any]) -> None:
        me, conversation_id = state.operator.id, frames.conversation_id(request)
        said = frames.text(request, "text", MAX_TEXT)
        try:
            files = self._uploads.attachments(uploader(me), request.get("files"))
        except BadFile as bad:
            raise BadCommand("bad_file", str(bad)) from None
        await self._desk.actions.reply(me, conversation_id, said, files, via=frames.via(request))
        await self._show_fresh(state, conversation_id)

    async def _note(self, state: _Session, request: Mapping[str, Any]) -> None:
        conversation_id = frames.conversation_id(request)
        note = frames.text(request, "text", MAX_TEXT)
        await self._desk.actions.note(state.operator.id, conversation_id, note)
        await self._show_fresh(state, conversation_id)

    async def _close(self, state: _Session, request: Mapping[str, Any]) -> None:
        conversation_id = frames.conversation_id(request)
        await self._desk.actions.close(state.operator.id, conversation_id)
        await self._show_fresh(state, conversation_id)
        await self._send_queue(state)

    async def _transfer_targets(self, state: _Session, request: Mapping[str, Any]) -> None:
        targets = await self._desk.transfers.targets(state.operator.id)
        await push(state.ws, {"type": "transfer_targets", **plain(targets)})

    async def _transfer(self, state: _Session, request: Mapping[str, Any]) -> None:
        """Hand the conversation to a group's queue or to a colleague, with a note."""
        conversation_id = frames.conversation_id(request)
        note = frames.text(request, "note", MAX_TEXT, default="")
        group, colleague = request.get("group"), frames.integer(request, "operator_id")
        if (group is None) == (colleague is None):
            raise BadCommand("bad_request", "name either a group or an operator_id")
        if group is not None and not isinstance(group, str):
            raise BadCommand("bad_request", "group must be a string")
        moved = await self._desk.transfers.transfer(
            state.operator.id,
            conversation_id,
            group=group,
            to_operator=None if colleague is None else str(colleague),
            note=note,
        )
        await self._show(state, moved)
        await self._send_queue(state)

    async def _presence(self, state: _Session, request: Mapping[str, Any]) -> None:
        asked = request.get("state")
        chosen = CHOSEN_PRESENCE.get(asked) if isinstance(asked, str) else None
        if chosen is None:
            raise BadCommand("bad_request", "state must be online or away")
        await self._desk.presence.set(state.operator.id, chosen)
        await self._send_presence(state, chosen.value)

    async def _kb_search(self, state: _Session, request: Mapping[str, Any]) -> None:
        """The KB's articles for the operator's own words, in the style of the channel."""
        conversation_id = frames.conversation_id(request)
        query = frames.text(request, "query", MAX_QUERY)
        opened = await self._desk.conversations.for_operator(state.operator.id, conversation_id)
        found = look_up(self._desk.teaching, query, opened.channel) if query.strip() else []
        await push(
            state.ws,
            {
                "type": "kb_results",
                "conversation_id": conversation_id,
                "query": query,
                "articles": [dataclasses.asdict(s) for s in found],
            },
        )

    async def _kb_save(self, state: _Session, request: Mapping[str, Any]) -> None:
        """Teach the KB from the operator's last reply (see `Teaching.save_reply`)."""
        conversation_id = frames.conversation_id(request)
        article_id = request.get("article_id")
        if article_id is not None and not isinstance(article_id, str):
            raise BadCommand("bad_request", "article_id must be a string")
        saved = await self._desk.teaching.save_reply(
            state.operator.id, conversation_id, article_id=article_id
        )
        await push(state.ws, {"type": "kb_saved", **dataclasses.asdict(saved)})

    async def _typing(self, state: _Session, request: Mapping[str, Any]) -> None:
        """The client sees the operator writing; nothing is answered."""
        await self._desk.typing.started(state.operator.id, frames.conversation_id(request))

    async def _send_presence(self, state: _Session, presence: str) -> None:
        state.presence = presence
        await push(state.ws, {"type": "presence", "state": presence})

    async def _macro(self, state: _Session, request: Mapping[str, Any]) -> None:
        """List, save or remove saved replies; every answer is the fresh list."""
        me, cmd = state.operator.id, request["cmd"]
        if cmd == "macro_save":
            title, text = request.get("title"), request.get("text")
            if not isinstance(title, str) or not isinstance(text, str):
                raise BadCommand("bad_request", "title and text must be strings")
            await self._macros.save(
                me, title, text, shared=bool(request.get("shared")) and _is_admin(state)
            )
        elif cmd == "macro_delete":
            macro_id = frames.integer(request, "macro_id")
            if macro_id is None:
                raise BadCommand("bad_request", "macro_id must be an integer")
            await self._macros.remove(me, macro_id, admin=_is_admin(state))
        macros = await self._macros.visible(me)
        await push(
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
        payload = plain(conversation)
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
        await push(state.ws, {"type": "conversation", "conversation": payload, "live": live})

    async def _show_fresh(self, state: _Session, conversation_id: int) -> None:
        opened = await self._desk.conversations.for_operator(state.operator.id, conversation_id)
        await self._show(state, opened)

    async def _send_queue(self, state: _Session, *, live: bool = False) -> None:
        rows = await self._desk.queue.rows(state.operator.id, state.view)
        await push(
            state.ws,
            {
                "type": "queue",
                "view": state.view,
                "now": dt.datetime.now(dt.UTC),
                "rows": [plain(row) for row in rows],
                "live": live,
            },
        )

    # -- live updates ---------------------------------------------------------------------

    async def _follow(self, state: _Session) -> None:
        """Note every desk notice for `_refresh`; resubscribe if Redis drops the feed."""
        while True:
            try:
                async for notice in self._feed.listen():
                    await push(state.ws, {"type": "notice", "notice": notice})
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
                    await refuse(state.ws, UNAUTHORIZED, "unauthorized", "the session ended")
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
