"""The knowledge base's part of the decision: answer from an article, offer close
choices, or record the miss and hand the conversation off. Neither an answer nor choices
are given twice in a row: asked again, the bot says its answer stands and offers a person;
its choices passed over, the operators get the question."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.knowledge import KnowledgeBase
from bot.pipeline.bot_words import offered_choices
from bot.pipeline.queueing import hand_off
from bot.pipeline.turn import Turn
from bot.replies import article_answer
from core.contracts import Action, Button, ChannelKind, InboundMessage
from core.events import record
from core.models import Conversation, Direction, EventKind, KbMiss, Message
from core.texts import say
from kb.articles import Article
from kb.index import Decision, Hit, Match
from kb.text import words
from kb.words import every
from routing.service_levels import ServiceLevels

__all__ = ["KB_QUERY_LIMIT", "Consult", "handoff_button", "solved_offer"]

KB_QUERY_LIMIT = 2000
"""What of a message the knowledge base reads (and a miss stores)."""
CHOICES = 3
_CONTINUING = every("continuing")
_ANAPHORA = every("anaphora")


def handoff_button(language: str) -> Button:
    return Button(say("button_handoff", language), Action.HANDOFF)


class Consult:
    def __init__(
        self, knowledge: KnowledgeBase, levels: ServiceLevels, other_language: str = "note"
    ) -> None:
        """`other_language`: "note" sends an answer found only in the other language's
        article with a short note saying so; "handoff" hands such a client off."""
        self._knowledge = knowledge
        self._levels = levels
        self._other_language = other_language

    async def decide_many(self, run: Sequence[InboundMessage]) -> dict[str, Match]:
        """The decisions for a run's texts in one call, on a worker thread: the sentence
        encoder is most of a run's CPU and releases the GIL in its matrix products, so the
        event loop goes on sending replies and reading sockets meanwhile."""
        texts = list({m.text[:KB_QUERY_LIMIT] for m in run if m.text.strip()})
        if not texts:
            return {}
        index = self._knowledge.index
        return dict(zip(texts, await asyncio.to_thread(index.decide_many, texts), strict=True))

    async def __call__(
        self, session: AsyncSession, turn: Turn, now: dt.datetime, decided: Mapping[str, Match]
    ) -> None:
        conversation = turn.placed
        question = turn.inbound.text[:KB_QUERY_LIMIT]
        match = decided.get(question) or self._knowledge.index.decide(question)
        language = match.language or turn.sender.language  # «kak zablokirovat kartu»: ru
        if match.language:  # the client writes it in Latin letters: so are their next words
            turn.sender.client.language = match.language
        if self._answers(match, language):
            best = match.hits[0]
            if _just_answered(turn, best):
                await turn.outcome.reply(
                    session,
                    conversation,
                    say("same_answer", language),
                    now,
                    buttons=[handoff_button(language)],
                    kb_article_id=best.article.id,  # asked a third time: said so again
                )
            else:
                await self.answer(
                    session,
                    turn,
                    best.article.id,
                    best.score,
                    now,
                    note=_note(best, language),
                    language=language,
                )
        elif match.decision is Decision.CLARIFY and not _offered_already(turn, match):
            choices = [
                Button(hit.article.title or hit.article.id, Action.CHOOSE, hit.article.id)
                for hit in match.hits[:CHOICES]
            ]
            text = say("clarify", language)
            if conversation.last_channel is ChannelKind.EMAIL:
                listed = "\n".join(f"{n}. {b.label}" for n, b in enumerate(choices, 1))
                text = f"{text}\n\n{listed}\n\n{say('clarify_email', language)}"
            record(
                session,
                conversation,
                EventKind.CLARIFIED,
                now,
                article_ids=[b.payload for b in choices],
            )
            await turn.outcome.reply(
                session, conversation, text, now, buttons=[*choices, handoff_button(language)]
            )
        else:
            best_hit = match.hits[0] if match.hits else None
            session.add(
                KbMiss(
                    conversation_id=conversation.id,
                    question=question,
                    language=language,
                    at=now,
                    best_article_id=best_hit.article.id if best_hit else None,
                    best_score=best_hit.score if best_hit else None,
                )
            )
            # What this question's evidence supports, else what the conversation was about
            # (an answer given before), else the desk's default.
            conversation.category = (
                match.category or conversation.category or self._levels.default_category
            )
            await hand_off(session, self._levels, conversation, "kb_miss", now, turn.outcome)

    async def answer(
        self,
        session: AsyncSession,
        turn: Turn,
        article_id: str,
        score: float | None,
        now: dt.datetime,
        *,
        note: str | None = None,
        language: str | None = None,
    ) -> None:
        """The article's answer, after `note` when there is one (an answer in another
        language than the client's), with a button in `language` (the client's by default);
        a stale button for an article removed since hands off."""
        conversation = turn.placed
        article = self._knowledge.index.article(article_id)
        if article is None:
            await hand_off(session, self._levels, conversation, "kb_miss", now, turn.outcome)
            return
        conversation.category = article.category or conversation.category
        buttons = [handoff_button(language or turn.sender.language)]
        await self._reply(session, turn, article, score, now, before=note, buttons=buttons)

    async def answer_in_queue(
        self, session: AsyncSession, turn: Turn, now: dt.datetime, decided: Mapping[str, Match]
    ) -> bool:
        """A question the knowledge base answers outright, asked while the client waits in
        the queue, is answered now rather than after hours of silence, with a button that
        takes the question off the queue (in a letter, a line saying it stays). The
        conversation keeps its place, deadline and category. False: nothing was said.

        A follow-up that leans on what the client asked before («хочу кредитную карту»,
        then «а ставка какая?»: not the deposits' rates) is answered only when, read after
        the client's previous message, it still gets the same answer outright: in the queue
        an operator answers anyway, and a wrong answer costs more than none."""
        question = turn.inbound.text[:KB_QUERY_LIMIT]
        if not question.strip():
            return False
        index = self._knowledge.index
        match = decided.get(question) or index.decide(question)
        language = match.language or turn.sender.language
        if not self._answers(match, language):
            return False
        best = match.hits[0]
        if _just_answered(turn, best):  # said already: the operators will see it
            return False
        before = await _asked_before(session, turn) if _leans_on_before(question) else None
        if before is not None:
            room = max(0, KB_QUERY_LIMIT - len(question) - 1)
            read_after = await asyncio.to_thread(index.decide, f"{before[-room:]}\n{question}")
            if (
                read_after.decision is not Decision.ANSWER
                or read_after.hits[0].article.id != best.article.id
            ):
                return False
        after, buttons = solved_offer(turn.placed, "answered_in_queue", language)
        await self._reply(
            session,
            turn,
            best.article,
            best.score,
            now,
            before=_note(best, language),
            after=after,
            buttons=buttons,
        )
        return True

    def _answers(self, match: Match, language: str) -> bool:
        """Whether the bot answers outright: a confident match, in the client's language or,
        unless the desk hands such questions off, in the other one."""
        return match.decision is Decision.ANSWER and not (
            match.hits[0].article.language != language and self._other_language == "handoff"
        )

    async def _reply(
        self,
        session: AsyncSession,
        turn: Turn,
        article: Article,
        score: float | None,
        now: dt.datetime,
        *,
        before: str | None,
        buttons: Sequence[Button],
        after: str | None = None,
    ) -> None:
        """The article's answer as a bot reply, between `before` and `after` when given,
        recorded as answered."""
        conversation = turn.placed
        record(
            session, conversation, EventKind.BOT_ANSWERED, now, article_id=article.id, score=score
        )
        answer = article_answer(article, conversation)
        text = "\n\n".join(part for part in (before, answer, after) if part)
        await turn.outcome.reply(
            session,
            conversation,
            text,
            now,
            buttons=buttons,
            kb_article_id=article.id,
            kb_score=score,
        )


def _offered_already(turn: Turn, match: Match) -> bool:
    """The bot's last words offered these choices already, and the client wrote instead of
    picking one: none fits, and the question is the operators' (a KB gap)."""
    offered = set(offered_choices(turn.bot_said))
    return bool(offered) and {hit.article.id for hit in match.hits[:CHOICES]} <= offered


def _just_answered(turn: Turn, hit: Hit) -> bool:
    """The bot's last words in the conversation are this article's answer (or say it was
    given): the client asks again, so it did not help; saying it twice would not either."""
    return turn.bot_said is not None and turn.bot_said.kb_article_id == hit.article.id


def _leans_on_before(text: str) -> bool:
    """The message carries on from the one before («а если…», "and the fee?") or stands a
    pronoun for its topic («как её заблокировать», "how do I block it")."""
    said = words(text)
    return bool(said) and (said[0] in _CONTINUING or not _ANAPHORA.isdisjoint(said))


async def _asked_before(session: AsyncSession, turn: Turn) -> str | None:
    """The client's previous words in the conversation, if any."""
    assert turn.message is not None, "stored before the policy"
    await session.flush()  # the message's id, to look before it
    return await session.scalar(
        select(Message.text)
        .where(
            Message.conversation_id == turn.placed.id,
            Message.direction == Direction.IN,
            Message.id < turn.message.id,
            Message.text != "",
        )
        .order_by(Message.id.desc())
        .limit(1)
    )


def solved_offer(conversation: Conversation, key: str, language: str) -> tuple[str, list[Button]]:
    """The text `key` inviting a queued client to take the question off the queue, with its
    «Вопрос решён» button; a letter has no buttons, so its text (`key`_email) asks for
    those words in a reply."""
    if conversation.last_channel is ChannelKind.EMAIL:
        return say(f"{key}_email", language), []
    solved = Button(say("button_resolved", language), Action.RESOLVED, str(conversation.id))
    return say(key, language), [solved]


def _note(hit: Hit, language: str) -> str | None:
    """What goes before an answer from an article in another language than the client's."""
    return say("kb_other_language", language) if hit.article.language != language else None
