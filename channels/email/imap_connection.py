"""One IMAP connection, logged in and ready for commands: TLS or STARTTLS, the login, IDLE,
and every command raced against the loss of the connection (aioimaplib leaves some commands
waiting forever on a dead connection). A refused command or a lost connection raises
`ImapError`; what is read from the folder, and when, is channels/email/imap.py's business."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable
from typing import TypeVar, overload

import aioimaplib

from channels.email.servers import MailServer

__all__ = [
    "ImapConnection",
    "ImapError",
    "expect_ok",
    "response_lines",
    "response_number",
    "response_text",
]

T = TypeVar("T")

_PUSH_WAKE = (b"EXISTS", b"RECENT")


class ImapError(Exception):
    """The server refused a command or the connection is gone; the session restarts."""


class ImapConnection:
    """A connection to `server`; `lost` is set once it is gone. Open it with `open()`."""

    def __init__(self, server: MailServer, timeout: float) -> None:
        self.server = server
        self.timeout = timeout
        self.lost = asyncio.Event()
        self.client = aioimaplib.IMAP4(
            host=server.host,
            port=server.port,
            timeout=timeout,
            conn_lost_cb=lambda _exc: self.lost.set(),
            ssl_context=server.tls_context() if server.security == "tls" else None,
        )

    @classmethod
    async def open(cls, server: MailServer, timeout: float) -> ImapConnection:
        """Connected, through STARTTLS if the server is set up for it, and logged in."""
        connection = cls(server, timeout)
        client = connection.client
        try:
            await client.wait_hello_from_server()
            if server.security == "starttls":
                await connection._starttls()
            if server.user is not None:
                response = await connection.call(client.login(server.user, server.password or ""))
                expect_ok(response, "LOGIN")
            # what a server offers after login differs from before it (IDLE, MOVE, UIDPLUS)
            await connection.call(client.protocol.capability())
        except BaseException:
            await connection.close()
            raise
        return connection

    async def _starttls(self) -> None:
        protocol = self.client.protocol
        command = aioimaplib.Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)
        expect_ok(await asyncio.wait_for(protocol.execute(command), self.timeout), "STARTTLS")
        context = self.server.tls_context()
        protocol.transport = await protocol.loop.start_tls(
            protocol.transport, protocol, context, server_hostname=self.server.host
        )
        await asyncio.wait_for(protocol.capability(), self.timeout)

    def has_capability(self, capability: str) -> bool:
        return bool(self.client.has_capability(capability))

    async def search(self, *criteria: str) -> list[int]:
        """The UIDs of the letters in the selected folder that meet `criteria`, ascending."""
        response = await self.call(self.client.uid_search(*criteria, charset=None))
        expect_ok(response, "SEARCH")
        uids: list[int] = []
        for line in response_lines(response)[:-1]:
            uids += [int(token) for token in line.split() if token.isdigit()]  # bytes: 0-9 only
        return sorted(set(uids))

    async def fetch(self, uid: int, max_bytes: int) -> bytes | None:
        """The letter's bytes, None if it is gone (at most `max_bytes`: a bigger one arrives
        cut). BODY.PEEK leaves the Seen flag alone; aioimaplib's own timeout here counts
        silence, not the whole transfer, so a big letter is not cut short."""
        response = await self.wait(
            self.client.uid("fetch", str(uid), f"(UID BODY.PEEK[]<0.{max_bytes}>)")
        )
        expect_ok(response, "FETCH")
        literals = [bytes(line) for line in response.lines if isinstance(line, bytearray)]
        return literals[0] if literals else None

    async def idle(self, wake_in: float, interrupt: asyncio.Event) -> None:
        """Wait in IDLE until the server reports new mail, `interrupt` is set or `wake_in`
        seconds passed."""
        client = self.client
        idle = await self.call(client.idle_start(timeout=wake_in))
        try:
            while not interrupt.is_set():
                waiting = client.wait_server_push(timeout=wake_in + self.timeout)
                push = await self.wait(waiting, interrupt)
                if push is None or push == aioimaplib.STOP_WAIT_SERVER_PUSH:
                    return
                lines = [bytes(line) for line in (push if isinstance(push, list) else [push])]
                if any(line.startswith(b"BYE") for line in lines):
                    raise ImapError("server said BYE")
                if any(word in line for line in lines for word in _PUSH_WAKE):
                    return
        finally:
            if not self.lost.is_set() and client.has_pending_idle():
                client.idle_done()
                await self.call(idle)

    async def call(self, awaitable: Awaitable[T]) -> T:
        """Await an IMAP command, giving up when the connection is lost or it hangs."""
        return await self.wait(asyncio.wait_for(awaitable, self.timeout))

    @overload
    async def wait(self, awaitable: Awaitable[T]) -> T: ...

    @overload
    async def wait(self, awaitable: Awaitable[T], interrupt: asyncio.Event) -> T | None: ...

    async def wait(
        self, awaitable: Awaitable[T], interrupt: asyncio.Event | None = None
    ) -> T | None:
        """Await `awaitable`; raise if the connection is lost first, return None if
        `interrupt` is set first."""
        lost = self.lost
        task = asyncio.ensure_future(awaitable)
        watchers = [asyncio.ensure_future(event.wait()) for event in (lost, interrupt) if event]
        try:
            await asyncio.wait({task, *watchers}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pending in (task, *watchers):
                pending.cancel()
            await asyncio.gather(task, *watchers, return_exceptions=True)
        if task.done() and not task.cancelled():
            return task.result()
        if lost.is_set():
            raise ImapError("connection lost")
        return None

    async def close(self) -> None:
        """Log out if the server still listens, then drop the connection and its tasks."""
        client = self.client
        protocol = client.protocol
        if protocol is None:
            return
        if protocol.transport is not None and not protocol.transport.is_closing():
            if client.get_state() in {"AUTH", "SELECTED"} and not client.has_pending_idle():
                try:
                    await asyncio.wait_for(client.logout(), 2)
                except (TimeoutError, OSError, aioimaplib.AioImapException):
                    pass
            if protocol.transport is not None:
                protocol.transport.close()
        for task in list(client.tasks) + list(protocol.tasks):
            task.cancel()
        client._client_task.cancel()


def response_lines(response: aioimaplib.Response) -> list[bytes]:
    return [bytes(line) for line in response.lines]


def response_text(response: aioimaplib.Response) -> str:
    return b" ".join(response_lines(response)).decode("utf-8", "replace")[:300]


def expect_ok(response: aioimaplib.Response, what: str) -> None:
    if response.result != "OK":
        raise ImapError(f"{what} failed: {response.result} {response_text(response)}")


def response_number(pattern: re.Pattern[bytes], response: aioimaplib.Response) -> int | None:
    """The number `pattern`'s first group finds in the first line it matches."""
    for line in response_lines(response):
        match = pattern.search(line)
        if match:
            return int(match.group(1))
    return None
