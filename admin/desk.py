"""The operators' desk: everything an operator can do, independent of where they do it.

The web console and the Telegram admin bot are two transports over this one class. The
Redis queue decides races (who takes a conversation first, capacity); the database
records the outcome; the client hears from the operator in the channel they last wrote
from. Every failure an operator can cause is a `DeskError` carrying a text key, so each
transport says it in the operator's language.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.accounts.audit import audit
from admin.client_card import anonymous as _anonymous
from admin.client_card import client_name as _client_name
from bot.handover import Handover, mark_taken
from bot.knowledge import ArticleNotFound, KnowledgeBase
from bot.outbox import Outbox
from bot.replies import article_answer
from core.contracts import Action, Attachment, Button, ChannelKind
from core.db import AppendedRow, SessionFactory
from core.events import DeskFeed, record
from core.lifecycle import move
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
    Operator,
    OperatorGroup,
    OperatorRole,
)
from core.texts import say
from identity.merge import MergeError, MergeSummary, merge_clients, unmerge
from identity.recognition import Hint, client_hints, hints_in
from kb.articles import Article
from kb.index import Hit
from routing.errors import AlreadyTaken, NotQueued, OperatorUnavailable, OverCapacity
from routing.presence import OperatorPresence, Presence, PresenceState
from routing.queue import OperatorQueue, validate_group

__all__ = [
    "ClientCard",
    "ConversationView",
    "DeskError",
    "IdentityView",
    "MessageView",
    "OperatorDesk",
    "QueueRow",
    "SavedReply",
]

HISTORY_LIMIT = 200
BREACHING_SOON = dt.timedelta(minutes=15)
QueueView = Literal["waiting", "mine", "breaching"]


class DeskError(Exception):
    """An operator's request that cannot be done; `text(language)` says why."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(say(key, "en", **values))
        self.key = key
        self.values = values

    def text(self, language: str) -> str:
        return say(self.key, language, **self.values)


@dataclass(frozen=True, slots=True)
class QueueRow:
    conversation_id: int
    position: int
    group: str
    priority: int
    client_id: int
    client_name: str
    channel: str
    category: str | None
    waited: dt.timedelta
    deadline: dt.datetime
    status: str
    preview: str
    anonymous: bool = False  # no name, email or phone: the console labels it
    preview_action: str | None = None  # the client's last step was a button (handoff…)


@dataclass(frozen=True, slots=True)
class MessageView:
    id: int
    author: str
    direction: str
    channel: str
    text: str
    attachments: list[dict[str, object]]
    at: dt.datetime
    private: bool
    delivery: str | None
    conversation_id: int
    action: str | None = None  # a client's button press (handoff, choose, rate)
    original_text: str | None = None  # an email's whole letter, when `text` is its fresh part


@dataclass(frozen=True, slots=True)
class ConversationView:
    id: int
    status: str
    client_id: int
    client_name: str
    channel: str
    category: str | None
    group: str | None
    priority: int
    deadline: dt.datetime | None
    operator_id: int | None
    subject: str | None
    messages: tuple[MessageView, ...]
    rating: int | None = None
    resolved_at: dt.datetime | None = None
    anonymous: bool = False


@dataclass(frozen=True, slots=True)
class IdentityView:
    id: int
    channel: str
    external_id: str
    """`Identity.shown_id`: never a web visitor's cookie."""
    display_name: str | None
    verified: bool
    last_seen_at: dt.datetime


@dataclass(frozen=True, slots=True)
class ClientCard:
    """Who the client is: what an operator needs before answering."""

    id: int
    name: str
    tier: str
    language: str | None
    phone: str | None
    email: str | None
    identities: tuple[IdentityView, ...]
    conversations: int
    open_conversations: tuple[int, ...]
    ratings: tuple[int, ...]
    since: dt.datetime
    hints: tuple[Hint, ...]  # possibly the same person: shown, never acted on without proof


@dataclass(frozen=True, slots=True)
class SavedReply:
    """An operator's reply kept in the knowledge base: a new article or a new variant."""

    article_id: str
    question: str
    created: bool


