"""Step 4, recognise: what a message is, before the policy acts on it — a delivery report,
a robot's letter, an identity proof (a link code, an email code, a shared phone: answered
by `identity.recognition`), a greeting, thanks, a request for a person, a "question
solved" press (or, from a client in the queue, its words «спасибо, помогло», or «уже не
надо»), a choice among offered articles, a file or sticker, or a question. Also a
1–5 answer to a rating request, which `thread` needs first: it picks the (closed)
conversation it rates."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.pipeline.bot_words import last_bot_message, offered_choices
from bot.pipeline.settling import (
    asks_about_wait,
    names_no_topic,
    not_needed,
    settles,
    thanks,
    typed_rating,
)
from bot.pipeline.turn import Turn
from bot.pipeline.waits import WITH_OPERATORS
from core.contracts import Action, AttachmentKind, ChannelKind, InboundMessage
from core.models import Client, Conversation, ConversationStatus, Message
from core.numbers import row_id, whole_number
from core.texts import TEXTS
from identity.recognition import Recognition
from identity.turn import AfterCommit as AfterCommitWork
from kb.text import words
from kb.translit import readings
from kb.words import every

__all__ = [
    "Intent",
    "Rating",
    "Recognise",
    "Recognised",
    "asks_for_person",
    "find_rating",
]

RATING_WINDOW = dt.timedelta(days=3)
"""How long after a conversation is resolved its client may still rate it."""
PERSON_REQUEST_WORDS = 6
"""A message asking for a person is short: a longer one naming 'operator' is a question."""

_GREETINGS = every("greetings")
_PERSON = every("person")


class Intent(enum.Enum):
    BOUNCE = "bounce"
    """A delivery report about one of our letters (on a conversation it could not match)."""
    AUTOMATED = "automated"
    """An auto-reply or another robot's letter: stored, never answered."""
    PROOF = "proof"
    """Handled by identity recognition, which answered it."""
    FOR_OPERATORS = "for_operators"
    """The conversation is with the operators: the message is theirs."""
    START = "start"
    """The bot's start button, with nothing but a greeting."""
    PERSON = "person"
    RESOLVED = "resolved"
    """The client pressed "question solved" under an answer given while they were queued,
    or wrote in the queue that it is («помогло», "solved")."""
    NOT_NEEDED = "not_needed"
    """A queued client wrote that they need no help any more («уже не надо»)."""
    WAITING = "waiting"
    """A queued client asked how long the wait is, or for a person again («сколько ждать?»,
    «оператор!»)."""
    CHOICE = "choice"
    STICKER = "sticker"
    FILE = "file"
    EMPTY = "empty"
    VAGUE = "vague"
    """A chat message naming no topic yet («Здравствуйте, у меня вопрос», «помогите»): the
    bot asks what it is about, once; a second such message goes on as a question."""
    GREETING = "greeting"
    THANKS = "thanks"
    """Thanks or an acknowledgement; to the operators' conversation, only after the bot
    answered during the wait (it is about that answer)."""
    COURTESY = "courtesy"
    """Thanks or an acknowledgement in the queue before any answer there («спасибо», «ок»
    after the hand-off): the operators see it; nothing is said back."""
    QUESTION = "question"


@dataclass(frozen=True, slots=True)
class Recognised:
    intent: Intent
    with_operators: bool
    """The conversation was queued or assigned when the message came."""
    article_id: str | None = None
    """CHOICE: the article picked."""
    handled_ids: list[int] = field(default_factory=list)
    """PROOF: the replies identity recognition queued."""
    after_commit: list[AfterCommitWork] = field(default_factory=list)
    """PROOF: recognition's work for after the commit (a merge's queue update, notice)."""


@dataclass(frozen=True, slots=True)
class Rating:
    conversation: Conversation
    score: int


class Recognise:
    def __init__(self, recognition: Recognition) -> None:
        self._recognition = recognition

    async def __call__(self, session: AsyncSession, turn: Turn, now: dt.datetime) -> Recognised:
        inbound, conversation = turn.inbound, turn.placed
        with_operators = conversation.status in WITH_OPERATORS
        if inbound.bounce:
            return Recognised(Intent.BOUNCE, with_operators)
        if inbound.automated:
            return Recognised(Intent.AUTOMATED, with_operators)
        handled = await self._recognition.intercept(
            session,
            inbound,
            conversation,
            turn.sender.client,
            turn.outcome.sender,
            turn.sender.language,
            now,
        )
        if handled is not None:
            return Recognised(
                Intent.PROOF,
                with_operators,
                handled_ids=handled.reply_ids,
                after_commit=handled.after_commit,
            )
        if inbound.action is Action.RESOLVED:
            return Recognised(Intent.RESOLVED, with_operators)
        if with_operators:
            return Recognised(_to_operators(turn), with_operators)
        chosen = _choice(inbound, turn.bot_said)
        intent = _intent(inbound, chosen)
        if (
            intent is Intent.QUESTION
            and inbound.channel is not ChannelKind.EMAIL  # a letter's subject may say it
            and names_no_topic(inbound.text)
            and not _asked_to_describe(turn.bot_said)
        ):
            intent = Intent.VAGUE
        return Recognised(intent, with_operators, article_id=chosen)


