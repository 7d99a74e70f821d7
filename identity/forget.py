"""Forgetting a client: what a desk does when a person withdraws their consent to the
keeping of their personal data (152-ФЗ art. 21, GDPR art. 17).

The person's words, files, names and addresses go; the desk's figures stay: their
conversations are erased (`core.erasure`: every message's text, files and address), and
their names, phone and email are cleared. Their accounts keep only a
placeholder id: a new message from the same Telegram, VK, email or browser afterwards
starts a new client, linked to nothing forgotten. The clients merged into them are the
same person and go with them; the knowledge base's record of questions it missed in
their conversations is deleted.

A client with a conversation still open (with the bot, queued or held by an operator) is
refused: the conversation is closed first, so that nothing in flight writes to it.

`forget_client(session, client_id, now)` works in the caller's transaction and returns
what it did, with the files the messages named; the caller removes those no other
message needs after the commit (`core.erasure.remove_unneeded`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.contracts import ChannelKind
from core.erasure import erase_conversations
from core.models import (
    Client,
    Conversation,
    ConversationStatus,
    Identity,
    MergeRecord,
)
from core.texts import Refusal
from identity.person import current_client, merged_clients

__all__ = ["ForgetError", "Forgotten", "forget_client"]

FORGOTTEN_ID = "forgotten:{id}"
"""An account's placeholder: unique per account, matching no platform's id."""


class ForgetError(Refusal):
    """A client that cannot be forgotten."""


@dataclass(frozen=True, slots=True)
class Forgotten:
    client_ids: tuple[int, ...]
    """The client asked for first, then those merged into them."""
    conversation_ids: tuple[int, ...]
    messages: int
    files: tuple[str, ...]
    """Paths the forgotten messages named (`core.erasure.remove_unneeded`)."""
    web_visitors: tuple[str, ...]
    """The web chat cookies the person wrote with (their uploads not sent yet go too);
    a bearer secret, never to be logged or shown."""


async def forget_client(session: AsyncSession, client_id: int, now: dt.datetime) -> Forgotten:
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
    erased = await erase_conversations(session, [c.id for c in conversations], now)
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
    return Forgotten(
        tuple(client_ids),
        tuple(c.id for c in conversations),
        erased.messages,
        erased.files,
        web_visitors,
    )
