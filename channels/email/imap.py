"""Inbound mail over IMAP: every letter in the folder reaches the handler, and is marked
(\\Seen, or moved to a processed folder) only after the handler returned.

IDLE when the server offers it, polling otherwise; on any connection problem the
session is dropped and rebuilt with exponential backoff. Within one UIDVALIDITY the
highest UID seen is remembered, so after a reconnect only newer letters are fetched;
letters the handler failed on are retried with their own backoff, and letters handled
but not yet marked are only marked, never handed over again. After a restart the
unseen letters (or, with a processed folder, all letters left in the folder) are read.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar, overload

import aioimaplib

from channels.email.servers import MailServer
from core.retry import Backoff

__all__ = ["ImapError", "ImapInbox", "LetterHandler", "imap_mailbox_name"]

log = logging.getLogger(__name__)

LetterHandler = Callable[[bytes], Awaitable[None]]
T = TypeVar("T")

_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_UIDNEXT = re.compile(rb"\[UIDNEXT (\d+)\]")
_PUSH_WAKE = (b"EXISTS", b"RECENT")
IDLE_RENEW_SECONDS = 25 * 60  # servers drop IDLE after 30 minutes (RFC 2177)
MAX_LETTER_BYTES = 50 * 1024 * 1024


class ImapError(Exception):
    """The server refused a command or the connection is gone; the session restarts."""


@dataclass
class _Retry:
    attempts: int
    due: float


@dataclass
class _Progress:
    """What this process knows about one folder within one UIDVALIDITY."""

    uidvalidity: int | None = None
    last_uid: int = 0
    catching_up: bool = True
    unmarked: set[int] = field(default_factory=set)
    retry: dict[int, _Retry] = field(default_factory=dict)


class ImapInbox:
    def __init__(
        self,
        server: MailServer,
        *,
        folder: str = "INBOX",
        processed_folder: str | None = None,
        poll_interval: float = 60.0,
        timeout: float = 30.0,
        idle_renew: float = IDLE_RENEW_SECONDS,
        reconnect_delays: tuple[float, float] = (1.0, 300.0),
        retry_delays: tuple[float, float] = (5.0, 600.0),
    ) -> None:
        self.server = server
        self.folder = folder
        self.processed_folder = processed_folder
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.idle_renew = idle_renew
        self.reconnect_delays = reconnect_delays
        self.retry_delays = retry_delays
        self._progress = _Progress()
        self._stopping = asyncio.Event()
        self._stopped = asyncio.Event()
        self._stopped.set()
        self._selected = False

    async def run(self, handle: LetterHandler) -> None:
        """Read letters until `stop()` or cancellation."""
        self._stopped.clear()
        try:
            await self._run(handle)
        finally:
            self._stopped.set()

    async def _run(self, handle: LetterHandler) -> None:
        backoff = Backoff(*self.reconnect_delays)
        failures = 0
        while not self._stopping.is_set():
            self._selected = False
            try:
                await self._session(handle)
            except Exception as exc:  # noqa: BLE001 - the inbox must outlive any failure
                if self._stopping.is_set():
                    break
                failures = 1 if self._selected else failures + 1  # a working session resets
                delay = backoff.delay(failures)
                expected = isinstance(
                    exc, (ImapError, OSError, asyncio.TimeoutError, aioimaplib.AioImapException)
                )
                log.log(
                    logging.WARNING if expected else logging.ERROR,
                    "IMAP %s:%s: %s; reconnecting in %.0f s",
                    self.server.host,
                    self.server.port,
                    str(exc) or type(exc).__name__,
                    delay,
                    exc_info=not expected,
                )
                await self._sleep(delay)

    async def stop(self, timeout: float = 10.0) -> None:
        """Finish the letter in hand (so it is not handed over again), then return."""
        self._stopping.set()
        if self._stopped.is_set():
            return
        try:
            await asyncio.wait_for(self._stopped.wait(), timeout)
        except TimeoutError:
            log.warning("IMAP inbox did not stop within %.0f s", timeout)

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            pass

    async def _session(self, handle: LetterHandler) -> None:
        lost = asyncio.Event()
        client = await self._connect(lost)
        try:
            await self._select(client, lost)
            for uid in sorted(self._progress.unmarked):
                await self._mark(client, lost, uid)
            if self._progress.catching_up:
                await self._catch_up(client, lost, handle)
            while not self._stopping.is_set():
                while await self._sync(client, lost, handle) and not self._stopping.is_set():
                    pass  # mail that came while we worked may have been announced already
                if client.has_capability("IDLE"):
                    await self._idle(client, lost)
                else:
                    await self._wait(lost, self._pause(self.poll_interval), self._stopping)
        finally:
            await self._close(client)

    async def _connect(self, lost: asyncio.Event) -> aioimaplib.IMAP4:
        server = self.server
        client = aioimaplib.IMAP4(
            host=server.host,
            port=server.port,
            timeout=self.timeout,
            conn_lost_cb=lambda _exc: lost.set(),
            ssl_context=server.tls_context() if server.security == "tls" else None,
        )
        try:
            await client.wait_hello_from_server()
            if server.security == "starttls":
                await self._starttls(client)
            if server.user is not None:
                response = await self._call(client.login(server.user, server.password or ""), lost)
                _expect_ok(response, "LOGIN")
            # what a server offers after login differs from before it (IDLE, MOVE, UIDPLUS)
            await self._call(client.protocol.capability(), lost)
        except BaseException:
            await self._close(client)
            raise
        return client

    async def _starttls(self, client: aioimaplib.IMAP4) -> None:
        protocol = client.protocol
        command = aioimaplib.Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)
        _expect_ok(await asyncio.wait_for(protocol.execute(command), self.timeout), "STARTTLS")
        context = self.server.tls_context()
        protocol.transport = await protocol.loop.start_tls(
            protocol.transport, protocol, context, server_hostname=self.server.host
        )
        await asyncio.wait_for(protocol.capability(), self.timeout)

    async def _select(self, client: aioimaplib.IMAP4, lost: asyncio.Event) -> None:
        """Select the folder; start over if what we knew about it no longer holds."""
        if self.processed_folder:
            target = imap_mailbox_name(self.processed_folder)
            response = await self._call(client.create(target), lost)
            exists = b"ALREADYEXISTS" in b" ".join(_lines(response)).upper()
            if response.result != "OK" and not exists:
                log.info("IMAP: could not create %r: %s", self.processed_folder, _text(response))
        response = await self._call(client.select(imap_mailbox_name(self.folder)), lost)
        _expect_ok(response, f"SELECT {self.folder}")
        validity = _number(_UIDVALIDITY, response)
        progress = self._progress
        self._selected = True
        if progress.uidvalidity is not None and validity == progress.uidvalidity:
            return
        if progress.uidvalidity is not None:
            log.warning("IMAP: UIDVALIDITY of %r changed, reading the folder again", self.folder)
        self._progress = _Progress(
            uidvalidity=validity, last_uid=max(0, (_number(_UIDNEXT, response) or 1) - 1)
        )

    async def _catch_up(
        self, client: aioimaplib.IMAP4, lost: asyncio.Event, handle: LetterHandler
    ) -> None:
        """Read what waited while we were away: unseen letters, or everything left in the
        folder when handled letters are moved out of it."""
        criteria = ("ALL",) if self.processed_folder else ("UNSEEN",)
        uids = await self._search(client, lost, *criteria)
        for uid in uids:
            if self._stopping.is_set():
                return
            await self._take(client, lost, handle, uid)
        self._progress.catching_up = False

    async def _sync(
        self, client: aioimaplib.IMAP4, lost: asyncio.Event, handle: LetterHandler
    ) -> int:
        """Take new letters and letters due for a retry; return how many were taken."""
        progress = self._progress
        _expect_ok(await self._call(client.noop(), lost), "NOOP")  # lets the server tell news
        new = [
            uid
            for uid in await self._search(client, lost, "UID", f"{progress.last_uid + 1}:*")
            if uid > progress.last_uid
        ]
        now = time.monotonic()
        due = [uid for uid, retry in progress.retry.items() if retry.due <= now]
        taken = sorted(set(new) | set(due))
        for uid in taken:
            if self._stopping.is_set():
                break
            await self._take(client, lost, handle, uid)
        return len(new)

    async def _take(
        self, client: aioimaplib.IMAP4, lost: asyncio.Event, handle: LetterHandler, uid: int
    ) -> None:
        """Fetch one letter, hand it over, and mark it once the handler returned. Until the
        handler returned it stays due for a retry: a take cut off halfway (the connection
        lost, the mailbox's lease lost and the reader cancelled) is taken again, although
        the search for new letters has moved past it."""
        progress = self._progress
        progress.last_uid = max(progress.last_uid, uid)
        progress.retry.setdefault(uid, _Retry(0, 0.0))
        raw = await self._fetch(client, lost, uid)
        if raw is None:  # expunged meanwhile
            progress.retry.pop(uid, None)
            return
        try:
            await handle(raw)
        except Exception:  # noqa: BLE001 - the store failed: keep the letter, try again later
            retry = progress.retry.get(uid, _Retry(0, 0.0))
            delay = Backoff(*self.retry_delays).delay(retry.attempts + 1)
            progress.retry[uid] = _Retry(retry.attempts + 1, time.monotonic() + delay)
            log.exception("IMAP: letter uid %s was not stored, retrying in %.0f s", uid, delay)
            return
        progress.retry.pop(uid, None)
        progress.unmarked.add(uid)
        await self._mark(client, lost, uid)

    async def _fetch(self, client: aioimaplib.IMAP4, lost: asyncio.Event, uid: int) -> bytes | None:
        """The letter's bytes (at most MAX_LETTER_BYTES: a bigger one arrives cut, and the
        parser keeps what it can). BODY.PEEK leaves the Seen flag alone; aioimaplib's own timeout
        here counts silence, not the whole transfer, so a big letter is not cut short."""
        response = await self._wait(
            lost, client.uid("fetch", str(uid), f"(UID BODY.PEEK[]<0.{MAX_LETTER_BYTES}>)")
        )
        _expect_ok(response, "FETCH")
        literals = [bytes(line) for line in response.lines if isinstance(line, bytearray)]
        return literals[0] if literals else None

    async def _mark(self, client: aioimaplib.IMAP4, lost: asyncio.Event, uid: int) -> None:
        if self.processed_folder:
            target = imap_mailbox_name(self.processed_folder)
            if client.has_capability("MOVE"):
                _expect_ok(await self._call(client.uid("move", str(uid), target), lost), "MOVE")
            else:
                _expect_ok(await self._call(client.uid("copy", str(uid), target), lost), "COPY")
                flags = "+FLAGS.SILENT (\\Seen \\Deleted)"
                _expect_ok(await self._call(client.uid("store", str(uid), flags), lost), "STORE")
                if client.has_capability("UIDPLUS"):
                    _expect_ok(await self._call(client.uid("expunge", str(uid)), lost), "EXPUNGE")
                else:
                    _expect_ok(await self._call(client.expunge(), lost), "EXPUNGE")
        else:
            _expect_ok(
                await self._call(client.uid("store", str(uid), "+FLAGS.SILENT (\\Seen)"), lost),
                "STORE",
            )
        self._progress.unmarked.discard(uid)

    async def _search(
        self, client: aioimaplib.IMAP4, lost: asyncio.Event, *criteria: str
    ) -> list[int]:
        response = await self._call(client.uid_search(*criteria, charset=None), lost)
        _expect_ok(response, "SEARCH")
        uids: list[int] = []
        for line in _lines(response)[:-1]:
            uids += [int(token) for token in line.split() if token.isdigit()]  # bytes: 0-9 only
        return sorted(set(uids))

    async def _idle(self, client: aioimaplib.IMAP4, lost: asyncio.Event) -> None:
        """Wait in IDLE until the server reports new mail, a retry is due, or the poll
        interval passed: a new-mail notice that came as part of an earlier command's
        response is swallowed by aioimaplib, so IDLE alone could sleep through it."""
        wake_in = max(0.05, min(self.idle_renew, self.poll_interval, self._next_retry_in()))
        idle = await self._call(client.idle_start(timeout=wake_in), lost)
        try:
            while not self._stopping.is_set():
                waiting = client.wait_server_push(timeout=wake_in + self.timeout)
                push = await self._wait(lost, waiting, self._stopping)
                if push is None or push == aioimaplib.STOP_WAIT_SERVER_PUSH:
                    return
                lines = [bytes(line) for line in (push if isinstance(push, list) else [push])]
                if any(line.startswith(b"BYE") for line in lines):
                    raise ImapError("server said BYE")
                if any(word in line for line in lines for word in _PUSH_WAKE):
                    return
        finally:
            if not lost.is_set() and client.has_pending_idle():
                client.idle_done()
                await self._call(idle, lost)

    def _next_retry_in(self) -> float:
        retry = self._progress.retry
        return min((r.due for r in retry.values()), default=float("inf")) - time.monotonic()

    async def _pause(self, seconds: float) -> None:
        await asyncio.sleep(max(0.05, min(seconds, self._next_retry_in())))

    async def _call(self, awaitable: Awaitable[T], lost: asyncio.Event) -> T:
        """Await an IMAP command, giving up when the connection is lost or it hangs:
        aioimaplib leaves some commands waiting forever on a dead connection."""
        return await self._wait(lost, asyncio.wait_for(awaitable, self.timeout))

    @overload
    async def _wait(self, lost: asyncio.Event, awaitable: Awaitable[T]) -> T: ...

    @overload
    async def _wait(
        self, lost: asyncio.Event, awaitable: Awaitable[T], interrupt: asyncio.Event
    ) -> T | None: ...

    async def _wait(
        self, lost: asyncio.Event, awaitable: Awaitable[T], interrupt: asyncio.Event | None = None
    ) -> T | None:
        """Await `awaitable`; raise if the connection is lost first, return None if
        `interrupt` is set first."""
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

    async def _close(self, client: aioimaplib.IMAP4) -> None:
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


def imap_mailbox_name(name: str) -> str:
    """A folder name as IMAP wants it: modified UTF-7 (RFC 3501), quoted if needed."""
    encoded: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            data = base64.b64encode("".join(pending).encode("utf-16-be")).decode()
            encoded.append("&" + data.rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            encoded.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    text = "".join(encoded)
    if re.search(r'[\s"\\(){%*\]]', text) or not text:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def _lines(response: aioimaplib.Response) -> list[bytes]:
    return [bytes(line) for line in response.lines]


def _text(response: aioimaplib.Response) -> str:
    return b" ".join(_lines(response)).decode("utf-8", "replace")[:300]


def _expect_ok(response: aioimaplib.Response, what: str) -> None:
    if response.result != "OK":
        raise ImapError(f"{what} failed: {response.result} {_text(response)}")


def _number(pattern: re.Pattern[bytes], response: aioimaplib.Response) -> int | None:
    for line in _lines(response):
        match = pattern.search(line)
        if match:
            return int(match.group(1))
    return None