def _intent(inbound: InboundMessage, chosen: str | None) -> Intent:
    heard = _heard(inbound.text)
    if inbound.action is Action.START and any(not said - _GREETINGS for said in heard):
        return Intent.START
    if asks_for_person(inbound):
        return Intent.PERSON
    if chosen is not None:
        return Intent.CHOICE
    if not inbound.text.strip():
        kinds = {a.kind for a in inbound.attachments}
        if kinds and kinds <= {AttachmentKind.STICKER}:
            return Intent.STICKER
        return Intent.FILE if kinds else Intent.EMPTY
    if any(said and said <= _GREETINGS for said in heard):
        return Intent.GREETING
    if thanks(inbound.text):
        return Intent.THANKS
    return Intent.QUESTION


def _to_operators(turn: Turn) -> Intent:
    """A message to a conversation the operators have: a request for a person, or theirs;
    but a queued client may ask how long the wait is, say in words that the question is
    settled or not needed, and thanks right after the bot answered in the queue are about
    that answer (before it, they are courtesy)."""
    inbound, conversation = turn.inbound, turn.placed
    person = asks_for_person(inbound)
    if conversation.status is not ConversationStatus.QUEUED:
        return Intent.PERSON if person else Intent.FOR_OPERATORS
    if person or asks_about_wait(inbound.text):
        return Intent.WAITING
    if settles(inbound.text):
        return Intent.RESOLVED
    if not_needed(inbound.text):
        return Intent.NOT_NEEDED
    if thanks(inbound.text):
        return Intent.THANKS if turn.waits.answered_while_queued() else Intent.COURTESY
    return Intent.FOR_OPERATORS


def asks_for_person(inbound: InboundMessage) -> bool:
    """The hand-off button, or a short message naming a person ('оператора!', 'a human')."""
    if inbound.action is Action.HANDOFF:
        return True
    return any(
        said & _PERSON and len(said) <= PERSON_REQUEST_WORDS for said in _heard(inbound.text)
    )


def _heard(text: str) -> list[set[str]]:
    """The words of each reading of the text (Latin letters may be Russian: `readings`)."""
    return [set(words(reading)) for reading in readings(text)]


def _asked_to_describe(bot_said: Message | None) -> bool:
    """The bot's last words asked the client to describe their question."""
    return bot_said is not None and bot_said.text in TEXTS["describe"].values()


def _choice(inbound: InboundMessage, bot_said: Message | None) -> str | None:
    """The article a client picked: a CHOOSE button, or the number of an offered choice."""
    if inbound.action is Action.CHOOSE and inbound.payload:
        return inbound.payload
    number = whole_number(inbound.text.strip().rstrip(".)"))
    if number is None:
        return None
    offered = offered_choices(bot_said)
    return offered[number - 1] if 1 <= number <= len(offered) else None


async def find_rating(
    session: AsyncSession,
    inbound: InboundMessage,
    client: Client,
    now: dt.datetime,
    *,
    in_conversation: bool = False,
) -> Rating | None:
    """A 1–5 answer to a rating request — a RATE button, or the score typed after the bot
    asked («5», «5, спасибо», «4 из 5», ⭐⭐⭐⭐⭐) — for the client's resolved, unrated
    conversation within the window. A score is typed only by a client with no open
    conversation (`in_conversation` False): in one, «1» picks an offered choice, and
    looking for a closed conversation would cost a query per such message."""
    conversation: Conversation | None
    if inbound.action is Action.RATE and inbound.payload and ":" in inbound.payload:
        conversation_text, score_text = inbound.payload.split(":", 1)
        rated_id = row_id(conversation_text)
        conversation = await session.get(Conversation, rated_id) if rated_id else None
    elif not in_conversation and (typed := typed_rating(inbound.text)) is not None:
        score_text = str(typed)
        conversation = await session.scalar(
            select(Conversation)
            .where(Conversation.client_id == client.id)
            .order_by(Conversation.id.desc())
            .limit(1)
        )
        if conversation is None or conversation.status is not ConversationStatus.CLOSED:
            return None
        asked = await last_bot_message(session, conversation.id)
        if not any(b["action"] == Action.RATE.value for b in (asked.buttons if asked else ())):
            return None
    else:
        return None
    score = whole_number(score_text)
    if (
        conversation is None
        or conversation.client_id != client.id
        or conversation.rating
        or score is None
        or not 1 <= score <= 5
        or conversation.resolved_at is None
        or now - conversation.resolved_at > RATING_WINDOW
    ):
        return None
    return Rating(conversation, score)
