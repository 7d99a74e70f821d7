"""One-time links: an invite (set your password) or a sign-in link (from the admin bot or
the CLI). Only the token's sha256 is stored; a link expires and works once: spending it
is one conditional UPDATE, so two clicks racing cannot both win."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from admin.accounts.tokens import MAX_TOKEN, new_token, token_hash
from core.db import SessionFactory
from core.models import Operator, OperatorToken, utcnow

__all__ = ["LinkPurpose", "OneTimeLinks", "link_path"]


class LinkPurpose(str, enum.Enum):
    INVITE = "invite"
    SIGN_IN = "signin"


SIGN_IN_TTL = dt.timedelta(minutes=15)
INVITE_TTL = dt.timedelta(hours=48)


def link_path(purpose: LinkPurpose, token: str) -> str:
    return f"/operator/{'invite' if purpose is LinkPurpose.INVITE else 'link'}/{token}"


class OneTimeLinks:
    def __init__(self, sessions: SessionFactory, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self._sessions = sessions
        self._clock = clock

    def issue(
        self,
        session: AsyncSession,
        operator_id: int,
        purpose: LinkPurpose,
        ttl: dt.timedelta | None = None,
    ) -> str:
        token, hashed = new_token()
        now = self._clock()
        lasts = ttl or (INVITE_TTL if purpose is LinkPurpose.INVITE else SIGN_IN_TTL)
        session.add(
            OperatorToken(
                token_hash=hashed,
                operator_id=operator_id,
                purpose=purpose.value,
                created_at=now,
                expires_at=now + lasts,
            )
        )
        return token

    async def peek(self, token: str, purpose: LinkPurpose) -> Operator | None:
        """The active operator a still-valid link is for, without spending it."""
        if not token or len(token) > MAX_TOKEN:
            return None
        async with self._sessions() as session:
            return await session.scalar(
                select(Operator)
                .join(OperatorToken, OperatorToken.operator_id == Operator.id)
                .where(*self._valid(token, purpose), Operator.active.is_(True))
            )

    async def spend(
        self, session: AsyncSession, token: str, purpose: LinkPurpose
    ) -> Operator | None:
        """Mark the link used (in `session`, committed by the caller); the active operator
        it was for, or None when it is unknown, expired or already used."""
        if not token or len(token) > MAX_TOKEN:
            return None
        spent = await session.execute(
            update(OperatorToken)
            .where(*self._valid(token, purpose))
            .values(used_at=self._clock())
            .returning(OperatorToken.operator_id)
        )
        operator_id = spent.scalar()
        if operator_id is None:
            return None
        operator = await session.get(Operator, operator_id)
        return operator if operator is not None and operator.active else None

    def _valid(self, token: str, purpose: LinkPurpose) -> tuple[ColumnElement[bool], ...]:
        return (
            OperatorToken.token_hash == token_hash(token),
            OperatorToken.purpose == purpose.value,
            OperatorToken.used_at.is_(None),
            OperatorToken.expires_at > self._clock(),
        )
