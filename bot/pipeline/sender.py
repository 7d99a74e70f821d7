"""Step 1, the sender: each message's identity and client, made on first contact, and the
language to answer in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.pipeline.turn import Sender
from core.contracts import ChannelKind, InboundMessage
from core.db import insert_objects
from core.models import Client, Identity
from core.texts import locale_language
from kb.text import language_of
from kb.translit import reads_as_russian, russian_small_talk

__all__ = ["Senders", "find_senders"]

SenderKey = tuple[ChannelKind, str]
_KNOWN_SENDERS = (
    select(Identity, Client)
    .join(Client, Client.id == Identity.client_id)
    .where(
        Identity.channel == bindparam("channel"),
        Identity.external_id.in_(bindparam("external_ids", expanding=True)),
    )
)
"""Built once (see `bot.pipeline.store`): every run asks it."""


@dataclass
class Senders:
    """A run's senders, looked up (or made) once for all its messages."""

    found: dict[SenderKey, tuple[Identity, Client]]
    desk_language: str

    @property
    def client_ids(self) -> set[int]:
        return {client.id for _, client in self.found.values()}

    def of(self, inbound: InboundMessage, now: dt.datetime) -> Sender:
        """The message's sender, with what the message tells about them: seen now, their
        name and chat; the language to answer in."""
        identity, client = self.found[(inbound.channel, inbound.external_user_id)]
        identity.last_seen_at = now
        if inbound.display_name:
            identity.display_name = inbound.display_name
        stated = inbound.meta.get("stated_email")  # the web chat's pre-chat form: no proof
        if isinstance(stated, str) and stated and not client.email:
            client.email = stated
        if inbound.chat_id:
            identity.chat_id = inbound.chat_id
        language = _language(inbound, client.language, self.desk_language)
        client.language = client.language or language
        return Sender(identity, client, language)


def _language(inbound: InboundMessage, known: str | None, desk_language: str) -> str:
    """The language of the message, else the client's (`known`), their device's or the
    desk's. Latin letters are Russian in greetings and thanks alone («privet», «spasibo»),
    and from a Russian client when they read as Russian rather than English («ok»,
    «pozovite operatora»; not "thanks, solved")."""
    text = inbound.text
    if russian_small_talk(text) or (known == "ru" and reads_as_russian(text)):
        return "ru"
    return language_of(text, known or locale_language(inbound.locale) or desk_language)


async def find_senders(
    session: AsyncSession, run: Sequence[InboundMessage], now: dt.datetime, desk_language: str
) -> Senders:
    """Each sender's identity and client in one query per channel; on first contact both
    are made (all the run's new ones in two INSERTs), from the sender's first message."""
    wanted: dict[SenderKey, InboundMessage] = {}
    for inbound in run:
        wanted.setdefault((inbound.channel, inbound.external_user_id), inbound)
    found: dict[SenderKey, tuple[Identity, Client]] = {}
    for channel in {c for c, _ in wanted}:
        rows = await session.execute(
            _KNOWN_SENDERS,
            {"channel": channel, "external_ids": [e for c, e in wanted if c is channel]},
        )
        found.update(
            ((identity.channel, identity.external_id), (identity, client))
            for identity, client in rows
        )
    new = [inbound for key, inbound in wanted.items() if key not in found]
    if new:
        clients = await insert_objects(
            session,
            Client,
            [
                {
                    "display_name": m.display_name,
                    "created_at": now,
                    "language": _language(m, None, desk_language),
                }
                for m in new
            ],
        )
        identities = await insert_objects(
            session,
            Identity,
            [
                {
                    "client_id": client.id,
                    "channel": m.channel,
                    "external_id": m.external_user_id,
                    "chat_id": m.chat_id,
                    "display_name": m.display_name,
                    "created_at": now,
                    "last_seen_at": now,
                }
                for m, client in zip(new, clients, strict=True)
            ],
        )
        found.update(
            ((m.channel, m.external_user_id), (identity, client))
            for m, identity, client in zip(new, identities, clients, strict=True)
        )
    return Senders(found, desk_language)
