"""Merging two clients by hand from the console: an admin's decision, in the audit log.

The merge itself is identity/merge.py's (one transaction, queue made to agree, a notice on
the desk feed); undoing one is `admin.desk.merging.Merging.unmerge`, which is audited the same way.
"""

from __future__ import annotations

import datetime as dt

from admin.accounts.audit import audit
from core.db import SessionFactory
from core.events import DeskFeed
from core.models import Operator, OperatorRole
from identity.merge import MergeSummary, merge_clients
from routing.queue import OperatorQueue

__all__ = ["merge_by_admin"]


async def merge_by_admin(
    sessions: SessionFactory,
    queue: OperatorQueue,
    feed: DeskFeed,
    *,
    actor: Operator,
    survivor_id: int,
    merged_id: int,
    note: str | None,
    now: dt.datetime,
) -> MergeSummary:
    """Merge client `merged_id` into `survivor_id`; `PermissionError` for a non-admin,
    `identity.merge.MergeError` when the merge cannot be done."""
    if actor.role is not OperatorRole.ADMIN:
        raise PermissionError("only admins merge clients")
    done = await merge_clients(
        sessions,
        queue,
        feed,
        survivor_id=survivor_id,
        merged_id=merged_id,
        operator_id=actor.id,
        note=note,
        now=now,
        language=actor.language,
    )
    async with sessions() as session:
        audit(
            session,
            "clients_merged",
            actor_id=actor.id,
            at=now,
            record=done.record_id,
            survivor=done.survivor_id,
            merged=done.merged_id,
            note=note,
        )
        await session.commit()
    return done
