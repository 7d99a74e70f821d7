"""The audit log: sign-ins (and failed ones), sign-outs, and what admins do to accounts
and merges. A row is added to the caller's session so it commits with the change it
records, or not at all."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import SessionFactory
from core.models import AuditEntry, utcnow

__all__ = ["audit", "recent_audit"]


def audit(
    session: AsyncSession,
    action: str,
    *,
    operator_id: int | None = None,
    actor_id: int | None = None,
    address: str | None = None,
    at: dt.datetime | None = None,
    **detail: Any,
) -> None:
    """Record `action` about `operator_id`, done by `actor_id` (None: the server's CLI or
    the start-up) from `address`."""
    session.add(
        AuditEntry(
            action=action,
            operator_id=operator_id,
            actor_id=actor_id,
            address=address[:64] if address else None,
            at=at or utcnow(),
            detail=detail,
        )
    )


async def recent_audit(sessions: SessionFactory, limit: int = 50) -> list[AuditEntry]:
    async with sessions() as session:
        return list(
            await session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit))
        )
