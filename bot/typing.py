"""Showing a client that an operator is writing to them, in the channel they wrote from.

A signal, never stored: sent at most once every few seconds a chat (a messenger shows it
about that long, and Telegram counts every call against the bot's limits), and never an
error for the operator: a channel that cannot show it (email), or fails to, stays silent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from core.contracts import ChannelAdapter, ChannelKind

__all__ = ["TypingSignals"]

log = logging.getLogger(__name__)

EVERY = 4.0  # seconds between two signals to one chat
REMEMBERED = 10_000  # chats whose last signal is kept before the old ones are forgotten


class TypingSignals:
    def __init__(
        self,
        adapters: Mapping[ChannelKind, ChannelAdapter],
        *,
        every: float = EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._adapters = adapters
        self._every = every
        self._clock = clock
        self._last: dict[tuple[ChannelKind, str], float] = {}

    async def show(self, channel: ChannelKind, chat_id: str) -> bool:
        """Signal "typing" to the chat; False when skipped (too soon, or no way to show it)."""
        typing = getattr(self._adapters.get(channel), "typing", None)
        now, key = self._clock(), (channel, chat_id)
        if typing is None or now - self._last.get(key, -self._every) < self._every:
            return False
        if len(self._last) >= REMEMBERED:
            self._last = {k: at for k, at in self._last.items() if now - at < self._every}
        self._last[key] = now
        try:
            await typing(chat_id)
        except Exception as exc:  # a hint to the client, not worth an operator's error
            log.info("typing signal to %s chat %s not shown: %s", channel.value, chat_id, exc)
            return False
        return True
