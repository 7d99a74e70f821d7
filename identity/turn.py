"""One inbound message being recognised: what every proof step needs, and its two ways of
speaking (a reply to the client in its conversation, a private note for the operator)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from core.contracts import Button, InboundMessage
from core.messages import add_message, add_reply
from core.models import Author, Client, Conversation, ConversationStatus, Direction, Identity
from core.texts import say

__all__ = ["AfterCommit", "Turn", "words"]

AfterCommit = Callable[[], Awaitable[None]]
"""Work for after the engine's commit (a merge's queue update and notice)."""

_LIVE = (ConversationStatus.QUEUED, ConversationStatus.ASSIGNED)
_WORDS = re.compile(r"[\w'@.+-]+", re.UNICODE)


def words(text: str) -> list[str]:
    """A message's words, lower case, without trailing punctuation."""
    return [w.lower().strip(".,!?") for w in _WORDS.findall(text)]


@dataclass
class Turn:
    """One inbound message being handled: what every step needs."""

    session: AsyncSession
    inbound: InboundMessage
    identity: Identity
    client: Client
    conversation: Conversation
    language: str
    now: dt.datetime
    desk_language: str
    """The operators' language, for what only they read (notes, merge records)."""
    after_commit: list[AfterCommit] = field(default_factory=list)

    @property
    def live(self) -> bool:
        """The conversation is with the operators (queued or taken)."""
        return self.conversation.status in _LIVE

    @property
    def source(self) -> str | None:
        """Where the message came from on the network (the web chat's visitor address), so
        that limits hold for someone who makes a new identity per try."""
        source = self.inbound.meta.get("source")
        return str(source) if source else None

    async def reply(self, key: str, buttons: Sequence[Button] = (), /, **values: object) -> int:
        """The bot's answer `key` in the client's language, flushed: its message id."""
        return await self.tell(
            self.conversation, self.identity, say(key, self.language, **values), buttons
        )

    async def tell(
        self,
        conversation: Conversation,
        identity: Identity,
        text: str,
        buttons: Sequence[Button] = (),
    ) -> int:
        """A bot message to `identity` in `conversation` (this turn's or another: the chat a
        code came from, a letter of its own), flushed: its message id."""
        message = await add_reply(
            self.session,
            conversation,
            author=Author.BOT,
            at=self.now,
            identity=identity,
            buttons=buttons,
            text=text,
        )
        await self.session.flush()
        return message.id

    def note(self, key: str, **values: object) -> None:
        """A private line in the thread for the operator."""
        add_message(
            self.session,
            conversation_id=self.conversation.id,
            channel=self.conversation.last_channel,
            direction=Direction.OUT,
            author=Author.SYSTEM,
            private=True,
            created_at=self.now,
            text=say(key, self.desk_language, **values),
        )
