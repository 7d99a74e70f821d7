"""The admin bot's small live state in Redis: each operator's active conversation, and
one-time invite codes. Keys are built in `core.keys`."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from redis.asyncio import Redis

from core import keys
from routing.queue import as_text

__all__ = ["ActiveConversations", "Invites"]

INVITE_TTL = dt.timedelta(days=2)


class ActiveConversations:
    """Which of the conversations an operator holds their plain messages go to."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def get(self, operator_id: int) -> int | None:
        value = await self._redis.get(keys.operator_active(operator_id))
        return int(as_text(value)) if value is not None else None

    async def set(self, operator_id: int, conversation_id: int) -> None:
        await self._redis.set(keys.operator_active(operator_id), conversation_id)

    async def clear(self, operator_id: int, conversation_id: int) -> None:
        """Forget the active conversation if it is still `conversation_id`."""
        key = keys.operator_active(operator_id)
        if await self.get(operator_id) == conversation_id:
            await self._redis.delete(key)


class Invites:
    """One-time codes that link a Telegram account to an operator: `/start CODE`. Redis
    keeps only a code's SHA-256 (96 random bits: nothing to guess back)."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def issue(self, operator_id: int, ttl: dt.timedelta = INVITE_TTL) -> str:
        # Telegram deep-link payloads allow A-Z a-z 0-9 _ - (token_urlsafe's alphabet).
        code = secrets.token_urlsafe(12)
        await self._redis.set(
            keys.operator_invite(_digest(code)), operator_id, ex=int(ttl.total_seconds())
        )
        return code

    async def redeem(self, code: str) -> int | None:
        """The operator the code was issued for; the code is gone afterwards."""
        if not code or len(code) > 64:
            return None
        value = await self._redis.getdel(keys.operator_invite(_digest(code)))
        return int(as_text(value)) if value is not None else None


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()
