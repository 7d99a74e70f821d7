"""Forgetting a client: what a desk does when a person withdraws their consent to the
keeping of their personal data (152-ФЗ art. 21, GDPR art. 17).

The person's words, files, names and addresses go; the desk's figures stay. Every message
of their conversations (theirs, the bot's and the operators' replies, which quote them)
loses its text, files and address; the conversations keep their times, statuses,
categories, ratings and events, so reports still count them. Their accounts keep only a
placeholder id: a new message from the same Telegram, VK, email or browser afterwards
starts a new client, linked to nothing forgotten. The clients merged into them are the
same person and go with them; the knowledge base's record of questions it missed in
their conversations is deleted.

A client with a conversation still open (with the bot, queued or held by an operator) is
refused: the conversation is closed first, so that nothing in flight writes to it.

`forget_client(session, client_id)` works in the caller's transaction and returns what
it did, with the files the messages named; the caller removes those it no longer needs
after the commit (`unneeded_files`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import String, cast, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.contracts import ChannelKind
from core.models import (
    Client,
    Conversation,
    ConversationStatus,
    Identity,
    KbMiss,
    MergeRecord,
    Message,
)
from core.texts import Refusal
from identity.person import current_client, merged_clients

__all__ = ["ForgetError", "Forgotten", "forget_client", "unneeded_files"]

FORGOTTEN_ID = "forgotten:{id}"
"""An account's placeholder: unique per account, matching no platform's id."""


class ForgetError(Refusal):
    """A client that cannot be forgotten."""


@dataclass(frozen=True, slots=True)
class Forgotten:
    client_ids: tuple[int, ...]
    """The client asked for first, then those merged into them."""
    conversations: int
    messages: int
    files: tuple[str, ...]
    """Paths the forgotten messages named (`unneeded_files` says which to remove)."""
    web_visitors: tuple[str, ...]
    """The web chat cookies the person wrote with (their uploads not sent yet go too);
    a bearer secret, never to be logged or shown."""


async def forget_client(session: AsyncSession, client_id: int) -> Forgotten:
    client = await current_client(session, client_id)  # the person, by any of their numbers
    if client is None:
        raise ForgetError("client_not_found", client_id=client_id)
    client_ids = [client.id, *await merged_clients(session, client.id)]
    conversations = list(
        await session.execute(
            select(Conversation.id, Conversation.status).where(
                Conversation.client_id.in_(client_ids)
            )
        )
    )
    still_open = sorted(c.id for c in conversations if c.status is not ConversationStatus.CLOSED)
    if still_open:
        raise ForgetError(
            "forget_close_first", conversations=", ".join(f"#{c}" for c in still_open)
        )
    conversation_ids = [c.id for c in conversations]
    in_them = Message.conversation_id.in_(conversation_ids)
    files = tuple(
        str(attachment["stored_path"])
        for attachments in await session.scalars(select(Message.attachments).where(in_them))
        for attachment in attachments or ()
        if isinstance(attachment, dict) and attachment.get("stored_path")
    )
    messages = await session.scalar(select(func.count()).select_from(Message).where(in_them))
    await session.execute(
        update(Message)
        .where(in_them)
        .values(
            text="",
            original_text=None,
            folded_text=None,
            attachments=[],
            reply_address=None,
            delivery_error=None,
        )
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Conversation)
        .where(Conversation.id.in_(conversation_ids))
        .values(subject=None)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        delete(KbMiss)
        .where(KbMiss.conversation_id.in_(conversation_ids))
        .execution_options(synchronize_session=False)
    )
    identities = list(
        await session.scalars(select(Identity).where(Identity.client_id.in_(client_ids)))
    )
    web_visitors = tuple(i.external_id for i in identities if i.channel is ChannelKind.WEB)
    for identity in identities:
        identity.external_id = FORGOTTEN_ID.format(id=identity.id)
        identity.chat_id = None
        identity.display_name = None
        identity.phone = None
        identity.folded_name = None
        identity.verified = False
    await session.execute(
        update(Client)
        .where(Client.id.in_(client_ids))
        .values(display_name=None, phone=None, email=None, folded_name=None)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(MergeRecord)
        .where(MergeRecord.survivor_id.in_(client_ids) | MergeRecord.merged_id.in_(client_ids))
        .values(proof=None)
        .execution_options(synchronize_session=False)
    )
    return Forgotten(tuple(client_ids), len(conversation_ids), messages or 0, files, web_visitors)


async def unneeded_files(session: AsyncSession, paths: tuple[str, ...]) -> list[Path]:
    """Of `paths`, the files no other message names (files are kept by content hash: the
    same bytes another client sent are theirs too)."""
    attachments = cast(Message.attachments, String)
    unneeded = []
    for path in dict.fromkeys(paths):
        named = json.dumps(path)  # as the column holds it, quotes and escapes included
        others = select(func.count()).select_from(Message)
        if not await session.scalar(others.where(attachments.contains(named, autoescape=True))):
            unneeded.append(Path(path))
    return unneeded
