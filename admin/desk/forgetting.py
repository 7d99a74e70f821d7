"""An admin's forgetting of a client who withdrew consent (identity/forget.py says what
goes and what stays): one transaction with its line in the audit log, then the files no
other message needs are removed from the disk, and the web chat uploads they never sent;
a notice on the desk feed makes open consoles show the erasure. The audit log keeps what
was done to them, but not an operator's free-text note about them on a merge."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.accounts.audit import audit
from admin.desk.errors import DeskError
from admin.desk.lookup import active_operator
from channels.uploads import Uploads
from core.db import SessionFactory
from core.erasure import remove_unneeded
from core.events import DeskFeed
from core.models import AuditEntry, OperatorRole
from identity.forget import ForgetError, Forgotten, forget_client

__all__ = ["Forgetting"]

log = logging.getLogger(__name__)


class Forgetting:
    def __init__(
        self,
        sessions: SessionFactory,
        feed: DeskFeed,
        clock: Callable[[], dt.datetime],
        visitor_uploads: Uploads | None,
    ) -> None:
        """`visitor_uploads`: the web chat's (None: it takes no files)."""
        self._sessions = sessions
        self._feed = feed
        self._clock = clock
        self._visitor_uploads = visitor_uploads

    async def forget(self, operator_id: int | None, client_id: int) -> Forgotten:
        """Forget client `client_id` for admin `operator_id` (None: the server's CLI)."""
        if operator_id is not None:
            operator = await active_operator(self._sessions, operator_id)
            if operator.role is not OperatorRole.ADMIN:
                raise DeskError("desk_admin_only")
        async with self._sessions() as session:
            try:
                done = await forget_client(session, client_id, self._clock())
            except ForgetError as refused:
                raise DeskError(refused.key, **refused.values) from None
            await _drop_merge_notes(session, set(done.client_ids))
            audit(
                session,
                "client_forgotten",
                actor_id=operator_id,
                at=self._clock(),
                clients=list(done.client_ids),
                conversations=len(done.conversation_ids),
                messages=done.messages,
            )
            await session.commit()
            removed = await remove_unneeded(session, done.files)
        await self._feed.publish(
            "forgotten", client_ids=done.client_ids, conversation_ids=done.conversation_ids
        )
        if self._visitor_uploads is not None:
            for visitor in done.web_visitors:
                removed += await asyncio.to_thread(self._visitor_uploads.discard, visitor)
        log.info(
            "client #%d forgotten: %d conversation(s), %d message(s), %d file(s) removed",
            done.client_ids[0],
            len(done.conversation_ids),
            done.messages,
            removed,
        )
        return done


async def _drop_merge_notes(session: AsyncSession, client_ids: set[int]) -> None:
    """The note an operator typed on merging these clients ("it is Anna Smirnova again")."""
    merges = await session.scalars(select(AuditEntry).where(AuditEntry.action == "clients_merged"))
    for entry in merges:
        concerned = {entry.detail.get("survivor"), entry.detail.get("merged")} & client_ids
        if concerned and entry.detail.get("note"):
            entry.detail = {**entry.detail, "note": None}
