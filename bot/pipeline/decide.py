"""Step 5, decide: the dialogue policy, from what `recognise` made of a message.

- a conversation an operator holds, or one waiting in the queue: the operators are told
  (a client in the queue asking for a person hears it is still queued);
- greetings, thanks, stickers, files and empty messages get their own replies;
- a request for a person, or a channel's hourly cap on bot answers, hands off;
- anything else goes to the knowledge base (`consult`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.pipeline.consult import Consult, handoff_button
from bot.pipeline.queueing import hand_off
from bot.pipeline.recognise import Intent, Rating, Recognised
from bot.pipeline.turn import Turn
from bot.queued import acknowledge_queued
from core.contracts import ChannelKind
from core.events import record
from core.messages import MESSAGES, add_reply
from core.models import Author, Conversation, ConversationStatus, EventKind, Message
from core.texts import say
from core.unit_of_work import unwritten_rows
from kb.index import Match
from routing.service_levels import ServiceLevels

__all__ = ["Policy", "apply_rating", "thank_for_rating"]

_REPLIES = {
    Intent.START: "greeting",
    Intent.GREETING: "greeting",
    Intent.THANKS: "thanks",
    Intent.STICKER: "sticker",
    Intent.EMPTY: "empty",
}
"""Intents answered with a fixed text."""


class Policy:
    def __init__(
        self, consult: Consult, levels: ServiceLevels, answer_caps: Mapping[ChannelKind, int]
    ) -> None:
        self._consult = consult
        self._levels = levels
        self._answer_caps = dict(answer_caps)

    async def __call__(
        self,
        session: AsyncSession,
        turn: Turn,
        recognised: Recognised,
        now: dt.datetime,
        decided: Mapping[str, Match],
    ) -> None:
        conversation, outcome, language = turn.placed, turn.outcome, turn.sender.language
        intent = recognised.intent
        if intent is Intent.AUTOMATED:
            return
        assert turn.message is not None, "stored before the policy"
        if intent is Intent.BOUNCE or recognised.with_operators:
            await session.flush()  # the message's id, for the event or the operators' notice
        if intent is Intent.BOUNCE:
            record(session, conversation, EventKind.BOUNCED, now, message_id=turn.message.id)
            outcome.notices.append(("bounced", {"conversation_id": conversation.id}))
            return
        if recognised.with_operators:  # whatever happens next, the operators see it
            outcome.notices.append(
                (
                    "client_message",
                    {
                        "conversation_id": conversation.id,
                        "message_id": turn.message.id,
                        "operator_id": conversation.assigned_operator_id,
                    },
                )
            )
        if intent is Intent.PROOF:
            outcome.handled_ids.extend(recognised.handled_ids)
            outcome.after_commit.extend(recognised.after_commit)
        elif recognised.with_operators:
            if (
                conversation.status is ConversationStatus.QUEUED
                and not await self._over_answer_cap(session, conversation, now)
                and await acknowledge_queued(session, conversation, now)
            ):  # once per wait, not once per message, and a bot letter under the cap too
                await outcome.reply(session, conversation, say("still_queued", language), now)
        elif intent is Intent.PERSON:
            await hand_off(session, self._levels, conversation, "asked", now, outcome)
        elif await self._over_answer_cap(session, conversation, now):  # before any bot text
            await hand_off(
                session, self._levels, conversation, "answer_cap", now, outcome, tell_client=False
            )
        elif intent in _REPLIES:
            await outcome.reply(session, conversation, say(_REPLIES[intent], language), now)
        elif intent is Intent.FILE:
            await outcome.reply(
                session,
                conversation,
                say("file_received", language),
                now,
                buttons=[handoff_button(language)],
            )
        elif intent is Intent.CHOICE:
            assert recognised.article_id is not None
            await self._consult.answer(session, turn, recognised.article_id, None, now)
        else:
            await self._consult(session, turn, now, decided)

    async def _over_answer_cap(
        self, session: AsyncSession, conversation: Conversation, now: dt.datetime
    ) -> bool:
        """Loop safety: a channel may cap the bot's answers to one identity per hour. Every
        bot message counts and none is sent past the cap (the acknowledgement of a queued
        wait included: an auto-responder would answer it); operators still see the client.
        The count takes the written messages from the database and the unit of work's
        unwritten ones from the session, so that a polled batch is not written message by
        message for it."""
        cap = self._answer_caps.get(conversation.last_channel)
        if cap is None:
            return False
        identity_id, since = conversation.last_identity_id, now - dt.timedelta(hours=1)
        with session.no_autoflush:
            written = await session.scalar(
                select(func.count(Message.id)).where(
                    Message.identity_id == identity_id,
                    Message.author == Author.BOT,
                    Message.created_at >= since,
                )
            )
        unwritten = sum(
            1
            for row in unwritten_rows(session, MESSAGES)
            if row.values["identity_id"] == identity_id
            and row.values["author"] is Author.BOT
            and row.values["created_at"] >= since
        )
        return (written or 0) + unwritten >= cap


async def apply_rating(session: AsyncSession, turn: Turn, rating: Rating, now: dt.datetime) -> None:
    """The client's rating, recorded; the message joins the rated conversation and no
    other policy applies (`thank_for_rating` answers it once the message is stored)."""
    conversation = rating.conversation
    conversation.rating = rating.score
    record(
        session,
        conversation,
        EventKind.RATED,
        now,
        rating=rating.score,
        operator_id=conversation.assigned_operator_id,
    )
    turn.conversation, turn.rated = conversation, True


async def thank_for_rating(session: AsyncSession, turn: Turn, now: dt.datetime) -> None:
    """Thanks after the rating's own message, so the thread reads in order."""
    assert turn.conversation is not None, "a rated turn has its conversation"
    turn.outcome.replies.append(
        await add_reply(
            session,
            turn.conversation,
            text=say("rated", turn.sender.language),
            author=Author.BOT,
            at=now,
        )
    )
