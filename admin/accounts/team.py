"""The team as admins see and manage it: who is on it (with their last sign-in) and the
rule that keeps it manageable: an admin never disables or demotes themselves, and the
last active admin stays one."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.accounts.errors import AccountError
from core.db import SessionFactory
from core.models import AuditEntry, Operator, OperatorRole

__all__ = ["Member", "by_id", "keeping_an_admin", "roster"]

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
