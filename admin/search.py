"""The console's one search box: clients by name, email, phone or platform id, and
messages by their words, case-insensitive in any alphabet on every database.

Names and texts are compared in their folded copies (core/folding.py), so «ИВАН»,
«иван» and «Иван» find each other on SQLite too. What is searched, and why:
- clients that still exist (a merged client is found as the one it merged into);
- a web visitor's cookie id is a bearer secret, never searched (nor shown): a visitor is
  found by name, the address or number they gave, or "#N", their client number;
- what clients and operators wrote, and operators' private notes (they are the desk's own
  record, visible to every operator in the thread anyway); the bot's answers and system
  lines are left out: they repeat the knowledge base and would bury the rest.
Results are bounded (`CLIENTS`, `MESSAGES`, newest first); `more` says there were more.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.desk.views import client_name, is_anonymous
from core.contracts import ChannelKind
from core.db import SessionFactory
from core.folding import fold
from core.models import Author, Client, Conversation, Identity, Message
from core.numbers import ascii_digits, row_id

__all__ = ["ClientHit", "Found", "MessageHit", "SearchError", "search"]

CLIENTS = 20
MESSAGES = 30
MIN_QUERY = 2
MAX_QUERY = 200
MIN_PHONE_DIGITS = 5
SNIPPET = 60  # characters either side of the match
SEARCHED_AUTHORS = (Author.CLIENT, Author.OPERATOR)


class SearchError(ValueError):
    """A query too short or too long to search; `key` names it for the page."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


@dataclass(frozen=True, slots=True)
class ClientHit:
    client_id: int
    name: str
    anonymous: bool
    email: str | None
    phone: str | None
    channels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MessageHit:
    message_id: int
    conversation_id: int
    client_id: int
    client_name: str
    anonymous: bool
    author: str
    private: bool
    channel: str
    at: dt.datetime
    snippet: str


@dataclass(frozen=True, slots=True)
class Found:
    query: str
    clients: tuple[ClientHit, ...]
    messages: tuple[MessageHit, ...]
    more_clients: bool
    more_messages: bool


async def search(
    sessions: SessionFactory, query: str, *, clients: int = CLIENTS, messages: int = MESSAGES
) -> Found:
    """Clients and messages matching `query`; `SearchError` for one under `MIN_QUERY` or
    over `MAX_QUERY` characters."""
    query = " ".join(query.split())
    folded = fold(query)
    if len(folded) < MIN_QUERY:
        raise SearchError("search_short")
    if len(query) > MAX_QUERY:
        raise SearchError("search_long")
    async with sessions() as session:
        found_clients = await _clients(session, query, folded, clients + 1)
        found_messages = await _messages(session, query, folded, messages + 1)
    return Found(
        query=query,
        clients=tuple(found_clients[:clients]),
        messages=tuple(found_messages[:messages]),
        more_clients=len(found_clients) > clients,
        more_messages=len(found_messages) > messages,
    )


async def _clients(session: AsyncSession, query: str, folded: str, limit: int) -> list[ClientHit]:
    ascii_lower = query.lower()
    matches: list[ColumnElement[bool]] = [
        Client.folded_name.contains(folded, autoescape=True),
        Identity.folded_name.contains(folded, autoescape=True),
        func.lower(Client.email).contains(ascii_lower, autoescape=True),
        (Identity.channel != ChannelKind.WEB)
        & func.lower(Identity.external_id).contains(ascii_lower, autoescape=True),
    ]
    digits = ascii_digits(query)
    if len(digits) >= MIN_PHONE_DIGITS and len(digits) >= len(query.replace(" ", "")) // 2:
        local = "7" + digits[1:] if len(digits) == 11 and digits[0] == "8" else digits
        matches += [Client.phone.contains(local), Identity.phone.contains(local)]
    number = row_id(query.lstrip("#"))
    matches.append(Client.id == number if number is not None else false())
    ids = list(
        await session.scalars(
            select(Client.id)
            .outerjoin(Identity, Identity.client_id == Client.id)
            .where(Client.merged_into_id.is_(None), or_(*matches))
            .group_by(Client.id)
            .order_by(Client.id.desc())
            .limit(limit)
        )
    )
    if not ids:
        return []
    found = {c.id: c for c in await session.scalars(select(Client).where(Client.id.in_(ids)))}
    channels: dict[int, set[str]] = {}
    for client_id, channel in await session.execute(
        select(Identity.client_id, Identity.channel).where(Identity.client_id.in_(ids))
    ):
        channels.setdefault(client_id, set()).add(channel.value)
    return [
        ClientHit(
            client_id=client.id,
            name=client_name(client),
            anonymous=is_anonymous(client),
            email=client.email,
            phone=client.phone,
            channels=tuple(sorted(channels.get(client.id, ()))),
        )
        for client in (found[i] for i in ids)
    ]


async def _messages(session: AsyncSession, query: str, folded: str, limit: int) -> list[MessageHit]:
    rows = await session.execute(
        select(Message, Client)
        .join(Conversation, Message.conversation_id == Conversation.id)
        .join(Client, Conversation.client_id == Client.id)
        .where(
            Message.folded_text.contains(folded, autoescape=True),
            Message.author.in_(SEARCHED_AUTHORS),
        )
        .order_by(Message.id.desc())
        .limit(limit)
    )
    return [
        MessageHit(
            message_id=message.id,
            conversation_id=message.conversation_id,
            client_id=client.id,
            client_name=client_name(client),
            anonymous=is_anonymous(client),
            author=message.author.value,
            private=message.private,
            channel=message.channel.value,
            at=message.created_at,
            snippet=snippet(message.text, query),
        )
        for message, client in rows
    ]


def snippet(text: str, query: str) -> str:
    """The words around the first match, on one line."""
    line = " ".join(text.split())
    at = line.lower().replace("ё", "е").find(query.lower().replace("ё", "е"))
    at = max(at, 0)
    start, end = max(0, at - SNIPPET), min(len(line), at + len(query) + SNIPPET)
    return ("…" if start else "") + line[start:end] + ("…" if end < len(line) else "")
