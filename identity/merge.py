"""Merging two clients into one, and undoing it.

`merge_in(session, survivor, merged, ...)` moves, in the caller's transaction, every
identity and conversation (and so every message) of `merged` to `survivor`; an identity's
channel and external id are never touched. Open conversations of the two become one: the
most advanced one survives (held by an operator > waiting in the queue > with the bot,
then the oldest), the others' messages move into it, and they are closed with
`Conversation.merged_into_id` and an `EventKind.MERGED` event. The survivor keeps the
earliest deadline and the most urgent priority of the live ones, and replies go to the
channel the client wrote from last. A `MergeRecord` lists exactly what moved, who merged
and on what proof; `merged.merged_into_id` points at the survivor.

After the commit, `sync_queue` makes the live queue agree (one entry: the absorbed
conversations' entries are removed, the survivor's is refreshed). `unmerge_in` undoes a
record: identities, conversations and the absorbed conversations' messages go back, and
what the merged person wrote after the merge goes with them.

Desk entry points (own transaction, queue and live notices included):
    merge_clients(sessions, queue, feed, survivor_id=, merged_id=, operator_id=, note=, now=)
    unmerge(sessions, queue, feed, record_id=, operator_id=, now=)
both return a `MergeSummary` and raise `MergeError` (with a text key) when refused.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import keys
from core.db import SessionFactory
from core.events import DeskFeed, record
from core.lifecycle import move
from core.messages import add_note
from core.models import (
    Author,
    Client,
    ClientTier,
    Conversation,
    ConversationStatus,
    Direction,
    EventKind,
    Identity,
    MergeRecord,
    Message,
)
from core.texts import Refusal, say
from identity.person import current_client
from routing.queue import BY_ORDER, OperatorQueue, as_text
from routing.rebuild import entry_for

__all__ = [
    "MergeError",
    "MergeSummary",
    "merge_clients",
    "merge_in",
    "summary",
    "sync_queue",
    "unmerge",
    "unmerge_in",
]

log = logging.getLogger(__name__)

LIVE = (ConversationStatus.QUEUED, ConversationStatus.ASSIGNED)
_RANK = {ConversationStatus.ASSIGNED: 0, ConversationStatus.QUEUED: 1, ConversationStatus.BOT: 2}
_ROUTING = ("priority", "sla_deadline", "group", "category", "queued_at")
_CLIENT_FIELDS = ("display_name", "phone", "email", "language", "tier")


class MergeError(Refusal):
    """A merge or unmerge that cannot be done."""


@dataclass(frozen=True, slots=True)
class MergeSummary:
    record_id: int
    survivor_id: int
    merged_id: int
    reason: str
    identities: tuple[str, ...]  # "telegram:123" of the identities that moved
    conversations: tuple[int, ...]  # conversations that moved
    absorbed: tuple[int, ...]  # open conversations folded into `thread_id`
    thread_id: int | None  # the one open conversation afterwards (None: none open)
    undone: bool = False


# -- merging -------------------------------------------------------------------------------


async def merge_in(
    session: AsyncSession,
    survivor: Client,
    merged: Client,
    *,
    reason: str,
    proof: str | None,
    operator_id: int | None,
    now: dt.datetime,
    language: str = "ru",
) -> MergeRecord:
    """Merge `merged` into `survivor` inside the caller's transaction (see the module doc);
    `language` is the operators' one, for the note left in the surviving thread."""
    if survivor.id == merged.id:
        raise MergeError("merge_same_client", client_id=survivor.id)
    await session.flush()  # a refresh drops unflushed changes
    for client in sorted((survivor, merged), key=lambda c: c.id):  # a concurrent merge waits
        await session.refresh(client, with_for_update=True)
    for client in (survivor, merged):
        if client.merged_into_id is not None:
            raise MergeError("merge_client_gone", client_id=client.id, into=client.merged_into_id)
    entry = MergeRecord(
        survivor_id=survivor.id,
        merged_id=merged.id,
        reason=reason,
        proof=proof,
        operator_id=operator_id,
        at=now,
        moved={},
    )
    session.add(entry)
    await session.flush()
    identities = list(
        await session.scalars(
            select(Identity).where(Identity.client_id == merged.id).order_by(Identity.id)
        )
    )
    conversations = list(
        await session.scalars(
            select(Conversation)
            .where(Conversation.client_id == merged.id)
            .order_by(Conversation.id)
        )
    )
    moved: dict[str, Any] = {
        "identities": [i.id for i in identities],
        "conversations": [c.id for c in conversations],
        "survivor_before": {f: _plain(getattr(survivor, f)) for f in _CLIENT_FIELDS},
        "max_message_id": await session.scalar(select(func.max(Message.id))) or 0,
        "max_conversation_id": await session.scalar(select(func.max(Conversation.id))) or 0,
        "absorbed": [],
    }
    for identity in identities:
        identity.client_id = survivor.id
    for conversation in conversations:
        conversation.client_id = survivor.id
    open_ones = sorted(
        await session.scalars(
            select(Conversation).where(
                Conversation.client_id == survivor.id,
                Conversation.status != ConversationStatus.CLOSED,
            )
        ),
        key=lambda c: (_RANK[c.status], c.id),
    )
    if open_ones:
        thread, *others = open_ones
        for absorbed in others:
            moved["absorbed"].append(await _absorb(session, absorbed, thread, entry.id, now))
    survivor.display_name = survivor.display_name or merged.display_name
    survivor.phone = survivor.phone or merged.phone
    survivor.email = survivor.email or merged.email
    survivor.language = survivor.language or merged.language
    if merged.tier is ClientTier.VIP:
        survivor.tier = ClientTier.VIP
    merged.merged_into_id = survivor.id
    entry.moved = moved
    await _note(session, entry, now, language)
    await session.flush()
    return entry


