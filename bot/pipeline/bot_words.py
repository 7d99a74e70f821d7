"""The bot's last words in each conversation of a run, asked once for the run.

What the bot said last decides how a message reads: a number picks one of the choices it
offered, an opener naming no topic is no longer vague once it asked for a description,
and a question it has just answered is not answered again. A query per message would
make the unit of work flush the run's rows one message at a time (see `answer_caps`),
so the run's open conversations are asked in one query before its first message; one the
run has decided a message in since, or found another way (a reply header, a ticket
number, a rating), is asked on its own, and a conversation the message opened has none.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.pipeline.turn import Turn
from core.contracts import Action
from core.models import Author, Conversation, Direction, Message

__all__ = ["RunBotWords", "find_bot_words", "last_bot_message", "offered_choices"]

_LAST_OUTBOUND = select(Message).where(
    Message.id.in_(
        select(func.max(Message.id))
        .where(
            Message.conversation_id.in_(bindparam("conversation_ids", expanding=True)),
            Message.direction == Direction.OUT,
        )
        .group_by(Message.conversation_id)
    )
)
"""Built once (see `bot.pipeline.store`): every run asks it."""


class RunBotWords:
    """The bot's last words in the run's conversations, as far as the run's start tells."""

    def __init__(self, known: dict[int, Message | None]) -> None:
        self._known = known

    async def last(self, session: AsyncSession, turn: Turn) -> Message | None:
        """The conversation's last outbound message, if the bot sent it."""
        conversation_id = turn.placed.id
        if conversation_id in self._known:
            return self._known[conversation_id]
        if turn.created:
            return None
        return await last_bot_message(session, conversation_id)

    def decided(self, conversation: Conversation | None) -> None:
        """A message decided there may have added words to the conversation: a later
        message of the run there asks the database (which then has them: the query
        flushes first). As `RunWaits.decided`."""
        if conversation is not None:
            self._known.pop(conversation.id, None)


async def find_bot_words(session: AsyncSession, conversation_ids: Iterable[int]) -> RunBotWords:
    """The bot's last words in each of the conversations, in one query."""
    known: dict[int, Message | None] = dict.fromkeys(conversation_ids)
    if known:
        for message in await session.scalars(_LAST_OUTBOUND, {"conversation_ids": list(known)}):
            known[message.conversation_id] = message if message.author is Author.BOT else None
    return RunBotWords(known)


def offered_choices(bot_said: Message | None) -> list[str]:
    """The articles the bot's words offered to choose from (CHOOSE buttons), in order."""
    buttons = bot_said.buttons if bot_said is not None else ()
    return [b["payload"] for b in buttons if b["action"] == Action.CHOOSE.value]


async def last_bot_message(session: AsyncSession, conversation_id: int) -> Message | None:
    """The conversation's last outbound message, if the bot sent it."""
    last = await session.scalar(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.direction == Direction.OUT)
        .order_by(Message.id.desc())
        .limit(1)
    )
    return last if last is not None and last.author is Author.BOT else None
