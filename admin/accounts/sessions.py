"""Console sessions: a random token in an HttpOnly cookie, its sha256 in the database,
an absolute expiry. Signing out, a new password, or disabling the operator ends them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.accounts.tokens import MAX_TOKEN, new_token, token_hash
from core.db import SessionFactory
from core.models import Operator, OperatorSession, utcnow

__all__ = ["ConsoleSessions"]


class ConsoleSessions:
    def __init__(
        self, sessions: SessionFactory, ttl: dt.timedelta, clock: Callable[[], dt.datetime] = utcnow
    ) -> None:
        self._sessions = sessions
        self.ttl = ttl
        self._clock = clock

    def open(self, session: AsyncSession, operator_id: int, address: str | None) -> str:
        """Add a session for the operator to `session` (committed by the caller); its token."""
        token, hashed = new_token()
        now = self._clock()
        session.add(
            OperatorSession(
                token_hash=hashed,
                operator_id=operator_id,
                created_at=now,
                expires_at=now + self.ttl,
                address=address[:64] if address else None,
            )
        )
        return token

    async def operator(self, token: str | None) -> Operator | None:
        """The active operator signed in with `token`, or None (unknown, expired, disabled)."""
        if not token or len(token) > MAX_TOKEN:
            return None
        async with self._sessions() as session:
            return await session.scalar(
                select(Operator)
                .join(OperatorSession, OperatorSession.operator_id == Operator.id)
                .where(
                    OperatorSession.token_hash == token_hash(token),
                    OperatorSession.expires_at > self._clock(),
                    Operator.active.is_(True),
                )
            )

    async def close(self, session: AsyncSession, token: str) -> int | None:
        """End one session; the operator it belonged to, if it existed."""
        if len(token) > MAX_TOKEN:
            return None
        row = await session.get(OperatorSession, token_hash(token))
        if row is None:
            return None
        await session.delete(row)
        return row.operator_id

    @staticmethod
    async def close_all(session: AsyncSession, operator_id: int) -> None:
        await session.execute(
            delete(OperatorSession).where(OperatorSession.operator_id == operator_id)
        )
