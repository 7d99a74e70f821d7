"""An operator's merge of two clients into one, and an admin's undoing of it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from admin.accounts.audit import audit
from admin.desk.errors import DeskError
from admin.desk.lookup import active_operator, find_conversation
from core.db import SessionFactory
from core.events import DeskFeed
from core.models import Operator, OperatorRole
from identity.merge import MergeError, MergeSummary, merge_clients, unmerge
from routing.queue import OperatorQueue

__all__ = ["Merging"]


class Merging:
    def __init__(
        self,
        *,
        sessions: SessionFactory,
        queue: OperatorQueue,
        feed: DeskFeed,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self._sessions = sessions
        self._queue = queue
        self._feed = feed
        self._clock = clock

    async def merge(
        self, operator_id: int, conversation_id: int, other_client_id: int, note: str | None = None
    ) -> MergeSummary:
        """The operator's explicit merge from a conversation (the admin bot's /merge):
        client `other_client_id` into this conversation's."""
        operator = await active_operator(self._sessions, operator_id)
        async with self._sessions() as session:
            client_id = (await find_conversation(session, conversation_id)).client_id
        return await self._merge(operator, client_id, other_client_id, note)

    async def merge_clients(
        self, operator_id: int, survivor_id: int, merged_id: int, note: str | None = None
    ) -> MergeSummary:
        """Any two clients by number, from the console's client card: admins only."""
        operator = await active_operator(self._sessions, operator_id)
        if operator.role is not OperatorRole.ADMIN:
            raise DeskError("desk_admin_only")
        return await self._merge(operator, survivor_id, merged_id, note)

    async def _merge(
        self, operator: Operator, survivor_id: int, merged_id: int, note: str | None
    ) -> MergeSummary:
        """One merge (identity/merge.py: one transaction, the queue made to agree, a notice
        on the desk feed), then its line in the audit log."""
        try:
            done = await merge_clients(
                self._sessions,
                self._queue,
                self._feed,
                survivor_id=survivor_id,
                merged_id=merged_id,
                operator_id=operator.id,
                note=note,
                now=self._clock(),
                language=operator.language,
            )
        except MergeError as refused:
            raise DeskError(refused.key, **refused.values) from None
        async with self._sessions() as session:
            audit(
                session,
                "clients_merged",
                actor_id=operator.id,
                at=self._clock(),
                record=done.record_id,
                survivor=done.survivor_id,
                merged=done.merged_id,
                note=note,
            )
            await session.commit()
        return done

    async def unmerge(self, operator_id: int, record_id: int) -> MergeSummary:
        """Undo a merge: admins only (it splits a client's history back apart)."""
        operator = await active_operator(self._sessions, operator_id)
        if operator.role is not OperatorRole.ADMIN:
            raise DeskError("desk_admin_only")
        try:
            done = await unmerge(
                self._sessions,
                self._queue,
                self._feed,
                record_id=record_id,
                operator_id=operator.id,
                now=self._clock(),
            )
        except MergeError as refused:
            raise DeskError(refused.key, **refused.values) from None
        async with self._sessions() as session:
            audit(
                session,
                "merge_undone",
                actor_id=operator.id,
                at=self._clock(),
                record=record_id,
                merged=done.merged_id,
                survivor=done.survivor_id,
            )
            await session.commit()
        return done
