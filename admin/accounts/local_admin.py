"""The local admin of `make run`: a loopback start with no admin but this one makes it if
needed and gets a fresh one-time sign-in link for it; a non-loopback start refuses while it
is active."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select

from admin.accounts.errors import AccountError
from admin.accounts.links import LinkPurpose
from core.db import SessionFactory
from core.models import Operator, OperatorGroup, OperatorRole

if TYPE_CHECKING:
    from admin.accounts.accounts import Accounts

__all__ = ["LOCAL_ADMIN", "LocalAdmin"]

LOCAL_ADMIN = "admin"


class LocalAdmin:
    def __init__(self, sessions: SessionFactory, accounts: Accounts) -> None:
        self._sessions = sessions
        self._accounts = accounts  # makes the admin and issues its link

    async def link(self, groups: Sequence[str]) -> str | None:
        """On a loopback start with no admin but the local one: make that admin if needed
        and return a fresh one-time sign-in token for it (None when a real admin exists).
        The local admin serves `groups`, every group the service levels route to, so each
        hand-off of a try-out reaches the one person trying it."""
        async with self._sessions() as session:
            admins = list(
                await session.scalars(
                    select(Operator).where(
                        Operator.role == OperatorRole.ADMIN, Operator.active.is_(True)
                    )
                )
            )
        if any(not admin.local_demo for admin in admins):
            return None
        if not admins:
            async with self._sessions() as session:
                if await session.scalar(select(Operator.id).where(Operator.login == LOCAL_ADMIN)):
                    raise AccountError(
                        f"an operator signs in as {LOCAL_ADMIN!r} but no admin "
                        "exists: make one with switchboard operators add NAME "
                        "--role admin"
                    )
        if admins:
            admin = admins[0]
            await self._serve_too(admin.id, groups)
        else:
            admin = await self._accounts.save(
                "Admin", login=LOCAL_ADMIN, role=OperatorRole.ADMIN, groups=groups, local_demo=True
            )
        return await self._accounts.issue_link(admin.id, LinkPurpose.SIGN_IN, via="local start")

    async def _serve_too(self, operator_id: int, groups: Sequence[str]) -> None:
        """Add the groups an operator does not serve yet (a desk's new ones since)."""
        async with self._sessions() as session:
            served = set(
                await session.scalars(
                    select(OperatorGroup.group).where(OperatorGroup.operator_id == operator_id)
                )
            )
            session.add_all(
                OperatorGroup(operator_id=operator_id, group=g) for g in groups if g not in served
            )
            await session.commit()

    async def active_logins(self) -> list[str]:
        """Logins of active local admins: a non-loopback start refuses while there are any."""
        async with self._sessions() as session:
            return list(
                await session.scalars(
                    select(Operator.login).where(
                        Operator.local_demo.is_(True), Operator.active.is_(True)
                    )
                )
            )