class OperatorDesk:
    def __init__(
        self,
        *,
        sessions: SessionFactory,
        queue: OperatorQueue,
        outbox: Outbox,
        feed: DeskFeed,
        clock: Callable[[], dt.datetime],
        knowledge: KnowledgeBase,
        presence: Presence,
        handover: Handover,
    ) -> None:
        self._sessions = sessions
        self._handover = handover
        self._queue = queue
        self._outbox = outbox
        self._feed = feed
        self._clock = clock
        self._knowledge = knowledge
        self._presence = presence

    # -- operators ------------------------------------------------------------------------

    async def operator(self, operator_id: int) -> Operator:
        async with self._sessions() as session:
            operator = await session.get(Operator, operator_id)
        if operator is None or not operator.active:
            raise PermissionError(f"operator {operator_id} is unknown or disabled")
        return operator

    async def register(
        self,
        name: str,
        *,
        groups: Sequence[str] = ("support",),
        capacity: int = 3,
        language: str = "ru",
        telegram_user_id: int | None = None,
        role: OperatorRole = OperatorRole.OPERATOR,
    ) -> Operator:
        """Find an operator by name (or Telegram id), or create one (with no way to sign in
        to the console: that is an account, admin/accounts)."""
        async with self._sessions() as session:
            query = select(Operator).where(
                Operator.telegram_user_id == telegram_user_id
                if telegram_user_id
                else Operator.name == name
            )
            operator = await session.scalar(query)
            if operator is None:
                operator = Operator(
                    name=name,
                    capacity=capacity,
                    language=language,
                    telegram_user_id=telegram_user_id,
                    role=role,
                    groups=[OperatorGroup(group=g) for g in groups],
                )
                session.add(operator)
                await session.commit()
            return operator

    async def by_telegram(self, telegram_user_id: int) -> Operator | None:
        """The active operator behind a Telegram account, or None (a stranger)."""
        async with self._sessions() as session:
            return await session.scalar(
                select(Operator).where(
                    Operator.telegram_user_id == telegram_user_id, Operator.active.is_(True)
                )
            )

    async def link_telegram(self, operator_id: int, telegram_user_id: int) -> Operator:
        """Make `telegram_user_id` the operator's admin bot account (an invite redeemed);
        an account linked to someone else before is moved."""
        async with self._sessions() as session:
            previous = await session.scalar(
                select(Operator).where(
                    Operator.telegram_user_id == telegram_user_id, Operator.id != operator_id
                )
            )
            if previous is not None:
                previous.telegram_user_id = None
                await session.flush()
            operator = await session.get(Operator, operator_id)
            if operator is None or not operator.active:
                raise PermissionError(f"operator {operator_id} is unknown or disabled")
            operator.telegram_user_id = telegram_user_id
            await session.commit()
            return operator

    # -- the queue ------------------------------------------------------------------------

    async def queue(self, operator_id: int, view: QueueView = "waiting") -> list[QueueRow]:
        operator = await self.operator(operator_id)
        now = self._clock()
        if view == "mine":
            async with self._sessions() as session:
                mine = list(
                    await session.scalars(
                        select(Conversation)
                        .where(
                            Conversation.assigned_operator_id == operator.id,
                            Conversation.status == ConversationStatus.ASSIGNED,
                        )
                        .order_by(Conversation.id)
                    )
                )
                return [await self._row(session, c, n, now) for n, c in enumerate(mine, 1)]
        groups = set(operator.group_names)
        entries = [e for e in await self._queue.waiting() if e.group in groups]
        if view == "breaching":
            entries = [e for e in entries if e.deadline - now <= BREACHING_SOON]
        async with self._sessions() as session:
            rows = []
            for entry in entries:
                conversation = await session.get(Conversation, entry.conversation_id)
                if conversation is not None:
                    position = await self._queue.position(entry.conversation_id) or 0
                    rows.append(await self._row(session, conversation, position, now))
            return rows

    async def _row(
        self, session: AsyncSession, conversation: Conversation, position: int, now: dt.datetime
    ) -> QueueRow:
        client = await session.get(Client, conversation.client_id)
        last = (
            await session.execute(
                select(Message.text, Message.action)
                .where(Message.conversation_id == conversation.id, Message.author == Author.CLIENT)
                .order_by(Message.id.desc())
                .limit(1)
            )
        ).first()
        said = (
            await session.scalar(  # the last words, when the last step was a button
                select(Message.text)
                .where(
                    Message.conversation_id == conversation.id,
                    Message.author == Author.CLIENT,
                    Message.text != "",
                )
                .order_by(Message.id.desc())
                .limit(1)
            )
            if last is not None and not last.text
            else None
        )
        return QueueRow(
            conversation_id=conversation.id,
            position=position,
            group=conversation.group or "",
            priority=conversation.priority,
            client_id=conversation.client_id,
            client_name=_client_name(client),
            channel=conversation.last_channel.value,
            category=conversation.category,
            waited=now - (conversation.queued_at or conversation.created_at),
            deadline=conversation.sla_deadline or now,
            status=conversation.status.value,
            preview=((last.text if last is not None else "") or said or "")[:200],
            anonymous=_anonymous(client),
            preview_action=last.action if last is not None and not last.text else None,
        )

    async def take_next(self, operator_id: int) -> ConversationView:
        operator = await self.operator(operator_id)
        try:
            entry = await self._queue.take_next(
                operator.id, operator.group_names, operator.capacity
            )
        except OverCapacity:
            raise DeskError("desk_over_capacity", capacity=operator.capacity) from None
        if entry is None:
            raise DeskError("desk_nothing_waiting")
        return await self._assigned(operator, entry.conversation_id)

    async def take(self, operator_id: int, conversation_id: int) -> ConversationView:
        operator = await self.operator(operator_id)
        try:
            await self._queue.take(conversation_id, operator.id, operator.capacity)
        except AlreadyTaken as taken:
            if taken.holder == operator.id:
                return await self.conversation(operator_id, conversation_id)
            holder = await self._operator_name(taken.holder)
            raise DeskError("desk_taken", conversation_id=conversation_id, holder=holder) from None
        except OverCapacity:
            raise DeskError("desk_over_capacity", capacity=operator.capacity) from None
        except NotQueued:
            raise DeskError("desk_not_queued", conversation_id=conversation_id) from None
        return await self._assigned(operator, conversation_id)

    async def _assigned(self, operator: Operator, conversation_id: int) -> ConversationView:
        now = self._clock()
        async with self._sessions() as session:
            conversation = await session.get(Conversation, conversation_id)
            if conversation is None:
                await self._queue.remove(conversation_id)
                raise DeskError("desk_not_found", conversation_id=conversation_id)
            mark_taken(session, conversation, operator.id, now)
            await session.commit()
        await self._feed.publish(
            "taken",
            conversation_id=conversation_id,
            operator_id=operator.id,
            operator=operator.name,
        )
        return await self.conversation(operator.id, conversation_id)

    # -- working a conversation -----------------------------------------------------------

    async def reply(
        self,
        operator_id: int,
        conversation_id: int,
        text: str,
        attachments: Sequence[Attachment] = (),
        *,
        via: ChannelKind | None = None,
        kb_article_id: str | None = None,
    ) -> MessageView:
        """Answer the client in the channel of their latest message, or `via` another
        channel the client has written from."""
        if not text.strip() and not attachments:
            raise DeskError("desk_empty_reply")
        now = self._clock()
        async with self._sessions() as session:
            conversation = await self._held(session, operator_id, conversation_id)
            identity = await self._identity_via(session, conversation, via) if via else None
            reply = await add_reply(
                session,
                conversation,
                text=text,
                author=Author.OPERATOR,
                at=now,
                attachments=attachments,
                operator_id=operator_id,
                identity=identity,
                kb_article_id=kb_article_id,
            )
            if conversation.first_response_at is None:
                conversation.first_response_at = now
                record(
                    session, conversation, EventKind.FIRST_RESPONSE, now, operator_id=operator_id
                )
            await session.commit()
            message = await self._stored(session, reply)
        await self._queue.renew(conversation_id, operator_id)
        self._outbox.submit([message.id])
        return _message_view(message)

    async def note(self, operator_id: int, conversation_id: int, text: str) -> MessageView:
        """An internal note: stored in the thread, never sent to the client."""
        if not text.strip():
            raise DeskError("desk_empty_reply")
        now = self._clock()
        async with self._sessions() as session:
            conversation = await self._conversation(session, conversation_id)
            note = add_message(
                session,
                conversation_id=conversation.id,
                channel=conversation.last_channel,
                direction=Direction.OUT,
                author=Author.OPERATOR,
                operator_id=operator_id,
                text=text,
                private=True,
                created_at=now,
            )
            await session.commit()
            message = await self._stored(session, note)
        await self._queue.renew(conversation_id, operator_id)
        return _message_view(message)

    async def close(self, operator_id: int, conversation_id: int) -> None:
        """Close, free the operator's slot, and ask the client for a 1–5 rating."""
        now = self._clock()
        async with self._sessions() as session:
            conversation = await self._held(session, operator_id, conversation_id)
            move(
                session,
                conversation,
                ConversationStatus.CLOSED,
                now,
                event=EventKind.CLOSED,
                operator_id=operator_id,
                by="operator",
            )
            client = await session.get(Client, conversation.client_id)
            language = (client.language if client else None) or "ru"
            email = conversation.last_channel is ChannelKind.EMAIL
            buttons = (
                []
                if email
                else [Button(str(n), Action.RATE, f"{conversation.id}:{n}") for n in range(1, 6)]
            )
            ask = await add_reply(
                session,
                conversation,
                author=Author.BOT,
                at=now,
                buttons=buttons,
                text=say("rate_request_email" if email else "rate_request", language),
            )
            await session.commit()
        await self._queue.remove(conversation_id)
        self._outbox.submit([ask.id])
        await self._feed.publish("closed", conversation_id=conversation_id, operator_id=operator_id)
        await self._push_to(operator_id)

    async def heartbeat(self, operator_id: int) -> None:
        """Keep the leases of everything the operator holds while their console is open."""
        async with self._sessions() as session:
            held = await session.scalars(
                select(Conversation.id).where(
                    Conversation.assigned_operator_id == operator_id,
                    Conversation.status == ConversationStatus.ASSIGNED,
                )
            )
            for conversation_id in held:
                await self._queue.renew(conversation_id, operator_id)

    async def conversation(self, operator_id: int, conversation_id: int) -> ConversationView:
        await self.operator(operator_id)
        return await self.view(conversation_id)

    async def view(self, conversation_id: int) -> ConversationView:
        """A conversation as operators see it (for notifications: no operator is asking)."""
        async with self._sessions() as session:
            conversation = await self._conversation(session, conversation_id)
            client = await session.get(Client, conversation.client_id)
            messages = await session.scalars(
                select(Message)
                .where(Message.conversation_id == conversation.id)
                .order_by(Message.id.desc())
                .limit(HISTORY_LIMIT)
            )
            return ConversationView(
                id=conversation.id,
                status=conversation.status.value,
                client_id=conversation.client_id,
                client_name=_client_name(client),
                channel=conversation.last_channel.value,
                category=conversation.category,
                group=conversation.group,
                priority=conversation.priority,
                deadline=conversation.sla_deadline,
                operator_id=conversation.assigned_operator_id,
                subject=conversation.subject,
                messages=tuple(_message_view(m) for m in reversed(list(messages))),
                rating=conversation.rating,
                resolved_at=conversation.resolved_at,
                anonymous=_anonymous(client),
            )

    @staticmethod
    async def _stored(session: AsyncSession, row: AppendedRow) -> Message:
        """A message written as a row (`add_message`), read back for its view."""
        message = await session.get(Message, row.id)
        assert message is not None, "read back in the session that wrote it"
        return message

    async def _conversation(self, session: AsyncSession, conversation_id: int) -> Conversation:
        conversation = await session.get(Conversation, conversation_id)
        if conversation is None:
            raise DeskError("desk_not_found", conversation_id=conversation_id)
        return conversation

    async def _held(
        self, session: AsyncSession, operator_id: int, conversation_id: int
    ) -> Conversation:
        conversation = await self._conversation(session, conversation_id)
        if conversation.status is ConversationStatus.CLOSED:
            raise DeskError("desk_closed", conversation_id=conversation_id)
        if conversation.assigned_operator_id != operator_id:
            raise DeskError("desk_not_yours", conversation_id=conversation_id)
        return conversation

    async def _identity_via(
        self, session: AsyncSession, conversation: Conversation, channel: ChannelKind
    ) -> Identity:
        identity = await session.scalar(
            select(Identity)
            .where(Identity.client_id == conversation.client_id, Identity.channel == channel)
            .order_by(Identity.last_seen_at.desc())
            .limit(1)
        )
        if identity is None:
            raise DeskError("desk_no_channel", channel=channel.value)
        return identity

    # -- transfer -------------------------------------------------------------------------

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
        (by name or id); the note stays in the thread, for them only."""
        if group is None and to_operator is None:
            raise DeskError("desk_transfer_target")
        if group is not None:
            try:
                validate_group(group)
            except ValueError:
                raise DeskError("desk_bad_group", group=group) from None
        target = await self.find_operator(to_operator) if to_operator else None
        target_id = target.id if target else None
        async with self._sessions() as session:
            await self._held(session, operator_id, conversation_id)
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
            conversation = await self._conversation(session, conversation_id)
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
            if target is not None:
                record(
                    session,
                    conversation,
                    EventKind.TAKEN,
                    now,
                    operator_id=target_id,
                    by="transfer",
                )
            if note.strip():
                add_message(
                    session,
                    conversation_id=conversation.id,
                    channel=conversation.last_channel,
                    direction=Direction.OUT,
                    author=Author.OPERATOR,
                    operator_id=operator_id,
                    text=note,
                    private=True,
                    created_at=now,
                )
            await session.commit()
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
        return await self.conversation(operator_id, conversation_id)

    async def known_groups(self) -> set[str]:
        """The groups some operator serves: the places a transfer can go."""
        async with self._sessions() as session:
            return set(await session.scalars(select(OperatorGroup.group).distinct()))

    async def find_operator(self, who: str) -> Operator:
        """An active operator by id or by name (case-insensitive, compared here: SQLite
        lowers only ASCII letters)."""
        wanted = who.strip().lstrip("#")
        async with self._sessions() as session:
            active = await session.scalars(
                select(Operator).where(Operator.active.is_(True)).order_by(Operator.id)
            )
            operator = next(
                (
                    o
                    for o in active
                    if str(o.id) == wanted or o.name.casefold() == wanted.casefold()
                ),
                None,
            )
        if operator is None:
            raise DeskError("desk_operator_unknown", name=who)
        return operator

    # -- who the client is ----------------------------------------------------------------

    async def client_card(self, operator_id: int, conversation_id: int) -> ClientCard:
        await self.operator(operator_id)
        async with self._sessions() as session:
            conversation = await self._conversation(session, conversation_id)
            client = await session.get(Client, conversation.client_id)
            assert client is not None
            identities = await session.scalars(
                select(Identity).where(Identity.client_id == client.id).order_by(Identity.id)
            )
            conversations = list(
                await session.execute(
                    select(Conversation.id, Conversation.status, Conversation.rating)
                    .where(Conversation.client_id == client.id)
                    .order_by(Conversation.id)
                )
            )
            return ClientCard(
                id=client.id,
                name=_client_name(client),
                tier=client.tier.value,
                language=client.language,
                phone=client.phone,
                email=client.email,
                identities=tuple(
                    IdentityView(
                        i.id,
                        i.channel.value,
                        i.shown_id,
                        i.display_name,
                        i.verified,
                        i.last_seen_at,
                    )
                    for i in identities
                ),
                conversations=len(conversations),
                open_conversations=tuple(
                    c.id for c in conversations if c.status is not ConversationStatus.CLOSED
                ),
                ratings=tuple(c.rating for c in conversations if c.rating),
                since=client.created_at,
                hints=tuple(await hints_in(session, client.id)),
            )

    async def merge(
        self, operator_id: int, conversation_id: int, other_client_id: int, note: str | None = None
    ) -> MergeSummary:
        """The operator's explicit merge: client `other_client_id` into this conversation's."""
        operator = await self.operator(operator_id)
        async with self._sessions() as session:
            client_id = (await self._conversation(session, conversation_id)).client_id
        try:
            return await merge_clients(
                self._sessions,
                self._queue,
                self._feed,
                survivor_id=client_id,
                merged_id=other_client_id,
                operator_id=operator.id,
                note=note,
                now=self._clock(),
                language=operator.language,
            )
        except MergeError as refused:
            raise DeskError(refused.key, **refused.values) from None

    async def unmerge(self, operator_id: int, record_id: int) -> MergeSummary:
        """Undo a merge: admins only (it splits a client's history back apart)."""
        operator = await self.operator(operator_id)
        if operator.role is not OperatorRole.ADMIN:
            raise DeskError("desk_admin_only")
        try:
            done = await unmerge(
                self._sessions,
                self._queue,
                self._feed,
                record_id=record_id,
                operator_id=operator.id,
                now=self._clock(),
            )
        except MergeError as refused:
            raise DeskError(refused.key, **refused.values) from None
        async with self._sessions() as session:
            audit(
                session,
                "merge_undone",
                actor_id=operator.id,
                at=self._clock(),
                record=record_id,
                merged=done.merged_id,
                survivor=done.survivor_id,
            )
            await session.commit()
        return done

    async def client_hints(self, operator_id: int, client_id: int) -> list[Hint]:
        """Clients who may be the same person as `client_id` (same email or phone): hints only."""
        await self.operator(operator_id)
        return await client_hints(self._sessions, client_id)

    async def history(
        self, operator_id: int, conversation_id: int, limit: int = HISTORY_LIMIT
    ) -> list[MessageView]:
        """The client's last `limit` messages across all their conversations and channels,
        oldest first (each carries its channel and conversation)."""
        await self.operator(operator_id)
        async with self._sessions() as session:
            conversation = await self._conversation(session, conversation_id)
            newest_first = await session.scalars(
                select(Message)
                .join(Conversation, Message.conversation_id == Conversation.id)
                .where(Conversation.client_id == conversation.client_id)
                .order_by(Message.id.desc())
                .limit(limit)
            )
            return [_message_view(m) for m in reversed(list(newest_first))]

    # -- the knowledge base ---------------------------------------------------------------

    def search_kb(self, query: str, limit: int = 5) -> list[Hit]:
        return [
            hit for hit in self._knowledge.index.search(query, limit=limit) if hit.article.enabled
        ]

    async def send_article(
        self, operator_id: int, conversation_id: int, article_id: str
    ) -> MessageView:
        """Answer the client with a KB article, in the style of their channel."""
        article = self._knowledge.index.article(article_id)
        if article is None:
            raise DeskError("desk_article_unknown", article_id=article_id)
        async with self._sessions() as session:
            conversation = await self._conversation(session, conversation_id)
            answer = article_answer(article, conversation)
        return await self.reply(operator_id, conversation_id, answer, kb_article_id=article.id)

    async def save_reply(
        self, operator_id: int, conversation_id: int, *, article_id: str | None = None
    ) -> SavedReply:
        """Teach the KB from the operator's last reply here: the client's question before it
        becomes a new article answered by that reply, or (`article_id`) a new way of asking
        an existing article."""
        async with self._sessions() as session:
            conversation = await self._conversation(session, conversation_id)
            reply = await session.scalar(
                select(Message)
                .where(
                    Message.conversation_id == conversation_id,
                    Message.author == Author.OPERATOR,
                    Message.operator_id == operator_id,
                    Message.private.is_(False),
                    Message.text != "",
                )
                .order_by(Message.id.desc())
                .limit(1)
            )
            if reply is None:
                raise DeskError("desk_no_reply_to_save", conversation_id=conversation_id)
            question = (
                await session.scalar(
                    select(Message.text)
                    .where(
                        Message.conversation_id == conversation_id,
                        Message.author == Author.CLIENT,
                        Message.id < reply.id,
                        Message.text != "",
                    )
                    .order_by(Message.id.desc())
                    .limit(1)
                )
                or ""
            )
            client = await session.get(Client, conversation.client_id)
            category = conversation.category
        question = " ".join(question.split())[:500]
        if article_id is not None:
            if not question:
                raise DeskError("desk_no_reply_to_save", conversation_id=conversation_id)
            try:
                await self._knowledge.add_variant(article_id, question)
            except ArticleNotFound:
                raise DeskError("desk_article_unknown", article_id=article_id) from None
            return SavedReply(article_id, question, created=False)
        new_id = f"operator-{reply.id}"
        await self._knowledge.save_article(
            Article(
                id=new_id,
                title=(question or reply.text)[:120],
                answer=reply.text,
                questions=(question,) if question else (),
                category=category,
                language=(client.language if client else None) or "ru",
            )
        )
        return SavedReply(new_id, question, created=True)

    # -- presence -------------------------------------------------------------------------

    async def set_presence(self, operator_id: int, state: PresenceState) -> OperatorPresence:
        operator = await self.operator(operator_id)
        presence = await self._presence.set(
            operator.id, state, capacity=operator.capacity, groups=operator.group_names
        )
        await self._push_to(operator_id)
        return presence

    async def _push_to(self, operator_id: int) -> None:
        """An operator who is online with a free slot gets what waits in their groups."""
        presence = await self._presence.get(operator_id)
        if presence.state is PresenceState.ONLINE:
            await self._handover.dispatch(presence.groups)

    async def presence(self, operator_id: int) -> OperatorPresence:
        return await self._presence.get(operator_id)

    async def _operator_name(self, operator_id: int | None) -> str:
        async with self._sessions() as session:
            operator = await session.get(Operator, operator_id) if operator_id else None
        return operator.name if operator else "?"


def _message_view(message: Message) -> MessageView:
    return MessageView(
        id=message.id,
        author=message.author.value,
        direction=message.direction.value,
        channel=message.channel.value,
        text=message.text,
        attachments=list(message.attachments or []),
        at=message.created_at,
        private=message.private,
        delivery=message.delivery.value if message.delivery else None,
        conversation_id=message.conversation_id,
        action=message.action,
        original_text=message.original_text if message.original_text != message.text else None,
    )
