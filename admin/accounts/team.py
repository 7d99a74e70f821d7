"""The team as admins see and manage it: who is on it (with their last sign-in), an admin's
changes to a teammate from the console (`Team`: let in or out; role, groups, capacity), and
the rule that keeps it manageable: an admin never disables or demotes themselves, and the
last active admin stays one."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.accounts.audit import audit
from admin.accounts.errors import AccountError
from admin.accounts.logins import normal_login
from admin.accounts.sessions import ConsoleSessions
from core.db import SessionFactory
from core.models import AuditEntry, Operator, OperatorGroup, OperatorRole

__all__ = ["Member", "Team", "by_id", "by_login", "keeping_an_admin", "roster"]

SIGN_INS = ("signed_in", "invite_accepted")


@dataclass(frozen=True, slots=True)
class Member:
    operator: Operator
    last_sign_in: dt.datetime | None


async def roster(sessions: SessionFactory) -> list[Member]:
    """Every operator, active ones first, with when they last signed in (from the audit log)."""
    async with sessions() as session:
        operators = list(
            await session.scalars(
                select(Operator).order_by(Operator.active.desc(), Operator.name, Operator.id)
            )
        )
        last: dict[int | None, dt.datetime] = {
            operator_id: at
            for operator_id, at in await session.execute(
                select(AuditEntry.operator_id, func.max(AuditEntry.at))
                .where(AuditEntry.action.in_(SIGN_INS), AuditEntry.operator_id.is_not(None))
                .group_by(AuditEntry.operator_id)
            )
        }
    return [Member(operator, last.get(operator.id)) for operator in operators]


async def by_id(session: AsyncSession, operator_id: int) -> Operator:
    operator = await session.get(Operator, operator_id)
    if operator is None:
        raise AccountError(f"there is no operator #{operator_id}", "unknown_operator")
    return operator


async def by_login(session: AsyncSession, login: str) -> Operator:
    wanted = normal_login(login)
    operator = await session.scalar(select(Operator).where(Operator.login == wanted))
    if operator is None:
        raise AccountError(f"no operator signs in as {wanted!r}", "unknown_operator")
    return operator


def is_active_admin(operator: Operator) -> bool:
    return operator.active and operator.role is OperatorRole.ADMIN


async def may_lose_admin(session: AsyncSession, operator: Operator, *, actor_id: int) -> None:
    """Before a change that takes an active admin's rights away: never the actor's own, and
    the active admins' rows are locked (on databases that lock rows) until the commit, so
    two admins demoting each other at once are taken one after the other."""
    if operator.id == actor_id:
        raise AccountError("an admin cannot disable or demote themselves", "self")
    await session.execute(
        select(Operator.id)
        .where(Operator.role == OperatorRole.ADMIN, Operator.active.is_(True))
        .with_for_update()
    )


async def an_admin_remains(session: AsyncSession) -> None:
    """After that change is flushed (SQLite has taken its one writer's lock by then, so an
    admin demoted meanwhile is seen): refuse it if no active admin is left."""
    await session.flush()
    left = await session.scalar(
        select(func.count())
        .select_from(Operator)
        .where(Operator.role == OperatorRole.ADMIN, Operator.active.is_(True))
    )
    if not left:
        raise AccountError("the last active admin cannot be disabled or demoted", "last_admin")


@asynccontextmanager
async def keeping_an_admin(
    session: AsyncSession, operator: Operator, *, actor_id: int
) -> AsyncIterator[None]:
    """Around a change to `operator` (disable, demote): if it takes an active admin's rights
    away, it is not the actor's own and at least one active admin is left."""
    losing = is_active_admin(operator)
    if losing:
        await may_lose_admin(session, operator, actor_id=actor_id)
    yield
    if losing and not is_active_admin(operator):
        await an_admin_remains(session)


class Team:
    """An admin's changes to another operator, each audited in the same transaction."""

    def __init__(
        self,
        sessions: SessionFactory,
        console: ConsoleSessions,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self._sessions = sessions
        self._console = console
        self._clock = clock

    async def set_active(self, operator_id: int, active: bool, *, actor_id: int) -> Operator:
        """An admin disables an operator (their sessions end) or lets them back in; never
        themselves, never the last active admin."""
        async with self._sessions() as session:
            operator = await by_id(session, operator_id)
            if operator.active == active:
                return operator
            async with keeping_an_admin(session, operator, actor_id=actor_id):
                operator.active = active
                if not active:
                    await self._console.close_all(session, operator.id)
            audit(
                session,
                "operator_enabled" if active else "operator_disabled",
                operator_id=operator.id,
                actor_id=actor_id,
                at=self._clock(),
            )
            await session.commit()
            return operator

    async def change(
        self,
        operator_id: int,
        *,
        actor_id: int,
        role: OperatorRole | None = None,
        groups: Sequence[str] | None = None,
        capacity: int | None = None,
    ) -> Operator:
        """An admin changes an operator's role, groups or capacity; the audit row says what
        was and what is. An admin never demotes themselves or the last active admin."""
        async with self._sessions() as session:
            operator = await by_id(session, operator_id)
            changed: dict[str, Any] = {}  # field: [before, after]
            if role is not None and role is not operator.role:
                async with keeping_an_admin(session, operator, actor_id=actor_id):
                    changed["role"] = [operator.role.value, role.value]
                    operator.role = role
            if groups is not None and sorted(set(groups)) != operator.group_names:
                changed["groups"] = [operator.group_names, sorted(set(groups))]
                operator.groups = [OperatorGroup(group=g) for g in sorted(set(groups))]
            if capacity is not None and capacity != operator.capacity:
                changed["capacity"] = [operator.capacity, capacity]
                operator.capacity = capacity
            if changed:
                audit(
                    session,
                    "operator_changed",
                    operator_id=operator.id,
                    actor_id=actor_id,
                    at=self._clock(),
                    **changed,
                )
                await session.commit()
            return operator