async def _absorb(
    session: AsyncSession,
    absorbed: Conversation,
    thread: Conversation,
    merge_id: int,
    now: dt.datetime,
) -> dict[str, Any]:
    """Fold one open conversation into the surviving one; what to undo it."""
    message_ids = list(
        await session.scalars(
            select(Message.id).where(Message.conversation_id == absorbed.id).order_by(Message.id)
        )
    )
    undo = {
        "conversation": absorbed.id,
        "into": thread.id,
        "messages": message_ids,
        "before": {"status": absorbed.status.value},
        "thread_before": {f: _plain(getattr(thread, f)) for f in _ROUTING},
    }
    await session.execute(
        update(Message).where(Message.id.in_(message_ids)).values(conversation_id=thread.id)
    )
    if absorbed.status in LIVE:  # then the thread is live too: it ranks first
        both = (thread, absorbed)
        if _more_urgent(absorbed, thread):
            thread.group, thread.category = absorbed.group, absorbed.category
        thread.priority = min(c.priority for c in both)
        thread.sla_deadline = _earliest(c.sla_deadline for c in both)
        thread.queued_at = _earliest(c.queued_at for c in both)
    if absorbed.updated_at > thread.updated_at:
        thread.last_channel = absorbed.last_channel
        thread.last_identity_id = absorbed.last_identity_id
        thread.updated_at = absorbed.updated_at
    thread.subject = thread.subject or absorbed.subject
    absorbed.merged_into_id = thread.id
    move(
        session,
        absorbed,
        ConversationStatus.CLOSED,
        now,
        event=EventKind.MERGED,
        into=thread.id,
        merge_id=merge_id,
    )
    record(
        session,
        thread,
        EventKind.MERGED,
        now,
        absorbed=absorbed.id,
        merge_id=merge_id,
        messages=len(message_ids),
    )
    return undo


def _earliest(moments: Iterable[dt.datetime | None]) -> dt.datetime | None:
    known = [m for m in moments if m is not None]
    return min(known) if known else None


def _more_urgent(candidate: Conversation, than: Conversation) -> bool:
    if than.status not in LIVE:
        return True
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    return (candidate.priority, candidate.sla_deadline or far) < (
        than.priority,
        than.sla_deadline or far,
    )


