"""Operators signing in to the console and out: with a password (backed off per account and
per address), with a one-time sign-in link, or by accepting an invite (which sets the
password). Each opens or ends a console session and writes its audit row in the same
transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.accounts.audit import audit
from admin.accounts.links import LinkPurpose, OneTimeLinks
from admin.accounts.logins import MAX_LOGIN, normal_login
from admin.accounts.passwords import hash_password, verify_password
from admin.accounts.sessions import ConsoleSessions
from admin.accounts.throttle import SignInThrottle
from core.db import SessionFactory
from core.models import Operator

__all__ = ["SignIns", "SignedIn"]


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The outcome of a sign-in: a session token, or how long to wait (0: just wrong)."""

    operator: Operator | None
    token: str | None = None
    retry_after: int = 0


class SignIns:
    def __init__(
        self,
        sessions: SessionFactory,
        console: ConsoleSessions,
        links: OneTimeLinks,
        throttle: SignInThrottle,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self._sessions = sessions
        self._console = console
        self._links = links
        self._throttle = throttle
        self._clock = clock

    async def with_password(self, login: str, password: str, address: str) -> SignedIn:
        """Password sign-in with back-off per account and per address."""
        wanted = normal_login(login)[:MAX_LOGIN]
        wait = await self._throttle.wait(wanted, address)
        if wait:
            return SignedIn(None, retry_after=wait)
        async with self._sessions() as session:
            operator = await session.scalar(select(Operator).where(Operator.login == wanted))
            stored = operator.password_hash if operator is not None and operator.active else None
            if not await verify_password(stored, password) or operator is None:
                audit(
                    session,
                    "sign_in_failed",
                    operator_id=operator.id if operator else None,
                    address=address,
                    at=self._clock(),
                    login=wanted,
                )
                await session.commit()
                return SignedIn(None, retry_after=await self._throttle.failed(wanted, address))
            signed_in = await self._open(session, operator, address, "signed_in", via="password")
        await self._throttle.succeeded(wanted)
        return signed_in

    async def with_link(self, link: str, address: str) -> SignedIn:
        async with self._sessions() as session:
            operator = await self._links.spend(session, link, LinkPurpose.SIGN_IN)
            if operator is None:
                return SignedIn(None)
            return await self._open(session, operator, address, "signed_in", via="link")

    async def accept_invite(self, link: str, password: str, address: str) -> SignedIn:
        """Set the invited operator's password (policy checked first, so a rejected one
        leaves the invite usable) and sign them in."""
        hashed = await hash_password(password)
        async with self._sessions() as session:
            operator = await self._links.spend(session, link, LinkPurpose.INVITE)
            if operator is None:
                return SignedIn(None)
            operator.password_hash = hashed
            await self._console.close_all(session, operator.id)
            return await self._open(session, operator, address, "invite_accepted")

    async def _open(
        self,
        session: AsyncSession,
        operator: Operator,
        address: str,
        event: str,
        **details: Any,
    ) -> SignedIn:
        """Open the operator's console session, audited as `event`, and commit."""
        token = self._console.open(session, operator.id, address)
        audit(session, event, operator_id=operator.id, address=address, at=self._clock(), **details)
        await session.commit()
        return SignedIn(operator, token)

    async def sign_out(self, token: str, address: str) -> int | None:
        """End a console session; returns whose it was (None when it had ended already)."""
        async with self._sessions() as session:
            operator_id = await self._console.close(session, token)
            if operator_id is not None:
                audit(
                    session,
                    "signed_out",
                    operator_id=operator_id,
                    address=address,
                    at=self._clock(),
                )
            await session.commit()
        return operator_id
