"""Inbound mail over IMAP: every letter in the folder reaches the handler, and is marked
(\\Seen, or moved to a processed folder) only after the handler returned.

IDLE when the server offers it, polling otherwise; on any connection problem the
session is dropped and rebuilt with exponential backoff. Within one UIDVALIDITY the
highest UID seen is remembered, so after a reconnect only newer letters are fetched;
letters the handler failed on are retried with their own backoff, and letters handled
but not yet marked are only marked, never handed over again. After a restart the
unseen letters (or, with a processed folder, all letters left in the folder) are read.

This module is the mailbox's sync; the connection and its commands are in
channels/email/imap_connection.py, the reconnecting in channels/email/imap_reconnect.py,
and the folder names' encoding in channels/email/imap_utf7.py.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from channels.email.imap_connection import (
    ImapConnection,
    ImapError,
    expect_ok,
    response_lines,
    response_number,
    response_text,
)
from channels.email.imap_reconnect import ReconnectLoop
from channels.email.imap_utf7 import imap_mailbox_name
from channels.email.servers import MailServer
from core.retry import Backoff

__all__ = ["ImapError", "ImapInbox", "LetterHandler", "imap_mailbox_name"]

log = logging.getLogger(__name__)

LetterHandler = Callable[[bytes], Awaitable[None]]

_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_UIDNEXT = re.compile(rb"\[UIDNEXT (\d+)\]")
IDLE_RENEW_SECONDS = 25 * 60  # servers drop IDLE after 30 minutes (RFC 2177)
MAX_LETTER_BYTES = 50 * 1024 * 1024


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

    def next_retry_in(self) -> float:
        """Seconds until the first letter the handler failed on is due again."""
        return min((r.due for r in self.retry.values()), default=float("inf")) - time.monotonic()


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
        self._reconnecting = ReconnectLoop()
        self._stopping = self._reconnecting.stopping

    async def run(self, handle: LetterHandler) -> None:
        """Read letters until `stop()` or cancellation."""
        await self._reconnecting.run(
            lambda: self._session(handle), self.server, self.reconnect_delays
        )

    async def stop(self, timeout: float = 10.0) -> None:
        """Finish the letter in hand (so it is not handed over again), then return."""
        await self._reconnecting.stop(timeout)

    async def _session(self, handle: LetterHandler) -> None:
        connection = await ImapConnection.open(self.server, self.timeout)
        try:
            await self._select(connection)
            for uid in sorted(self._progress.unmarked):
                await self._mark(connection, uid)
            if self._progress.catching_up:
                await self._catch_up(connection, handle)
            while not self._stopping.is_set():
                while await self._sync(connection, handle) and not self._stopping.is_set():
                    pass  # mail that came while we worked may have been announced already
                if connection.has_capability("IDLE"):
                    # a new-mail notice that came as part of an earlier command's response is
                    # swallowed by aioimaplib, so IDLE alone could sleep through it: it ends
                    # when the poll interval passed or a retry is due, too
                    wake_in = min(
                        self.idle_renew, self.poll_interval, self._progress.next_retry_in()
                    )
                    await connection.idle(max(0.05, wake_in), self._stopping)
                else:
                    await connection.wait(self._pause(self.poll_interval), self._stopping)
        finally:
            await connection.close()

    async def _select(self, connection: ImapConnection) -> None:
        """Select the folder; start over if what we knew about it no longer holds."""
        client = connection.client
        if self.processed_folder:
            target = imap_mailbox_name(self.processed_folder)
            response = await connection.call(client.create(target))
            exists = b"ALREADYEXISTS" in b" ".join(response_lines(response)).upper()
            if response.result != "OK" and not exists:
                log.info(
                    "IMAP: could not create %r: %s", self.processed_folder, response_text(response)
                )
        response = await connection.call(client.select(imap_mailbox_name(self.folder)))
        expect_ok(response, f"SELECT {self.folder}")
        validity = response_number(_UIDVALIDITY, response)
        progress = self._progress
        self._reconnecting.session_works()
        if progress.uidvalidity is not None and validity == progress.uidvalidity:
            return
        if progress.uidvalidity is not None:
            log.warning("IMAP: UIDVALIDITY of %r changed, reading the folder again", self.folder)
        self._progress = _Progress(
            uidvalidity=validity, last_uid=max(0, (response_number(_UIDNEXT, response) or 1) - 1)
        )

    async def _catch_up(self, connection: ImapConnection, handle: LetterHandler) -> None:
        """Read what waited while we were away: unseen letters, or everything left in the
        folder when handled letters are moved out of it."""
        criteria = ("ALL",) if self.processed_folder else ("UNSEEN",)
        uids = await connection.search(*criteria)
        for uid in uids:
            if self._stopping.is_set():
                return
            await self._take(connection, handle, uid)
        self._progress.catching_up = False

    async def _sync(self, connection: ImapConnection, handle: LetterHandler) -> int:
        """Take new letters and letters due for a retry; return how many were taken."""
        progress = self._progress
        # NOOP lets the server tell news
        expect_ok(await connection.call(connection.client.noop()), "NOOP")
        new = [
            uid
            for uid in await connection.search("UID", f"{progress.last_uid + 1}:*")
            if uid > progress.last_uid
        ]
        now = time.monotonic()
        due = [uid for uid, retry in progress.retry.items() if retry.due <= now]
        taken = sorted(set(new) | set(due))
        for uid in taken:
            if self._stopping.is_set():
                break
            await self._take(connection, handle, uid)
        return len(new)

    async def _take(self, connection: ImapConnection, handle: LetterHandler, uid: int) -> None:
        """Fetch one letter, hand it over, and mark it once the handler returned. Until the
        handler returned it stays due for a retry: a take cut off halfway (the connection
        lost, the mailbox's lease lost and the reader cancelled) is taken again, although
        the search for new letters has moved past it."""
        progress = self._progress
        progress.last_uid = max(progress.last_uid, uid)
        progress.retry.setdefault(uid, _Retry(0, 0.0))
        # at most MAX_LETTER_BYTES: a bigger one arrives cut, and the parser keeps what it can
        raw = await connection.fetch(uid, MAX_LETTER_BYTES)
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
        await self._mark(connection, uid)

    async def _mark(self, connection: ImapConnection, uid: int) -> None:
        client, call = connection.client, connection.call
        if self.processed_folder:
            target = imap_mailbox_name(self.processed_folder)
            if connection.has_capability("MOVE"):
                expect_ok(await call(client.uid("move", str(uid), target)), "MOVE")
            else:
                expect_ok(await call(client.uid("copy", str(uid), target)), "COPY")
                flags = "+FLAGS.SILENT (\\Seen \\Deleted)"
                expect_ok(await call(client.uid("store", str(uid), flags)), "STORE")
                if connection.has_capability("UIDPLUS"):
                    expect_ok(await call(client.uid("expunge", str(uid))), "EXPUNGE")
                else:
                    expect_ok(await call(client.expunge()), "EXPUNGE")
        else:
            flags = "+FLAGS.SILENT (\\Seen)"
            expect_ok(await call(client.uid("store", str(uid), flags)), "STORE")
        self._progress.unmarked.discard(uid)

    async def _pause(self, seconds: float) -> None:
        await asyncio.sleep(max(0.05, min(seconds, self._progress.next_retry_in())))