# -- undoing -------------------------------------------------------------------------------


async def unmerge_in(
    session: AsyncSession, record_id: int, *, operator_id: int | None, now: dt.datetime
) -> MergeRecord:
    """Undo a merge inside the caller's transaction (see the module doc)."""
    entry = await session.get(MergeRecord, record_id)
    if entry is None:
        raise MergeError("merge_not_found", record_id=record_id)
    if entry.undone_at is not None:
        raise MergeError("merge_already_undone", record_id=record_id)
    involved = (entry.survivor_id, entry.merged_id)
    later = await session.scalar(
        select(MergeRecord.id)
        .where(
            MergeRecord.id > entry.id,
            MergeRecord.undone_at.is_(None),
            or_(MergeRecord.survivor_id.in_(involved), MergeRecord.merged_id.in_(involved)),
        )
        .order_by(MergeRecord.id.desc())
        .limit(1)
    )
    if later is not None:
        raise MergeError("merge_undo_later_first", record_id=record_id, later=later)
    survivor = await session.get(Client, entry.survivor_id)
    merged = await session.get(Client, entry.merged_id)
    assert survivor is not None and merged is not None
    moved = entry.moved
    identity_ids = set(moved["identities"])
    await session.execute(
        update(Identity).where(Identity.id.in_(list(identity_ids))).values(client_id=merged.id)
    )
    # conversations the merged person started after the merge go back with their identities
    started_after = select(Conversation.id).where(
        Conversation.id > moved["max_conversation_id"],
        Conversation.identity_id.in_(list(identity_ids)),
    )
    returning = set(moved["conversations"]) | set(await session.scalars(started_after))
    await session.execute(
        update(Conversation).where(Conversation.id.in_(list(returning))).values(client_id=merged.id)
    )
    pairs: list[tuple[Conversation, Conversation]] = []
    for undo in reversed(moved["absorbed"]):
        absorbed = await session.get(Conversation, undo["conversation"])
        thread = await session.get(Conversation, undo["into"])
        assert absorbed is not None and thread is not None
        await session.execute(
            update(Message)
            .where(Message.id.in_(undo["messages"]))
            .values(conversation_id=absorbed.id)
        )
        absorbed.merged_into_id = None
        move(
            session,
            absorbed,
            ConversationStatus(undo["before"]["status"]),
            now,
            event=EventKind.REOPENED,
            unmerged=entry.id,
        )
        if thread.status is not ConversationStatus.CLOSED:
            for field in _ROUTING:
                setattr(thread, field, _typed(field, undo["thread_before"][field]))
        pairs.append((absorbed, thread))
        record(session, thread, EventKind.MERGED, now, unmerged=entry.id, restored=absorbed.id)
    await _return_later_messages(session, entry, identity_ids, pairs, now)
    await session.flush()
    for conversation in await session.scalars(
        select(Conversation).where(
            Conversation.client_id.in_((survivor.id, merged.id)),
            Conversation.id.in_([c for pair in pairs for c in (pair[0].id, pair[1].id)])
            | (Conversation.status != ConversationStatus.CLOSED)
            | (Conversation.id > moved["max_conversation_id"]),
        )
    ):
        await _fix_last_identity(session, conversation)
    for field, value in moved["survivor_before"].items():
        setattr(survivor, field, _typed(field, value))
    merged.merged_into_id = None
    entry.undone_at = now
    await session.flush()
    return entry


