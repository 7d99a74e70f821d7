"""What the steps pass along for one inbound message."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from bot.pipeline.waits import Waits
from core.contracts import Button, InboundMessage
from core.messages import add_reply
from core.models import Author, Client, Conversation, Identity, Message
from core.unit_of_work import AppendedRow

__all__ = ["Outcome", "Sender", "Turn"]


@dataclass(frozen=True, slots=True)
class Sender:
    """Who wrote (`sender` step): where replies go, whose client it is, in which language
    to answer."""

    identity: Identity
    client: Client
    language: str


@dataclass
class Outcome:
    """What the unit of work decided for one message; `deliver` carries it out after the
    commit."""

    sender: Identity
    """The conversation's last identity, where replies go."""
    language: str
    replies: list[AppendedRow] = field(default_factory=list)
    """Written in this unit of work: their ids exist once it is flushed."""
    handled_ids: list[int] = field(default_factory=list)
    """Written (and flushed) by identity recognition."""
    after_commit: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    """Identity recognition's work for after the commit (a merge's queue update, notice)."""
    queued_id: int | None = None
    """A conversation handed off: its queue entry is made after the commit."""
    withdrawn_id: int | None = None
    """A queued conversation its client closed: its queue entry goes after the commit."""
    place_asked_id: int | None = None
    """A queued conversation whose client asked how long: told their place after the commit."""
    tell_client: bool = True
    """Whether the client hears when to expect a person."""
    notices: list[tuple[str, dict[str, object]]] = field(default_factory=list)
    """What the operators' desk is told: (kind, data); a row of this unit of work in the
    data is told as its id (written by then: no flush a message to learn it)."""

    @property
    def reply_ids(self) -> list[int]:
        return [*self.handled_ids, *(m.id for m in self.replies)]

    async def reply(
        self,
        session: AsyncSession,
        conversation: Conversation,
        text: str,
        now: dt.datetime,
        *,
        buttons: Sequence[Button] = (),
        kb_article_id: str | None = None,
        kb_score: float | None = None,
    ) -> None:
        """A bot reply to the sender, stored now and sent after the commit."""
        self.replies.append(
            await add_reply(
                session,
                conversation,
                text=text,
                author=Author.BOT,
                at=now,
                buttons=buttons,
                identity=self.sender,
                kb_article_id=kb_article_id,
                kb_score=kb_score,
            )
        )


@dataclass
class Turn:
    """One message on its way through the steps."""

    inbound: InboundMessage
    sender: Sender
    outcome: Outcome
    conversation: Conversation | None = None
    """Set by `thread` (None until the run's new conversations are made)."""
    created: bool = False
    """The conversation is new: its CREATED event is recorded as the message is stored."""
    rated: bool = False
    """A 1–5 rating, answered as it was placed: no policy."""
    message: AppendedRow | None = None
    """Set by `store`."""
    bot_said: Message | None = None
    """The bot's words, when the conversation's last outbound message is the bot's (set
    before `recognise`, from `bot_words`)."""
    waits: Waits = field(default_factory=Waits)
    """What the client was told in this wait with the operators (set before `recognise`,
    from `waits`)."""

    @property
    def placed(self) -> Conversation:
        assert self.conversation is not None, "placed, and opened if new"
        return self.conversation
