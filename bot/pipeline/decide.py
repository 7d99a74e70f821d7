"""Step 5, decide: the dialogue policy, from what `recognise` made of a message.

- a conversation an operator holds, or one waiting in the queue: the operators are told
  (a client in the queue whose question the knowledge base answers outright gets the
  answer and a "question solved" button that takes it off the queue, as does writing
  «помогло»; thanks for that answer, or «уже не надо», get the button; other thanks get no
  reply; otherwise hears once that it is still queued, and asking how long the wait is, or for a person, its place
  and the deadline; one asking for a person that an operator holds hears once who has it);
- greetings, thanks, stickers, files and empty messages get their own replies (thanks
  that joined a closed conversation too, which stays closed), and an opener naming no
  topic yet («у меня вопрос») a request to say what it is about;
- a request for a person, or a channel's hourly cap on bot answers, hands off;
- anything else goes to the knowledge base (`consult`);
- a card number the client typed, masked on arrival, is first warned about.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from bot.pipeline.answer_caps import RunAnswers
from bot.pipeline.consult import Consult, handoff_button, solved_offer
from bot.pipeline.queueing import hand_off
from bot.pipeline.recognise import Intent, Rating, Recognised
from bot.pipeline.turn import Turn
from core.contracts import Action
from core.events import record
from core.lifecycle import move
from core.messages import add_reply
from core.models import Author, ConversationStatus, EventKind, Operator
from core.texts import say
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
_WITH_HANDOFF = {Intent.FILE: "file_received", Intent.VAGUE: "describe"}
"""Intents answered with a fixed text and the hand-off button."""
_OFFERS = {Intent.THANKS: "thanks_in_queue", Intent.NOT_NEEDED: "not_needed_in_queue"}
"""A queued client's intents answered with the button that takes the question off the queue."""


class Policy:
    def __init__(self, consult: Consult, levels: ServiceLevels) -> None:
        self._consult = consult
        self._levels = levels

    async def __call__(
        self,
        session: AsyncSession,
        turn: Turn,
        recognised: Recognised,
        now: dt.datetime,
        decided: Mapping[str, Match],
        answers: RunAnswers,
    ) -> None:
        """`answers` counts the bot's messages for the channels' hourly caps: none is
        sent past a cap, and a question past it goes to the operators."""
        conversation, outcome, language = turn.placed, turn.outcome, turn.sender.language
        intent = recognised.intent
        if intent is Intent.AUTOMATED:
            return
        assert turn.message is not None, "stored before the policy"
        if turn.inbound.masked and intent is not Intent.BOUNCE:  # before whatever comes next
            await outcome.reply(session, conversation, say("card_masked", language), now)
        if intent is Intent.BOUNCE:
            await session.flush()  # the message's id, for the event
            record(session, conversation, EventKind.BOUNCED, now, message_id=turn.message.id)
            outcome.notices.append(("bounced", {"conversation_id": conversation.id}))
            return
        if recognised.with_operators:  # whatever happens next, the operators see it
            outcome.notices.append(
                (
                    "client_message",
                    {
                        "conversation_id": conversation.id,
                        "message_id": turn.message,  # its id once written
                        "operator_id": conversation.assigned_operator_id,
                    },
                )
            )
        if intent is Intent.PROOF:
            outcome.handled_ids.extend(recognised.handled_ids)
            outcome.after_commit.extend(recognised.after_commit)
        elif intent is Intent.RESOLVED:
            await _resolved(session, turn, now)
        elif recognised.with_operators:
            if answers.over_cap(conversation.last_channel, conversation.last_identity_id):
                return
            if intent is Intent.WAITING and turn.waits.tell_place(session, conversation, now):
                outcome.place_asked_id = conversation.id  # its place is the queue's to say
                return
            if intent is Intent.COURTESY:  # «спасибо» after the hand-off: nothing to say back
                return
            if intent in _OFFERS:  # thanks for an answer given in the queue, «уже не надо»
                offer, buttons = solved_offer(conversation, _OFFERS[intent], language)
                await outcome.reply(session, conversation, offer, now, buttons=buttons)
                return
            if (
                intent is Intent.FOR_OPERATORS
                and conversation.status is ConversationStatus.QUEUED
                and await self._consult.answer_in_queue(session, turn, now, decided)
            ):
                return
            text = await _acknowledgement(session, turn, intent, now)
            if text is not None:
                await outcome.reply(session, conversation, text, now)
        elif conversation.status is ConversationStatus.CLOSED:  # thanks after the close
            if not answers.over_cap(conversation.last_channel, conversation.last_identity_id):
                await outcome.reply(session, conversation, say("thanks", language), now)
        elif intent is Intent.PERSON:
            await hand_off(session, self._levels, conversation, "asked", now, outcome)
        elif answers.over_cap(conversation.last_channel, conversation.last_identity_id):  # first
            await hand_off(
                session, self._levels, conversation, "answer_cap", now, outcome, tell_client=False
            )
        elif intent in _REPLIES:
            await outcome.reply(session, conversation, say(_REPLIES[intent], language), now)
        elif intent in _WITH_HANDOFF:
            await outcome.reply(
                session,
                conversation,
                say(_WITH_HANDOFF[intent], language),
                now,
                buttons=[handoff_button(language)],
            )
        elif intent is Intent.CHOICE:
            assert recognised.article_id is not None
            await self._consult.answer(session, turn, recognised.article_id, None, now)
        else:
            await self._consult(session, turn, now, decided)