async def _return_later_messages(
    session: AsyncSession,
    entry: MergeRecord,
    identity_ids: set[int],
    pairs: Sequence[tuple[Conversation, Conversation]],
    now: dt.datetime,
) -> None:
    """What was said to or by one side after the merge, in a conversation now on the other
    side, goes to the partner conversation, or else to a closed one of its own: after an
    undo nobody's thread holds the other person's words."""
    partner = {thread.id: absorbed.id for absorbed, thread in pairs}
    partner.update({absorbed.id: thread.id for absorbed, thread in pairs})
    rows = (
        await session.execute(
            select(Message.id, Message.conversation_id, Message.identity_id, Conversation.client_id)
            .join(Conversation, Message.conversation_id == Conversation.id)
            .where(
                Message.id > entry.moved["max_message_id"],
                Message.identity_id.is_not(None),
                Conversation.client_id.in_((entry.survivor_id, entry.merged_id)),
            )
            .order_by(Message.id)
        )
    ).all()
    split: dict[tuple[int, int], int] = {}
    for message_id, conversation_id, identity_id, owner in rows:
        belongs_to_merged = identity_id in identity_ids
        if identity_id is None or belongs_to_merged == (owner == entry.merged_id):
            continue
        target = partner.get(conversation_id)
        if target is None:
            rightful = entry.merged_id if belongs_to_merged else entry.survivor_id
            if (conversation_id, rightful) not in split:
                split[(conversation_id, rightful)] = await _split_off(
                    session, rightful, identity_id, now
                )
            target = split[(conversation_id, rightful)]
        await session.execute(
            update(Message).where(Message.id == message_id).values(conversation_id=target)
        )


async def _split_off(
    session: AsyncSession, client_id: int, identity_id: int, now: dt.datetime
) -> int:
    identity = await session.get(Identity, identity_id)
    assert identity is not None
    conversation = Conversation(
        client_id=client_id,
        identity_id=identity_id,
        status=ConversationStatus.CLOSED,
        last_channel=identity.channel,
        last_identity_id=identity_id,
        created_at=now,
        updated_at=now,
        resolved_at=now,
    )
    session.add(conversation)
    await session.flush()
    return conversation.id


async def _fix_last_identity(session: AsyncSession, conversation: Conversation) -> None:
    """Replies must go to an identity of the conversation's own client."""
    own = select(Identity.id).where(Identity.client_id == conversation.client_id)
    last = await session.get(Identity, conversation.last_identity_id)
    if last is not None and last.client_id == conversation.client_id:
        return
    latest = await session.scalar(
        select(Message.identity_id)
        .where(
            Message.conversation_id == conversation.id,
            Message.direction == Direction.IN,
            Message.identity_id.in_(own),
        )
        .order_by(Message.id.desc())
        .limit(1)
    )
    identity = await session.get(Identity, latest or conversation.identity_id)
    if identity is not None and identity.client_id == conversation.client_id:
        conversation.last_identity_id = identity.id
        conversation.last_channel = identity.channel


# -- the live queue ------------------------------------------------------------------------


async def sync_queue(queue: OperatorQueue, session: AsyncSession, entry: MergeRecord) -> None:
    """After the commit: the queue holds one entry per open conversation the records left.
    Best effort: if Redis is away, the start-up rebuild makes it agree with the database."""
    ids = {c for undo in entry.moved["absorbed"] for c in (undo["conversation"], undo["into"])}
    if not ids:
        return
    try:
        order = sorted(ids)
        found = await queue.redis.hmget(keys.sla_marks(), [str(i) for i in order])
        marks = {cid: as_text(m) for cid, m in zip(order, found, strict=True) if m}
        async with queue.redis.pipeline(transaction=True) as pipe:
            for conversation_id in sorted(ids):
                conversation = await session.get(Conversation, conversation_id)
                await queue.call("remove", conversation_id, client=pipe)
                if conversation is None or conversation.status not in LIVE:
                    continue
                holder = (
                    conversation.assigned_operator_id
                    if conversation.status is ConversationStatus.ASSIGNED
                    else None
                )
                queued = entry_for(conversation)
                mark = "b" if "b" in marks.values() else ("w" if marks else "")
                await queue.call(
                    "restore",
                    conversation_id,
                    queued.order_key(BY_ORDER),
                    queued.details(),
                    "" if holder is None else holder,
                    queue.lease_until(),
                    mark,
                    client=pipe,
                )
            await pipe.execute()
    except RedisError:
        log.exception("merge %s: the live queue will agree after the next rebuild", entry.id)


# -- desk entry points ---------------------------------------------------------------------


