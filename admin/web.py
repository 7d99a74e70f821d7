"""The web operator console: a page at `/operator` and its WebSocket at `/operator/ws`.

A thin transport over `Desk`: each command on the socket is one desk call
(admin/console_commands.py), and every answer is a fresh read from the desk. The socket is signed in by the session cookie
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
                   {"cmd": "category", "conversation_id": N, "category": "..."}
    server → page  {"type": "hello", "operator": {...}, "max_file": bytes, "presence": state,
                    "categories": [{"name", "title"}, ...]}
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
import datetime as dt
import logging
from pathlib import Path

from aiohttp import WSMsgType, web
from redis.exceptions import RedisError

from admin.accounts import Accounts
from admin.console_commands import ConsoleCommands, ConsoleSession
from admin.console_frames import UNAUTHORIZED, push, refuse
from admin.desk import Desk, DeskError
from admin.macros import Macros
from admin.signin import CONSOLE_HEADERS, SignInRoutes, session_token
from channels.uploads import Uploads
from channels.web import same_origin
from core.events import DeskFeed
from routing.presence import OperatorPresence, PresenceState

__all__ = ["OperatorConsole"]

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("console_static")
HEARTBEAT_EVERY = 30.0
CONSOLE_GONE_AFTER = dt.timedelta(seconds=3 * HEARTBEAT_EVERY)  # its process died
REFRESH_PAUSE = 0.15  # notices arriving together cause one refresh
FEED_RETRY = 2.0
CLOSE_WAIT = 2.0


class OperatorConsole:
    def __init__(
        self, desk: Desk, feed: DeskFeed, accounts: Accounts, *, macros: Macros, uploads: Uploads
    ) -> None:
        self._desk = desk
        self._uploads = uploads
        self._commands = ConsoleCommands(desk, macros=macros, uploads=uploads)
        self._feed = feed
        self._accounts = accounts
        self._signin = SignInRoutes(accounts, on_sign_out=self._signed_out)
        self._open: set[ConsoleSession] = set()

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
        state = ConsoleSession(operator=operator, language=language, ws=ws, token=token)
        self._open.add(state)
        helpers: list[asyncio.Task[None]] = []
        try:
            try:
                state.presence = (await self._arrived(state)).state.value
            except (RedisError, OSError) as exc:  # the heartbeat announces them later
                log.warning("presence of operator %s unknown on arrival: %s", operator.id, exc)
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
                    "categories": [
                        {"name": name, "title": self._desk.categories.title(name, language)}
                        for name in self._desk.categories.names
                    ],
                    "presence": state.presence,
                },
            )
            helpers = [  # after the hello: the page hears nothing before it
                asyncio.create_task(work(state))
                for work in (self._follow, self._refresh, self._heartbeat)
            ]
            await self._commands.run(state, {"cmd": "queue"})
            await self._commands.run(state, {"cmd": "macros"})
            async for frame in ws:
                if frame.type is WSMsgType.TEXT:
                    await self._commands.run(state, frame.data)
        finally:
            self._open.discard(state)
            await _stopped(helpers)
            try:  # bounded: a stopping server must not wait on it
                await asyncio.wait_for(
                    self._desk.presence.left(operator.id, state.console_id), CLOSE_WAIT
                )
            except Exception:
                log.exception("operator %s left; their presence is not updated", operator.id)
        return ws

    async def _arrived(self, state: ConsoleSession) -> OperatorPresence:
        return await self._desk.presence.arrived(
            state.operator.id, state.console_id, ttl=CONSOLE_GONE_AFTER
        )

    # -- live updates ---------------------------------------------------------------------

    async def _follow(self, state: ConsoleSession) -> None:
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

    async def _refresh(self, state: ConsoleSession) -> None:
        while True:
            await state.wake.wait()
            await asyncio.sleep(REFRESH_PAUSE)
            state.wake.clear()
            changed, state.changed = state.changed, set()
            try:
                await self._commands.send_queue(state, live=True)
                if state.open_id is not None and state.open_id in changed:
                    opened = await self._desk.conversations.for_operator(
                        state.operator.id, state.open_id
                    )
                    await self._commands.show(state, opened, live=True)
            except (DeskError, PermissionError):
                state.open_id = None
            except Exception:
                log.exception("console refresh for operator %s failed", state.operator.id)

    async def _heartbeat(self, state: ConsoleSession) -> None:
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
                    await self._commands.send_presence(state, presence)
            except Exception:
                log.exception("heartbeat of operator %s failed", state.operator.id)
            await asyncio.sleep(HEARTBEAT_EVERY)


async def _stopped(helpers: list[asyncio.Task[None]]) -> None:
    """Cancel a console's helpers and wait for them, but not for ever: redis-py's pub/sub
    can swallow a cancellation that lands mid-read, so one still running is cancelled
    again and left to end on its own."""
    for task in helpers:
        task.cancel()
    if not helpers:
        return
    _, stuck = await asyncio.wait(helpers, timeout=CLOSE_WAIT)
    for task in stuck:
        task.cancel()
