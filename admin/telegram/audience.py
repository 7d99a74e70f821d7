"""Who reads the admin bot's notices: the operators' group, or operators' private chats.

`Audience` is the configuration (the operators' group, forum or not, and its language and
time zone); `Readers` works out the chats a notice goes to: every online operator serving
a group, the operator holding a conversation, and the names those notices mention.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select

from admin.desk import ConversationView
from admin.telegram.forum import ForumTopics
from admin.telegram.sender import AdminSender, ChatRef
from admin.telegram.texts import say
from core.db import SessionFactory
from core.models import Operator, OperatorRole
from routing.presence import Presence, PresenceState

__all__ = ["Audience", "Posting", "Reader", "Readers", "topic_name", "topic_name_of"]


@dataclass(frozen=True, slots=True)
class Audience:
    """Where notifications go: the operators' group (`chat_id`, a forum when `forum`), or
    else each online operator's private chat; `language` is the group's."""

    chat_id: int | None
    forum: bool
    language: str
    zone: ZoneInfo


@dataclass(frozen=True, slots=True)
class Reader:
    """One chat a notice is posted to, and the language to post it in."""

    ref: ChatRef
    language: str


class Readers:
    def __init__(self, *, sessions: SessionFactory, presence: Presence, audience: Audience) -> None:
        self._sessions = sessions
        self._presence = presence
        self._audience = audience

    async def of_group(self, group: str) -> list[Reader]:
        """Outside forum mode: the operators' group, or every online operator serving
        `group` in their private chat. In forum mode the topic is the place (see callers)."""
        audience = self._audience
        if audience.chat_id is not None:
            return [] if audience.forum else [Reader(ChatRef(audience.chat_id), audience.language)]
        online = {
            p.operator_id for p in await self._presence.all() if p.state is PresenceState.ONLINE
        }
        async with self._sessions() as session:
            operators = await session.scalars(
                select(Operator)
                .where(Operator.active.is_(True), Operator.telegram_user_id.is_not(None))
                .order_by(Operator.id)
            )
            return [
                Reader(ChatRef(int(o.telegram_user_id or 0)), o.language)
                for o in operators
                if o.id in online and group in o.group_names
            ]

    async def holder(self, operator_id: int | None) -> Reader | None:
        """The operator's private chat, when they use the admin bot."""
        if operator_id is None:
            return None
        async with self._sessions() as session:
            operator = await session.get(Operator, operator_id)
        if operator is None or operator.telegram_user_id is None:
            return None
        return Reader(ChatRef(operator.telegram_user_id), operator.language)

    async def admins(self) -> list[Reader]:
        """Every active admin who uses the admin bot, in their private chat."""
        async with self._sessions() as session:
            admins = await session.scalars(
                select(Operator)
                .where(
                    Operator.active.is_(True),
                    Operator.role == OperatorRole.ADMIN,
                    Operator.telegram_user_id.is_not(None),
                )
                .order_by(Operator.id)
            )
            return [Reader(ChatRef(int(a.telegram_user_id or 0)), a.language) for a in admins]

    async def operator_name(self, operator_id: object) -> str:
        if not isinstance(operator_id, int):
            return "?"
        async with self._sessions() as session:
            operator = await session.get(Operator, operator_id)
        return operator.name if operator else "?"


@dataclass(frozen=True, slots=True)
class Posting:
    """What each kind of notice is posted with: the sender, who reads it, the audience's
    settings, and the forum's topics (None outside forum mode)."""

    sender: AdminSender
    readers: Readers
    audience: Audience
    topics: ForumTopics | None


def topic_name(audience: Audience, view: ConversationView) -> str:
    """The forum topic's title of a conversation, in the group's language."""
    return topic_name_of(audience, view.id, view.client_name, view.channel)


def topic_name_of(audience: Audience, conversation_id: int, client: str, channel: str) -> str:
    return say(
        "topic_name",
        audience.language,
        id=conversation_id,
        client=client,
        channel=channel,
    )