async def merge_clients(
    sessions: SessionFactory,
    queue: OperatorQueue,
    feed: DeskFeed,
    *,
    survivor_id: int,
    merged_id: int,
    operator_id: int,
    note: str | None,
    now: dt.datetime,
    language: str = "ru",
) -> MergeSummary:
    """An operator's explicit merge: `merged_id` into `survivor_id` (ids of merged clients
    are followed to where they went)."""
    async with sessions() as session:
        survivor = await _current(session, survivor_id)
        merged = await _current(session, merged_id)
        entry = await merge_in(
            session,
            survivor,
            merged,
            reason="operator",
            proof=note,
            operator_id=operator_id,
            now=now,
            language=language,
        )
        await session.commit()
        await sync_queue(queue, session, entry)
        result = await summary(session, entry)
    await feed.publish(
        "merged",
        record_id=entry.id,
        survivor_id=entry.survivor_id,
        merged_id=entry.merged_id,
        conversation_id=result.thread_id,
        absorbed=list(result.absorbed),
        operator_id=operator_id,
    )
    return result


async def unmerge(
    sessions: SessionFactory,
    queue: OperatorQueue,
    feed: DeskFeed,
    *,
    record_id: int,
    operator_id: int,
    now: dt.datetime,
) -> MergeSummary:
    """An operator undoes a merge record."""
    async with sessions() as session:
        entry = await unmerge_in(session, record_id, operator_id=operator_id, now=now)
        await session.commit()
        await sync_queue(queue, session, entry)
        result = await summary(session, entry)
    await feed.publish(
        "unmerged",
        record_id=entry.id,
        survivor_id=entry.survivor_id,
        merged_id=entry.merged_id,
        operator_id=operator_id,
    )
    return result


async def _current(session: AsyncSession, client_id: int) -> Client:
    client = await current_client(session, client_id)
    if client is None:
        raise MergeError("client_not_found", client_id=client_id)
    return client


async def _note(session: AsyncSession, entry: MergeRecord, now: dt.datetime, language: str) -> None:
    """A private line in the surviving thread, so the operator sees why it grew."""
    thread_id = entry.moved["absorbed"][0]["into"] if entry.moved["absorbed"] else None
    if thread_id is None:
        return
    thread = await session.get(Conversation, thread_id)
    assert thread is not None
    absorbed = ", ".join(f"#{u['conversation']}" for u in entry.moved["absorbed"])
    add_note(
        session,
        thread,
        author=Author.SYSTEM,
        at=now,
        text=say(
            "merge_note",
            language,
            survivor=entry.survivor_id,
            merged=entry.merged_id,
            reason=entry.reason,
            absorbed=absorbed,
        ),
    )


async def summary(session: AsyncSession, entry: MergeRecord) -> MergeSummary:
    identities = await session.scalars(
        select(Identity).where(Identity.id.in_(entry.moved["identities"])).order_by(Identity.id)
    )
    thread = await session.scalar(
        select(Conversation.id)
        .where(
            Conversation.client_id == entry.survivor_id,
            Conversation.status != ConversationStatus.CLOSED,
        )
        .order_by(Conversation.id)
        .limit(1)
    )
    return MergeSummary(
        record_id=entry.id,
        survivor_id=entry.survivor_id,
        merged_id=entry.merged_id,
        reason=entry.reason,
        identities=tuple(f"{i.channel.value}:{i.shown_id}" for i in identities),
        conversations=tuple(entry.moved["conversations"]),
        absorbed=tuple(u["conversation"] for u in entry.moved["absorbed"]),
        thread_id=thread,
        undone=entry.undone_at is not None,
    )


def _plain(value: object) -> object:
    """A column value as JSON can hold it."""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value.value if isinstance(value, enum.Enum) else value


def _typed(field: str, value: Any) -> Any:
    if value is None:
        return None
    if field in ("sla_deadline", "queued_at"):
        return dt.datetime.fromisoformat(value)
    if field == "tier":
        return ClientTier(value)
    return value
