"""Test clients for the web chat and the operator console: the real aiohttp WebSocket client,
a cookie jar like a browser's, and every frame received kept in order for assertions."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Self

import aiohttp
from yarl import URL

from admin.signin import SESSION_COOKIE
from core.models import OperatorRole
from switchboard.app import Gateway

Frame = dict[str, Any]
WAIT = 10.0


class _Frames:
    """Frames from one socket, read in the background; `expect` waits for a matching one."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.frames: list[Frame] = []
        self.closed = asyncio.Event()
        self._arrived = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type is aiohttp.WSMsgType.TEXT:
                self.frames.append(json.loads(message.data))
                self._arrived.set()
        self.closed.set()
        self._arrived.set()

    def mark(self) -> int:
        return len(self.frames)

    async def expect(
        self, match: Callable[[Frame], bool], *, since: int = 0, timeout: float = WAIT
    ) -> Frame:
        async with asyncio.timeout(timeout):
            while True:
                for frame in self.frames[since:]:
                    if match(frame):
                        return frame
                if self.closed.is_set():
                    raise AssertionError(f"socket closed ({self.ws.close_code}); got {self.frames}")
                self._arrived.clear()
                await self._arrived.wait()

    async def send(self, frame: Frame | str) -> None:
        await self.ws.send_str(frame if isinstance(frame, str) else json.dumps(frame))

    async def aclose(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


class Visitor:
    """A browser on the web chat: loads the page (gets the cookie), then opens the socket."""

    def __init__(self, base_url: str, *, language: str = "ru-RU,ru;q=0.9,en;q=0.8") -> None:
        self.base_url = base_url
        self.http = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True), headers={"Accept-Language": language}
        )
        self.socket: _Frames | None = None

    async def __aenter__(self) -> Self:
        async with self.http.get(self.base_url + "/") as page:
            assert page.status == 200
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.socket is not None:
            await self.socket.aclose()
        await self.http.close()

    @property
    def visitor_id(self) -> str:
        cookie = self.http.cookie_jar.filter_cookies(URL(self.base_url)).get("sb_visitor")
        assert cookie is not None
        return cookie.value

    async def connect(self) -> Frame:
        """(Re)open the socket; returns the history frame it starts with."""
        if self.socket is not None:
            await self.socket.aclose()
        self.socket = _Frames(await self.http.ws_connect(self.base_url + "/ws"))
        return await self.socket.expect(lambda f: f["type"] == "history")

    @property
    def ws(self) -> _Frames:
        assert self.socket is not None
        return self.socket

    async def say(self, text: str, *, message_id: str | None = None) -> str:
        message_id = message_id or str(uuid.uuid4())
        await self.ws.send({"type": "message", "id": message_id, "text": text})
        return message_id

    async def press(self, action: str, payload: str | None = None) -> str:
        message_id = str(uuid.uuid4())
        await self.ws.send(
            {"type": "action", "id": message_id, "action": action, "payload": payload}
        )
        return message_id

    async def acked(self, message_id: str, since: int = 0) -> Frame:
        return await self.ws.expect(
            lambda f: f["type"] == "ack" and f["id"] == message_id, since=since
        )

    async def reply(
        self, *, since: int, author: str | None = None, containing: str | None = None
    ) -> dict[str, Any]:
        """The first message from the bot or an operator after `since` that matches."""
        frame = await self.ws.expect(
            lambda f: (
                f["type"] == "message"
                and f["message"]["author"] != "client"
                and (author is None or f["message"]["author"] == author)
                and (containing is None or containing in f["message"]["text"])
            ),
            since=since,
        )
        message: dict[str, Any] = frame["message"]
        return message


async def signed_in(
    gateway: Gateway,
    name: str = "Anna",
    *,
    role: OperatorRole = OperatorRole.OPERATOR,
    groups: Sequence[str] | None = None,
) -> str:
    """Make an operator account (serving every SLA group unless told) and open a console
    session for it, as a sign-in would: the session cookie's value."""
    operator = await gateway.accounts.save(
        name, role=role, groups=list(groups or gateway.levels.groups)
    )
    async with gateway.sessions() as session:
        token = gateway.accounts.console.open(session, operator.id, "127.0.0.1")
        await session.commit()
    return token


class Console:
    """An operator's console socket, signed in by a session cookie (see `signed_in`)."""

    def __init__(self, base_url: str, session: str | None, *, lang: str = "en") -> None:
        self.url = f"{base_url}/operator/ws"
        self.params = {"lang": lang}
        self.http = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            cookies={SESSION_COOKIE: session} if session is not None else None,
        )
        self.socket: _Frames | None = None

    async def __aenter__(self) -> Self:
        self.socket = _Frames(await self.http.ws_connect(self.url, params=self.params))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.socket is not None:
            await self.socket.aclose()
        await self.http.close()

    @property
    def ws(self) -> _Frames:
        assert self.socket is not None
        return self.socket

    async def command(self, cmd: str, answer: str, **fields: Any) -> Frame:
        """Send a command and wait for its answer: the first frame of type `answer` (or an
        error) after it that is not a live update."""
        since = self.ws.mark()
        await self.ws.send({"cmd": cmd, **fields})
        return await self.ws.expect(
            lambda f: f["type"] in (answer, "error") and not f.get("live"), since=since
        )
