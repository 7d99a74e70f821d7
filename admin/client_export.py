"""Everything the desk keeps about a person, as one document: what a desk hands over when a
client asks what data it holds about them (152-ФЗ art. 14, GDPR art. 15 and 20).

The person is found by any of their client numbers (merged ones included). The document
has what they told us and what we know of them: their names, phone and email as given,
each account (a web visitor's cookie never: it is a bearer secret), and every
conversation as they saw it: their messages, the bot's and the operators' replies (with
the operator's name, as the client was told it), the names of the files either side
sent, the rating they gave. The operators' private notes are the desk's internal work
and stay out; so do the KB's scores and delivery details.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.accounts.audit import audit
from core.db import SessionFactory
from core.models import Client, Conversation, Message, Operator, utcnow
from identity.person import accounts_of, current_client, merged_clients

__all__ = ["ClientExport", "client_export", "export_json"]


@dataclass(frozen=True, slots=True)
class ClientRecord:
    number: int
    name: str | None
    phone: str | None
    email: str | None
    language: str | None
    since: dt.datetime


@dataclass(frozen=True, slots=True)
class AccountRecord:
    channel: str
    account: str  # "visitor #N" for a web visitor, never their cookie
    name: str | None
    phone: str | None
    verified: bool
    first_seen: dt.datetime
    last_seen: dt.datetime


@dataclass(frozen=True, slots=True)
class MessageRecord:
    at: dt.datetime
    author: str  # client | bot | operator | system
    operator: str | None
    channel: str
    text: str
    action: str | None  # a button the client pressed: handoff, choose, rate…
    files: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    number: int
    status: str
    category: str | None
    subject: str | None
    opened: dt.datetime
    closed: dt.datetime | None
    rating: int | None
    messages: tuple[MessageRecord, ...]


@dataclass(frozen=True, slots=True)
class ClientExport:
    made_at: dt.datetime
    client: ClientRecord
    merged: tuple[ClientRecord, ...]
    """The person's other client numbers, merged into this one, with what each was told."""
    accounts: tuple[AccountRecord, ...]
    conversations: tuple[ConversationRecord, ...]


async def client_export(
    sessions: SessionFactory, client_id: int, *, by: int | None
) -> ClientExport | None:
    """The document of the person behind `client_id`, made for admin `by` (None: the
    server's CLI) and recorded in the audit log; None when there is no such client."""
    async with sessions() as session:
        client = await current_client(session, client_id)
        if client is None:
            return None
        merged = list(
            await session.scalars(
                select(Client)
                .where(Client.id.in_(await merged_clients(session, client.id)))
                .order_by(Client.id)
            )
        )
        accounts = await accounts_of(session, client.id)
        document = ClientExport(
            made_at=utcnow(),
            client=_client_record(client),
            merged=tuple(map(_client_record, merged)),
            accounts=tuple(
                AccountRecord(
                    channel=a.channel.value,
                    account=a.shown_id,
                    name=a.display_name,
                    phone=a.phone,
                    verified=a.verified,
                    first_seen=a.created_at,
                    last_seen=a.last_seen_at,
                )
                for a in accounts
            ),
            conversations=tuple(await _conversations(session, client.id)),
        )
        audit(session, "client_exported", actor_id=by, client=client.id)
        await session.commit()
        return document


def _client_record(client: Client) -> ClientRecord:
    return ClientRecord(
        number=client.id,
        name=client.display_name,
        phone=client.phone,
        email=client.email,
        language=client.language,
        since=client.created_at,
    )


async def _conversations(session: AsyncSession, client_id: int) -> list[ConversationRecord]:
    conversations = list(
        await session.scalars(
            select(Conversation)
            .where(Conversation.client_id == client_id)
            .order_by(Conversation.id)
        )
    )
    said: dict[int, list[MessageRecord]] = {c.id: [] for c in conversations}
    rows = await session.execute(
        select(Message, Operator.name)
        .outerjoin(Operator, Message.operator_id == Operator.id)
        .where(Message.conversation_id.in_(said), Message.private.is_(False))
        .order_by(Message.id)
    )
    for message, operator in rows:
        said[message.conversation_id].append(
            MessageRecord(
                at=message.created_at,
                author=message.author.value,
                operator=operator,
                channel=message.channel.value,
                text=message.text,
                action=message.action,
                files=tuple(
                    str(a.get("name") or a.get("kind") or "file")
                    for a in message.attachments or ()
                    if isinstance(a, dict)
                ),
            )
        )
    return [
        ConversationRecord(
            number=c.id,
            status=c.status.value,
            category=c.category,
            subject=c.subject,
            opened=c.created_at,
            closed=c.resolved_at,
            rating=c.rating,
            messages=tuple(said[c.id]),
        )
        for c in conversations
    ]


def export_json(document: ClientExport) -> str:
    """The document as the person gets it: UTF-8 JSON, times in ISO 8601 with their offset."""
    return json.dumps(
        dataclasses.asdict(document),
        default=lambda value: value.isoformat(),
        ensure_ascii=False,
        indent=2,
    )