async def _resolved(session: AsyncSession, turn: Turn, now: dt.datetime) -> None:
    """A «Вопрос решён» press under an answer given in the queue, or «помогло» written in
    the queue: a question still waiting is taken off the queue and closed by the client
    (the desk sees it go); one an operator took meanwhile stays with them (they see the
    press, the client hears once who has it); a stale press is thanked."""
    conversation, outcome, language = turn.placed, turn.outcome, turn.sender.language
    if conversation.status is ConversationStatus.ASSIGNED:  # as if asking for a person
        text = await _acknowledgement(session, turn, Intent.PERSON, now)
        if text is not None:
            await outcome.reply(session, conversation, text, now)
        return
    pressed, named = turn.inbound.action is Action.RESOLVED, turn.inbound.payload
    if conversation.status is not ConversationStatus.QUEUED or (
        pressed and named != str(conversation.id)
    ):
        await outcome.reply(session, conversation, say("thanks", language), now)
        return
    move(session, conversation, ConversationStatus.CLOSED, now, event=EventKind.CLOSED, by="client")
    outcome.withdrawn_id = conversation.id
    outcome.notices.append(("closed", {"conversation_id": conversation.id, "operator_id": None}))
    await outcome.reply(session, conversation, say("withdrawn", language), now)


async def _acknowledgement(
    session: AsyncSession, turn: Turn, intent: Intent, now: dt.datetime
) -> str | None:
    """What a client writing to the operators hears: once per wait in the queue, and once
    per holder when asking for a person that an operator already is; otherwise nothing."""
    conversation, waits, language = turn.placed, turn.waits, turn.sender.language
    if conversation.status is ConversationStatus.QUEUED:
        if waits.acknowledge_queued(session, conversation, now):
            return say("still_queued", language)
    elif intent is Intent.PERSON and conversation.status is ConversationStatus.ASSIGNED:
        holder = conversation.assigned_operator_id
        operator = await session.get(Operator, holder) if holder is not None else None
        if operator is not None and waits.acknowledge_held(session, conversation, now):
            return say("operator_has_it", language, operator=operator.name)
    return None


async def apply_rating(session: AsyncSession, turn: Turn, rating: Rating, now: dt.datetime) -> None:
    """The client's rating, recorded and told to the desk (a console showing the closed
    conversation shows it at once); the message joins the rated conversation and no other
    policy applies (`thank_for_rating` answers it once the message is stored)."""
    conversation = rating.conversation
    conversation.rating = rating.score
    rated = {"rating": rating.score, "operator_id": conversation.assigned_operator_id}
    record(session, conversation, EventKind.RATED, now, **rated)
    turn.outcome.notices.append(("rated", {"conversation_id": conversation.id, **rated}))
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
