"""Step 2, the thread: the conversation a message belongs to — the one a «Вопрос решён»
press names, by reply headers, by a ticket number, or the client's open one — reopened if
closed, or a new one. A second «Вопрос решён» press, and thanks after a close («Спасибо,
всё отлично!», to a conversation closed within `THANKS_WINDOW`), join the closed
conversation and reopen nothing: they are no new question, and a reopen would count the
conversation as unresolved in the reports. A run's new conversations are made in one
INSERT once every message is placed (`open_new`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.pipeline.settling import thanks
from bot.pipeline.turn import Turn
from core.contracts import Action, InboundMessage
from core.db import insert_objects
from core.lifecycle import move
from core.models import Client, Conversation, ConversationStatus, EventKind, Message
from core.numbers import row_id

__all__ = ["Threads", "find_threads"]

THANKS_WINDOW = dt.timedelta(days=3)
"""Thanks this soon after a conversation closed are for it."""

_OPEN_CONVERSATIONS = (
    select(Conversation)
    .where(
        Conversation.client_id.in_(bindparam("client_ids", expanding=True)),
        Conversation.status != ConversationStatus.CLOSED,
    )
    .order_by(Conversation.id)
)
"""Built once (see `bot.pipeline.store`): every run asks it."""


@dataclass
class Threads:
    """The run's open conversations, and the new ones it opens."""

    open: dict[int, Conversation]
    """Client id → its latest open conversation; one made in this run joins it."""
    opening: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Client id → the columns of the new conversation the run opens for it; the client's
    later messages in the run join it."""

    async def place(self, session: AsyncSession, turn: Turn, now: dt.datetime) -> None:
        """Set the turn's conversation (None while it is a new one) and whether it is new."""
        inbound, identity, client = turn.inbound, turn.sender.identity, turn.sender.client
        conversation = (
            await _by_solved_button(session, inbound, client)
            or await _by_reply_headers(session, inbound, client)
            or await _by_ticket_number(session, inbound, client)
            or self.open.get(client.id)
        )
        if conversation is None and client.id not in self.opening and thanks(inbound.text):
            conversation = await _just_closed(session, client, now)
        if conversation is None:
            turn.created = client.id not in self.opening
            opening = self.opening.setdefault(
                client.id,
                {
                    "client_id": client.id,
                    "identity_id": identity.id,
                    "last_channel": inbound.channel,
                    "last_identity_id": identity.id,
                    "subject": _subject(inbound.subject),
                    "created_at": now,
                    "updated_at": now,
                },
            )
            if not inbound.automated:
                opening.update(last_channel=inbound.channel, last_identity_id=identity.id)
            return
        if conversation.status is ConversationStatus.CLOSED:
            if inbound.action is Action.RESOLVED or thanks(inbound.text):  # not reopened
                turn.conversation = conversation
                return
            move(session, conversation, ConversationStatus.BOT, now, event=EventKind.REOPENED)
        latest = self.open.get(client.id)
        if client.id not in self.opening and (latest is None or conversation.id > latest.id):
            self.open[client.id] = conversation  # the one later messages join
        if not inbound.automated:
            conversation.last_channel = inbound.channel
            conversation.last_identity_id = identity.id
        conversation.updated_at = now
        turn.conversation = conversation

    async def open_new(self, session: AsyncSession, turns: Sequence[Turn]) -> None:
        """Make the conversations the run opens (one INSERT) and give them to their turns."""
        if self.opening:
            opened = await insert_objects(session, Conversation, list(self.opening.values()))
            self.open.update(zip(self.opening, opened, strict=True))
        for turn in turns:
            if turn.conversation is None:
                turn.conversation = self.open[turn.sender.client.id]


async def find_threads(session: AsyncSession, client_ids: Iterable[int]) -> Threads:
    """The clients' latest open conversations, in one query."""
    latest: dict[int, Conversation] = {}
    for conversation in await session.scalars(
        _OPEN_CONVERSATIONS, {"client_ids": list(set(client_ids))}
    ):
        latest[conversation.client_id] = conversation  # the latest wins
    return Threads(latest)


async def _by_reply_headers(
    session: AsyncSession, inbound: InboundMessage, client: Client
) -> Conversation | None:
    if not inbound.reply_to:
        return None
    return await session.scalar(
        select(Conversation)
        .join(Message, Message.conversation_id == Conversation.id)
        .where(
            Message.channel == inbound.channel,
            Message.channel_message_id.in_(inbound.reply_to),
            Conversation.client_id == client.id,
        )
        .order_by(Conversation.id.desc())
        .limit(1)
    )


async def _just_closed(
    session: AsyncSession, client: Client, now: dt.datetime
) -> Conversation | None:
    """The client's latest conversation, if it closed within `THANKS_WINDOW`."""
    latest = await session.scalar(
        select(Conversation)
        .where(Conversation.client_id == client.id, Conversation.merged_into_id.is_(None))
        .order_by(Conversation.id.desc())
        .limit(1)
    )
    if latest is None or latest.status is not ConversationStatus.CLOSED:
        return None
    closed_at = latest.resolved_at
    return latest if closed_at is not None and now - closed_at <= THANKS_WINDOW else None


async def _by_solved_button(
    session: AsyncSession, inbound: InboundMessage, client: Client
) -> Conversation | None:
    """The conversation a «Вопрос решён» press names, when it is the client's: a press
    on an old answer goes to its own conversation, not to whatever is open now."""
    if inbound.action is not Action.RESOLVED:
        return None
    return await _clients_own(session, row_id(inbound.payload or ""), client)


async def _by_ticket_number(
    session: AsyncSession, inbound: InboundMessage, client: Client
) -> Conversation | None:
    return await _clients_own(session, inbound.thread_hint, client)


async def _clients_own(
    session: AsyncSession, conversation_id: int | None, client: Client
) -> Conversation | None:
    """Conversation `conversation_id` (or the one it was merged into), if the client's."""
    if conversation_id is None:
        return None
    conversation = await session.get(Conversation, conversation_id)
    while conversation is not None and conversation.merged_into_id is not None:
        conversation = await session.get(Conversation, conversation.merged_into_id)
    return conversation if conversation and conversation.client_id == client.id else None


def _subject(subject: str | None) -> str | None:
    return subject.strip()[:500] if subject and subject.strip() else None
