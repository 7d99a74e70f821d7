"""A message the engine fails on by itself is kept, not retried forever.

When a batch's unit of work fails for a reason other than the database being away, the
engine stores its messages one by one; the one that fails again on its own comes here.
It is stored as it came (its text made storable: a lone surrogate or a NUL becomes «�»)
in the client's open conversation, with a `quarantined` event carrying the error, which
operators see; the conversation is handed to them, and the client is told that a person
will answer. The channel then confirms the batch and moves on: one odd message neither
stops the channel nor holds up the clients behind it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handover import Handover, mark_queued
from bot.outbox import Outbox
from core.contracts import InboundMessage
from core.db import SessionFactory, WriteLock
from core.events import DeskFeed, record
from core.files import keep_files
from core.messages import add_message, add_reply
from core.models import (
    Author,
    Client,
    Conversation,
    ConversationStatus,
    Direction,
    EventKind,
    Identity,
    Message,
)
from core.texts import locale_language, say
from kb.text import language_of
from routing.rebuild import entry_for
from routing.service_levels import ServiceLevels

__all__ = ["Quarantine", "storable"]

log = logging.getLogger(__name__)

ERROR_LIMIT = 2000
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    """`text` with what no database stores (NUL, lone surrogates) replaced by «�»."""
    return _UNSTORABLE.sub("\ufffd", text)


class Quarantine:
    def __init__(
        self,
        *,
        sessions: SessionFactory,
        writes: WriteLock | None,
        levels: ServiceLevels,
        outbox: Outbox,
        handover: Handover,
        feed: DeskFeed,
        clock: Callable[[], dt.datetime],
        language: str,
    ) -> None:
        self._sessions = sessions
        self._writes = writes or contextlib.nullcontext()
        self._levels = levels
        self._outbox = outbox
        self._handover = handover
        self._feed = feed
        self._clock = clock
        self._language = language

    async def keep(self, inbound: InboundMessage, error: BaseException) -> None:
        """Store `inbound` with `error` and hand its conversation to the operators. Raises
        only when the database fails too (the channel then delivers the message again)."""
        now = self._clock()
        reason = f"{type(error).__name__}: {error}"[:ERROR_LIMIT]
        log.error(
            "message %s/%s quarantined: %s",
            inbound.channel.value,
            inbound.platform_message_id,
            reason,
            exc_info=error,
        )
        async with self._writes, self._sessions() as session:
            if await _stored(session, inbound):
                return
            inbound = await keep_files(inbound)
            identity, client = await self._sender(session, inbound, now)
            conversation = await self._conversation(session, identity, client, now)
            kept = add_message(
                session,
                conversation_id=conversation.id,
                identity_id=identity.id,
                channel=inbound.channel,
                direction=Direction.IN,
                author=Author.CLIENT,
                text=storable(inbound.text),
                action=inbound.action.value if inbound.action else None,
                attachments=_attachments(inbound),
                channel_message_id=storable(inbound.platform_message_id)[:500],
                created_at=now,
            )
            handed_off = conversation.status is ConversationStatus.BOT
            if handed_off:
                level = self._levels.assess(conversation.category, client.tier.value, now)
                mark_queued(session, conversation, level, "quarantined", now)
            language = client.language or self._language
            told = await add_reply(
                session,
                conversation,
                text=say("quarantined", language),
                author=Author.BOT,
                at=now,
                identity=identity,
            )
            await session.flush()
            record(
                session, conversation, EventKind.QUARANTINED, now, message_id=kept.id, error=reason
            )
            conversation.updated_at = now
            await session.commit()
        self._outbox.submit([told.id])
        if handed_off:
            try:
                await self._handover.submit(entry_for(conversation))
            except Exception:  # the reconciler adds it to the queue
                log.exception(
                    "quarantined conversation %s queued in the database only", conversation.id
                )
            await self._feed.publish(
                "queued", conversation_id=conversation.id, group=conversation.group
            )
        await self._feed.publish(
            "quarantined", conversation_id=conversation.id, message_id=kept.id, error=reason
        )

    async def _sender(
        self, session: AsyncSession, inbound: InboundMessage, now: dt.datetime
    ) -> tuple[Identity, Client]:
        found = (
            await session.execute(
                select(Identity, Client)
                .join(Client, Client.id == Identity.client_id)
                .where(
                    Identity.channel == inbound.channel,
                    Identity.external_id == storable(inbound.external_user_id)[:320],
                )
            )
        ).first()
        if found is not None:
            identity, client = found
            identity.last_seen_at = now
            return identity, client
        name = storable(inbound.display_name)[:200] if inbound.display_name else None
        client = Client(
            display_name=name,
            created_at=now,
            language=language_of(
                storable(inbound.text), locale_language(inbound.locale) or self._language
            ),
        )
        session.add(client)
        await session.flush()
        identity = Identity(
            client_id=client.id,
            channel=inbound.channel,
            external_id=storable(inbound.external_user_id)[:320],
            chat_id=storable(inbound.chat_id)[:320] if inbound.chat_id else None,
            display_name=name,
            created_at=now,
            last_seen_at=now,
        )
        session.add(identity)
        await session.flush()
        return identity, client

    async def _conversation(
        self, session: AsyncSession, identity: Identity, client: Client, now: dt.datetime
    ) -> Conversation:
        """The client's latest open conversation, or a new one."""
        conversation = await session.scalar(
            select(Conversation)
            .where(
                Conversation.client_id == client.id,
                Conversation.status != ConversationStatus.CLOSED,
            )
            .order_by(Conversation.id.desc())
            .limit(1)
        )
        if conversation is None:
            conversation = Conversation(
                client_id=client.id,
                identity_id=identity.id,
                status=ConversationStatus.BOT,
                last_channel=identity.channel,
                last_identity_id=identity.id,
                created_at=now,
                updated_at=now,
            )
            session.add(conversation)
            await session.flush()
            record(session, conversation, EventKind.CREATED, now)
        else:
            conversation.last_channel, conversation.last_identity_id = identity.channel, identity.id
        return conversation


async def _stored(session: AsyncSession, inbound: InboundMessage) -> bool:
    """Stored already (by an earlier delivery of the same message)."""
    return (
        await session.scalar(
            select(Message.id).where(
                Message.channel == inbound.channel,
                Message.direction == Direction.IN,
                Message.channel_message_id == storable(inbound.platform_message_id)[:500],
            )
        )
        is not None
    )


def _attachments(inbound: InboundMessage) -> list[object]:
    """The attachments as stored, or none when they cannot be (the error says why)."""
    try:
        return [attachment.as_json() for attachment in inbound.attachments]
    except Exception:  # noqa: BLE001 - the message is kept without them
        return []
