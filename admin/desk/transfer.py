"""Handing a held conversation on: to another group's queue, or straight to a colleague."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from admin.desk.conversations import Conversations
from admin.desk.errors import DeskError
from admin.desk.lookup import find_conversation, held_conversation
from admin.desk.operators import Operators
from admin.desk.views import Colleague, ConversationView, TransferTargets
from bot.handover import tell_who_answers
from bot.outbox import Outbox
from core.db import SessionFactory
from core.events import DeskFeed, record
from core.lifecycle import move
from core.messages import add_note
from core.models import ConversationStatus, EventKind
from routing.errors import NotQueued, OperatorUnavailable, OverCapacity
from routing.presence import Presence, PresenceState
from routing.queue import OperatorQueue, validate_group

__all__ = ["Transfers"]


class Transfers:
    def __init__(
        self,
        *,
        sessions: SessionFactory,
        queue: OperatorQueue,
        outbox: Outbox,
        feed: DeskFeed,
        clock: Callable[[], dt.datetime],
        conversations: Conversations,
        operators: Operators,
        presence: Presence,
    ) -> None:
        self._sessions = sessions
        self._queue = queue
        self._outbox = outbox
        self._feed = feed
        self._clock = clock
        self._conversations = conversations
        self._operators = operators
        self._presence = presence

    async def targets(self, operator_id: int) -> TransferTargets:
        """Where this operator can hand a conversation: the groups some active operator
        serves, and each active colleague with their presence and how many they hold."""
        groups = await self._operators.known_groups()
        colleagues = await self._operators.colleagues(operator_id)
        presences = {p.operator_id: p.state for p in await self._presence.all()}
        holds = await self._queue.holdings()
        return TransferTargets(
            groups=tuple(sorted(groups)),
            colleagues=tuple(
                Colleague(
                    id=colleague.id,
                    name=colleague.name,
                    presence=presences.get(colleague.id, PresenceState.OFFLINE).value,
                    holds=holds.get(colleague.id, 0),
                    capacity=colleague.capacity,
                    groups=tuple(colleague.group_names),
                )
                for colleague in colleagues
            ),
        )

    async def transfer(
        self,
        operator_id: int,
        conversation_id: int,
        *,
        group: str | None = None,
        to_operator: str | None = None,
        note: str = "",
    ) -> ConversationView:
        """Hand a held conversation to another group's queue or straight to a colleague
        (by name or id), whose name the client then hears; the note stays in the thread,
        for them only."""
        if group is None and to_operator is None:
            raise DeskError("desk_transfer_target")
        if group is not None:
            try:
                validate_group(group)
            except ValueError:
                raise DeskError("desk_bad_group", group=group) from None
            if group not in await self._operators.known_groups():  # it would wait for no one
                raise DeskError("desk_bad_group", group=group)
        target = await self._operators.find(to_operator) if to_operator else None
        target_id = target.id if target else None
        if target_id == operator_id:
            raise DeskError("desk_transfer_self", conversation_id=conversation_id)
        async with self._sessions() as session:
            await held_conversation(session, operator_id, conversation_id)
        try:
            entry = await self._queue.transfer(conversation_id, group=group, operator_id=target_id)
        except OperatorUnavailable:
            raise DeskError(
                "desk_operator_unavailable", name=target.name if target else "?"
            ) from None
        except OverCapacity as full:
            raise DeskError(
                "desk_operator_full", name=target.name if target else "?", capacity=full.capacity
            ) from None
        except NotQueued:
            raise DeskError("desk_not_queued", conversation_id=conversation_id) from None
        now = self._clock()
        async with self._sessions() as session:
            conversation = await find_conversation(session, conversation_id)
            conversation.group = entry.group
            conversation.assigned_operator_id = target_id
            conversation.updated_at = now
            move(
                session,
                conversation,
                ConversationStatus.ASSIGNED if target else ConversationStatus.QUEUED,
                now,
                event=EventKind.TRANSFERRED,
                operator_id=operator_id,
                to_group=entry.group,
                to_operator=target_id,
                note=note,
            )
            notice = None
            if target is not None:
                record(
                    session,
                    conversation,
                    EventKind.TAKEN,
                    now,
                    operator_id=target_id,
                    by="transfer",
                )
                notice = await tell_who_answers(session, conversation, target, now)
            if note.strip():
                add_note(session, conversation, text=note, at=now, operator_id=operator_id)
            await session.commit()
        if notice is not None:
            self._outbox.submit([notice.id])
        await self._feed.publish(
            "transferred",
            conversation_id=conversation_id,
            operator_id=target_id,
            from_operator_id=operator_id,
            group=entry.group,
            note=note,
        )
        if target is None:
            await self._feed.publish("queued", conversation_id=conversation_id, group=entry.group)
        return await self._conversations.for_operator(operator_id, conversation_id)
