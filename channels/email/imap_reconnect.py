"""Keeping an IMAP inbox connected: its sessions run one after another until it is stopped,
and after a failed one the next waits with exponential backoff, which starts over once a
session got as far as its folder."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import aioimaplib

from channels.email.imap_connection import ImapError
from channels.email.servers import MailServer
from core.retry import Backoff

__all__ = ["ReconnectLoop"]

log = logging.getLogger(__name__)


class ReconnectLoop:
    def __init__(self) -> None:
        self.stopping = asyncio.Event()
        self._stopped = asyncio.Event()
        self._stopped.set()
        self._working = False

    def session_works(self) -> None:
        """The running session reached its folder: a failure after this is a first one."""
        self._working = True

    async def run(
        self,
        session: Callable[[], Awaitable[None]],
        server: MailServer,
        delays: tuple[float, float],
    ) -> None:
        """Run `session()` again and again until `stop()` or cancellation."""
        self._stopped.clear()
        try:
            await self._run(session, server, Backoff(*delays))
        finally:
            self._stopped.set()

    async def _run(
        self, session: Callable[[], Awaitable[None]], server: MailServer, backoff: Backoff
    ) -> None:
        failures = 0
        while not self.stopping.is_set():
            self._working = False
            try:
                await session()
            except Exception as exc:  # noqa: BLE001 - the inbox must outlive any failure
                if self.stopping.is_set():
                    break
                failures = 1 if self._working else failures + 1  # a working session resets
                delay = backoff.delay(failures)
                expected = isinstance(
                    exc, (ImapError, OSError, asyncio.TimeoutError, aioimaplib.AioImapException)
                )
                log.log(
                    logging.WARNING if expected else logging.ERROR,
                    "IMAP %s:%s: %s; reconnecting in %.0f s",
                    server.host,
                    server.port,
                    str(exc) or type(exc).__name__,
                    delay,
                    exc_info=not expected,
                )
                await self._sleep(delay)

    async def stop(self, timeout: float = 10.0) -> None:
        """Let the running session finish what it has in hand, then return."""
        self.stopping.set()
        if self._stopped.is_set():
            return
        try:
            await asyncio.wait_for(self._stopped.wait(), timeout)
        except TimeoutError:
            log.warning("IMAP inbox did not stop within %.0f s", timeout)

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self.stopping.wait(), seconds)
        except TimeoutError:
            pass
