"""The conversation engine: what happens to inbound messages.

`Engine` is the sink every channel feeds, a message or a polled batch at a time. In one
unit of work for the batch it finds or creates the senders' identities and clients, finds
each message's conversation (by reply headers, by a ticket number, or the client's open
one), stores the message — a redelivered platform id is ignored — and applies the
dialogue policy:

- a conversation an operator holds, or one waiting in the queue: the operator is told;
- otherwise the knowledge base answers, offers close choices, or the conversation is
  handed off to the queue with its service level, and the client is told when to expect
  a person;
- greetings, thanks, stickers, files and empty messages get their own replies.

Replies are stored before they are sent (`Outbox`), and the queue entry is made after the
commit, so a crash at any point loses nothing: pending replies are resent and the queue is
rebuilt from the database at start-up. The batch's look-ups are made once for all its
messages and its rows are flushed together, so a busy bot costs a few queries per batch,
not a dozen per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from core.contracts import Action, AttachmentKind, Button, ChannelKind, InboundMessage
from core.db import AppendedRow, SessionFactory, WriteLock, insert_objects
from core.events import DeskFeed, record
from bot.handover import Handover
from bot.knowledge import KnowledgeBase
from core.models import (Author, Client, Conversation, ConversationStatus, Delivery, Direction,
                        EventKind, Identity, KbMiss, Message, Operator)
from bot.replies import article_answer
from core.messages import add_message, add_reply
from core.texts import language_of, locale_language, say
from bot.outbox import Outbox
from bot.promises import promised_moment
from bot.queued import acknowledge_queued
from kb.index import Decision, Match
from routing.queue import OperatorQueue, QueueEntry
from identity.recognition import Recognition
from routing.service_levels import ServiceLevels

__all__ = ["Engine"]

log = logging.getLogger(__name__)

KB_QUERY_LIMIT = 2000
DB_ATTEMPTS = 6
RATING_WINDOW = dt.timedelta(days=3)
_WORDS = re.compile(r"[\w']+", re.UNICODE)
_HUMAN = {"оператор", "оператора", "оператору", "человек", "человека", "живой", "менеджер",
          "сотрудник", "operator", "human", "person", "agent", "someone"}
_GREETINGS = {"привет", "здравствуйте", "здравствуй", "добрый", "день", "вечер", "утро", "доброе",
              "hi", "hello", "hey", "good", "morning", "evening", "afternoon", "алло", "ку", "хай",
              "start", "начать", "старт"}
_THANKS = {"спасибо", "благодарю", "спс", "thanks", "thank", "you", "thx", "большое", "огромное",
           "ок", "ok", "okay", "понятно", "ясно", "хорошо"}


@dataclass
class _Plan:
    """What the policy decided for one message; carried out after the commit."""

    sender: Identity
    """Who wrote: the conversation's last identity, where replies go."""
    replies: list[AppendedRow] = field(default_factory=list)
    """Queued by the engine in this unit of work: their ids exist once it is flushed."""
    handled_ids: list[int] = field(default_factory=list)
    """Queued (and flushed) by recognition."""
    language: str = "ru"
    queued_id: int | None = None
    tell_client: bool = True
    notices: list[tuple[str, dict[str, object]]] = field(default_factory=list)

    @property
    def reply_ids(self) -> list[int]:
        return [*self.handled_ids, *(m.id for m in self.replies)]


@dataclass
class _Known:
    """What a unit of work looked up once for all its messages, so that a polled batch
    costs a handful of queries rather than a dozen per message."""

    stored: set[tuple[ChannelKind, str]]
    """Platform ids already stored (a redelivery): skipped."""
    senders: dict[tuple[ChannelKind, str], tuple[Identity, Client]]
    open_conversations: dict[int, Conversation]
    """Client id → its latest open conversation; one made in this unit of work joins it."""
    matches: dict[str, Match]
    """The knowledge base's decisions for the batch's texts, taken in one call."""
    opening: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Client id → the columns of the new conversation the run opens for it (in one INSERT,
    once every message is placed); the client's later messages in the run join it."""


@dataclass
class _Placed:
    """A message with its sender and conversation, before it is stored."""

    inbound: InboundMessage
    identity: Identity
    client: Client
    conversation: Conversation | None
    """None until the conversations the run opens are made (`_open_conversations`)."""
    plan: _Plan
    rated: bool = False
    """A 1–5 rating: answered while placed, no policy."""
    created: bool = False
    """The conversation is new (its CREATED event is recorded once it has an id)."""


class Engine:
    def __init__(self, *, sessions: SessionFactory, knowledge: KnowledgeBase, queue: OperatorQueue,
                 levels: ServiceLevels, outbox: Outbox, feed: DeskFeed, recognition: Recognition,
                 handover: Handover, clock: Callable[[], dt.datetime], language: str,
                 answer_caps: Mapping[ChannelKind, int] | None = None,
                 writes: WriteLock | None = None) -> None:
        self._sessions = sessions
        self._writes = writes or contextlib.nullcontext()
        self._knowledge = knowledge
        self._queue = queue
        self._levels = levels
        self._outbox = outbox
        self._feed = feed
        self._recognition = recognition
        self._handover = handover
        self._clock = clock
        self._language = language
        self._answer_caps = dict(answer_caps or {})

    async def __call__(self, batch: Sequence[InboundMessage]) -> None:
        await self.handle_many(batch)

    async def handle(self, inbound: InboundMessage) -> None:
        await self.handle_many([inbound])

    async def handle_many(self, batch: Sequence[InboundMessage]) -> None:
        """Store and act on messages, in order, a run of them in one unit of work. Edits and
        delivery reports change earlier rows and go one at a time. Returns once every
        message is stored; if the database stays away the error propagates, so the channel
        does not confirm the batch and the platform delivers it again later."""
        run: list[InboundMessage] = []
        for inbound in batch:
            if inbound.edited or inbound.bounce:
                await self._store(run)
                await self._store([inbound])
                run = []
            else:
                run.append(inbound)
        await self._store(run)

    async def _store(self, run: Sequence[InboundMessage]) -> None:
        """One unit of work for `run`. A database that is locked or restarting is retried
        with backoff. A constraint that fails (another process stored one of the messages,
        or made the sender's identity, meanwhile) splits the run into single messages,
        and a single one is tried afresh: its look-ups then see what the other made."""
        if not run:
            return
        for attempt in range(DB_ATTEMPTS):
            try:
                async with self._writes:
                    await self._store_once(run)
                return
            except IntegrityError:
                if len(run) > 1:
                    for inbound in run:
                        await self._store([inbound])
                    return
                if attempt == DB_ATTEMPTS - 1:
                    raise
            except (OperationalError, InterfaceError) as exc:
                if attempt == DB_ATTEMPTS - 1:
                    log.error("database unavailable, %d message(s) from %s/%s left unconfirmed: %s",
                              len(run), run[0].channel.value, run[0].platform_message_id, exc)
                    raise
                delay = min(0.2 * 2 ** attempt, 5.0)
                log.warning("database busy or restarting (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)

    async def _store_once(self, run: Sequence[InboundMessage]) -> None:
        now = self._clock()
        async with self._sessions() as session:
            if len(run) == 1 and run[0].edited:
                await self._apply_edit(session, run[0], now)
                return
            if len(run) == 1 and run[0].bounce and await self._bounce(session, run[0], now):
                return
            known = await self._look_up(session, run, now)
            # First every message's conversation, so that the new ones are made in one
            # INSERT; then the messages and the policy, flushed once with the commit.
            placed = []
            for inbound in run:
                key = (inbound.channel, inbound.platform_message_id)
                if key in known.stored:  # stored already: processed once
                    continue
                known.stored.add(key)
                placed.append(await self._place(session, inbound, known, now))
            await self._open_conversations(session, placed, known)
            plans = [await self._act(session, known, now, where) for where in placed]
            await session.commit()
        await self._after_commit(plans, now)

    async def _look_up(self, session: AsyncSession, run: Sequence[InboundMessage],
                       now: dt.datetime) -> _Known:
        """The run's stored platform ids, senders (new ones made) and their open
        conversations, and the knowledge base's decisions for its texts."""
        stored: set[tuple[ChannelKind, str]] = set()
        for channel in {m.channel for m in run}:  # (channel, direction, id) is indexed
            stored.update((channel, platform_id) for platform_id in await session.scalars(
                select(Message.channel_message_id)
                .where(Message.channel == channel, Message.direction == Direction.IN,
                       Message.channel_message_id.in_(
                           {m.platform_message_id for m in run if m.channel is channel})))
                          if platform_id is not None)
        senders = await self._senders(session, run, now)
        clients = {client.id for _, client in senders.values()}
        open_conversations: dict[int, Conversation] = {}
        for conversation in await session.scalars(
                select(Conversation).where(Conversation.client_id.in_(clients),
                                           Conversation.status != ConversationStatus.CLOSED)
                .order_by(Conversation.id)):
            open_conversations[conversation.client_id] = conversation  # the latest wins
        texts = list({m.text[:KB_QUERY_LIMIT] for m in run if m.text.strip()}) if len(run) > 1 else []
        matches = dict(zip(texts, self._knowledge.index.decide_many(texts), strict=True))
        return _Known(stored, senders, open_conversations, matches)

    async def _senders(self, session: AsyncSession, run: Sequence[InboundMessage], now: dt.datetime
                       ) -> dict[tuple[ChannelKind, str], tuple[Identity, Client]]:
        """Each sender's identity and client in one query; on first contact both are made
        (all the run's new ones in two INSERTs), from the sender's first message."""
        wanted: dict[tuple[ChannelKind, str], InboundMessage] = {}
        for inbound in run:
            wanted.setdefault((inbound.channel, inbound.external_user_id), inbound)
        found: dict[tuple[ChannelKind, str], tuple[Identity, Client]] = {}
        for channel in {c for c, _ in wanted}:
            rows = await session.execute(
                select(Identity, Client).join(Client, Client.id == Identity.client_id)
                .where(Identity.channel == channel,
                       Identity.external_id.in_({e for c, e in wanted if c is channel})))
            found.update(((identity.channel, identity.external_id), (identity, client))
                         for identity, client in rows)
        new = [inbound for key, inbound in wanted.items() if key not in found]
        if new:
            clients = await insert_objects(session, Client, [
                {"display_name": m.display_name, "created_at": now,
                 "language": language_of(m.text, locale_language(m.locale) or self._language)}
                for m in new])
            identities = await insert_objects(session, Identity, [
                {"client_id": client.id, "channel": m.channel, "external_id": m.external_user_id,
                 "chat_id": m.chat_id, "display_name": m.display_name, "created_at": now,
                 "last_seen_at": now} for m, client in zip(new, clients, strict=True)])
            found.update(((m.channel, m.external_user_id), (identity, client))
                         for m, identity, client in zip(new, identities, clients, strict=True))
        return found

    async def _place(self, session: AsyncSession, inbound: InboundMessage, known: _Known,
                     now: dt.datetime) -> _Placed:
        """The sender, the language, and the conversation the message belongs to."""
        identity, client = known.senders[(inbound.channel, inbound.external_user_id)]
        _touch(identity, inbound, now)
        language = language_of(inbound.text, client.language or locale_language(inbound.locale)
                               or self._language)
        client.language = client.language or language
        plan = _Plan(sender=identity, language=language)
        rated = await self._rating(session, inbound, client, now, language, plan)
        if rated is not None:
            return _Placed(inbound, identity, client, rated, plan, rated=True)
        conversation, created = await self._conversation(session, inbound, identity, client,
                                                         known, now)
        return _Placed(inbound, identity, client, conversation, plan, created=created)

    async def _open_conversations(self, session: AsyncSession, placed: Sequence[_Placed],
                                  known: _Known) -> None:
        """Make the conversations the run opens (one INSERT) and give them to their messages."""
        if known.opening:
            opened = await insert_objects(session, Conversation, list(known.opening.values()))
            known.open_conversations.update(zip(known.opening, opened, strict=True))
        for where in placed:
            if where.conversation is None:
                where.conversation = known.open_conversations[where.client.id]

    async def _act(self, session: AsyncSession, known: _Known, now: dt.datetime,
                   placed: _Placed) -> _Plan:
        """Store the message and apply the dialogue policy (a rating is answered already)."""
        inbound, conversation, plan = placed.inbound, placed.conversation, placed.plan
        assert conversation is not None, "placed, and opened if new"
        if placed.created:
            record(session, conversation, EventKind.CREATED, now)
        message = add_message(
            session, conversation_id=conversation.id, identity_id=placed.identity.id,
            channel=inbound.channel, direction=Direction.IN, author=Author.CLIENT,
            text=inbound.text, original_text=inbound.original_text,
            attachments=[a.as_json() for a in inbound.attachments],
            action=inbound.action.value if inbound.action else None,
            channel_message_id=inbound.platform_message_id, automated=inbound.automated,
            created_at=now)
        if placed.rated:   # thanked after the rating is stored, so the thread reads in order
            await self._reply(session, conversation, say("rated", plan.language), now, plan)
        else:
            await self._policy(session, inbound, conversation, placed.client, message,
                               plan.language, now, plan, known)
        return plan

    async def close_idle(self, idle: dt.timedelta) -> int:
        """Close conversations the bot handled that went quiet: the bot settled them."""
        now = self._clock()
        async with self._sessions() as session:
            quiet = list(await session.scalars(select(Conversation).where(
                Conversation.status == ConversationStatus.BOT, Conversation.updated_at < now - idle)))
            for conversation in quiet:
                conversation.status = ConversationStatus.CLOSED
                conversation.resolved_at = now
                record(session, conversation, EventKind.CLOSED, now, by="timeout")
            await session.commit()
        return len(quiet)

    async def _bounce(self, session: AsyncSession, inbound: InboundMessage, now: dt.datetime) -> bool:
        """A delivery report about one of our letters: recorded on that letter's conversation
        (the report's sender is a mail robot, not the client), the letter marked failed,
        the operator told. False when the returned letter is not ours."""
        returned = await session.scalar(
            select(Message).where(Message.channel == inbound.channel,
                                  Message.direction == Direction.OUT,
                                  Message.channel_message_id.in_(inbound.reply_to))
            .order_by(Message.id.desc()).limit(1)) if inbound.reply_to else None
        conversation = await session.get(Conversation, returned.conversation_id) if returned else None
        if returned is None or conversation is None:
            return False
        add_message(session, conversation_id=conversation.id, channel=inbound.channel,
                    direction=Direction.IN, author=Author.SYSTEM, text=inbound.text,
                    original_text=inbound.original_text, automated=True,
                    channel_message_id=inbound.platform_message_id, created_at=now)
        returned.delivery = Delivery.FAILED
        returned.delivery_error = f"bounced: {inbound.text[:500]}"
        record(session, conversation, EventKind.BOUNCED, now, message_id=returned.id)
        try:
            await session.commit()
        except IntegrityError:  # this report was stored before: processed once
            await session.rollback()
            return True
        await self._feed.publish("undelivered", conversation_id=conversation.id,
                                 message_id=returned.id, operator_id=conversation.assigned_operator_id,
                                 error="bounced")
        return True

    # -- finding things -------------------------------------------------------------------

    async def _conversation(self, session: AsyncSession, inbound: InboundMessage, identity: Identity,
                            client: Client, known: _Known, now: dt.datetime
                            ) -> tuple[Conversation | None, bool]:
        """The message's conversation (by reply headers, by a ticket number, or the client's
        open one), reopened if closed, and whether it is new. A new one is None here: the
        run opens it once every message is placed (`known.opening`)."""
        conversation = (await self._by_reply_headers(session, inbound, client)
                        or await self._by_ticket_number(session, inbound, client)
                        or known.open_conversations.get(client.id))
        if conversation is None:
            created = client.id not in known.opening
            opening = known.opening.setdefault(client.id, {
                "client_id": client.id, "identity_id": identity.id, "last_channel": inbound.channel,
                "last_identity_id": identity.id, "subject": _subject(inbound.subject),
                "created_at": now, "updated_at": now})
            if not inbound.automated:
                opening.update(last_channel=inbound.channel, last_identity_id=identity.id)
            return None, created
        if conversation.status is ConversationStatus.CLOSED:
            conversation.status = ConversationStatus.BOT
            conversation.resolved_at = None
            record(session, conversation, EventKind.REOPENED, now)
        latest = known.open_conversations.get(client.id)
        if client.id not in known.opening and (latest is None or conversation.id > latest.id):
            known.open_conversations[client.id] = conversation  # the one later messages join
        if not inbound.automated:
            conversation.last_channel = inbound.channel
            conversation.last_identity_id = identity.id
        conversation.updated_at = now
        return conversation, False

    async def _by_reply_headers(self, session: AsyncSession, inbound: InboundMessage,
                                client: Client) -> Conversation | None:
        if not inbound.reply_to:
            return None
        return await session.scalar(
            select(Conversation).join(Message, Message.conversation_id == Conversation.id)
            .where(Message.channel == inbound.channel,
                   Message.channel_message_id.in_(inbound.reply_to),
                   Conversation.client_id == client.id)
            .order_by(Conversation.id.desc()).limit(1))

    async def _by_ticket_number(self, session: AsyncSession, inbound: InboundMessage,
                                client: Client) -> Conversation | None:
        if inbound.thread_hint is None:
            return None
        conversation = await session.get(Conversation, inbound.thread_hint)
        while conversation is not None and conversation.merged_into_id is not None:
            conversation = await session.get(Conversation, conversation.merged_into_id)
        return conversation if conversation and conversation.client_id == client.id else None

    async def _last_bot_buttons(self, session: AsyncSession, conversation_id: int) -> list[dict[str, str]]:
        last = await session.scalar(
            select(Message).where(Message.conversation_id == conversation_id,
                                  Message.direction == Direction.OUT)
            .order_by(Message.id.desc()).limit(1))
        return list(last.buttons) if last is not None and last.author is Author.BOT else []

    # -- edits and ratings ----------------------------------------------------------------

    async def _apply_edit(self, session: AsyncSession, inbound: InboundMessage, now: dt.datetime) -> None:
        message = await session.scalar(select(Message).where(
            Message.channel == inbound.channel, Message.direction == Direction.IN,
            Message.channel_message_id == inbound.platform_message_id))
        if message is None:  # the original never reached us: treat the edit as a new message
            await self._store_once([replace(inbound, edited=False)])
            return
        message.original_text = message.original_text or message.text
        message.text = inbound.text
        message.edited_at = now
        await session.commit()
        await self._feed.publish("client_message", conversation_id=message.conversation_id,
                                 message_id=message.id, edited=True)

    async def _rating(self, session: AsyncSession, inbound: InboundMessage, client: Client,
                      now: dt.datetime, language: str, plan: _Plan) -> Conversation | None:
        """A 1–5 answer to a rating request: a RATE button, or the digit typed as text."""
        if inbound.action is Action.RATE and inbound.payload and ":" in inbound.payload:
            conversation_text, score_text = inbound.payload.split(":", 1)
            conversation = await session.get(Conversation, int(conversation_text)) \
                if conversation_text.isdigit() else None
        elif inbound.text.strip() in {"1", "2", "3", "4", "5"}:
            score_text = inbound.text.strip()
            conversation = await session.scalar(
                select(Conversation).where(Conversation.client_id == client.id)
                .order_by(Conversation.id.desc()).limit(1))
            if conversation is None or conversation.status is not ConversationStatus.CLOSED:
                return None
            if not any(b["action"] == Action.RATE.value for b in
                       await self._last_bot_buttons(session, conversation.id)):
                return None
        else:
            return None
        if (conversation is None or conversation.client_id != client.id or conversation.rating
                or not score_text.isdigit() or not 1 <= int(score_text) <= 5
                or conversation.resolved_at is None or now - conversation.resolved_at > RATING_WINDOW):
            return None
        conversation.rating = int(score_text)
        record(session, conversation, EventKind.RATED, now, rating=conversation.rating,
               operator_id=conversation.assigned_operator_id)
        return conversation

    # -- the dialogue policy --------------------------------------------------------------

    async def _policy(self, session: AsyncSession, inbound: InboundMessage, conversation: Conversation,
                      client: Client, message: AppendedRow, language: str, now: dt.datetime,
                      plan: _Plan, known: _Known) -> None:
        with_operators = conversation.status in (ConversationStatus.ASSIGNED, ConversationStatus.QUEUED)
        if inbound.bounce or (with_operators and not inbound.automated):
            await session.flush()  # the message's id, for the event or the operators' notice
        if inbound.bounce:
            record(session, conversation, EventKind.BOUNCED, now, message_id=message.id)
            plan.notices.append(("bounced", {"conversation_id": conversation.id}))
            return
        if inbound.automated:
            return
        if with_operators:  # whatever happens next, the operators see what the client wrote
            plan.notices.append(("client_message", {
                "conversation_id": conversation.id, "message_id": message.id,
                "operator_id": conversation.assigned_operator_id}))
        handled = await self._recognition.intercept(session, inbound, conversation, client,
                                                    plan.sender, language, now)
        if handled is not None:  # a link code, an email code, a shared phone…: answered
            plan.handled_ids.extend(handled)
            return
        if with_operators:
            if conversation.status is ConversationStatus.QUEUED and await acknowledge_queued(
                    session, conversation, now):  # once per wait, not once per message
                await self._reply(session, conversation, say("still_queued", language), now, plan)
            return

        async def reply(key: str, buttons: Sequence[Button] = ()) -> None:
            await self._reply(session, conversation, say(key, language), now, plan, buttons=buttons)

        handoff_button = Button(say("button_handoff", language), Action.HANDOFF)
        chosen = await self._choice(session, inbound, conversation)
        words = _words(inbound.text)
        if inbound.action is Action.START and not words - _GREETINGS:
            await reply("greeting")
        elif _asks_for_human(inbound):
            await self._hand_off(session, conversation, "asked", now, plan)
        elif chosen is not None:
            await self._answer(session, conversation, chosen, None, language, now, plan, handoff_button)
        elif not inbound.text.strip():
            kinds = {a.kind for a in inbound.attachments}
            if kinds and kinds <= {AttachmentKind.STICKER}:
                await reply("sticker")
            elif kinds:
                await reply("file_received", [handoff_button])
            else:
                await reply("empty")
        elif words and words <= _GREETINGS:
            await reply("greeting")
        elif words and words <= _THANKS:
            await reply("thanks")
        elif await self._over_answer_cap(session, conversation, now):
            await self._hand_off(session, conversation, "answer_cap", now, plan, tell_client=False)
        else:
            await self._consult_kb(session, inbound, conversation, language, now, plan, handoff_button,
                                   known)

    async def _consult_kb(self, session: AsyncSession, inbound: InboundMessage,
                          conversation: Conversation, language: str, now: dt.datetime, plan: _Plan,
                          handoff_button: Button, known: _Known) -> None:
        question = inbound.text[:KB_QUERY_LIMIT]
        match = known.matches.get(question) or self._knowledge.index.decide(question)
        if match.decision is Decision.ANSWER:
            best = match.hits[0]
            await self._answer(session, conversation, best.article.id, best.score, language, now, plan,
                               handoff_button)
        elif match.decision is Decision.CLARIFY:
            choices = [Button(hit.article.title or hit.article.id, Action.CHOOSE, hit.article.id)
                       for hit in match.hits[:3]]
            text = say("clarify", language)
            if conversation.last_channel is ChannelKind.EMAIL:
                listed = "\n".join(f"{n}. {b.label}" for n, b in enumerate(choices, 1))
                text = f"{text}\n\n{listed}\n\n{say('clarify_email', language)}"
            record(session, conversation, EventKind.CLARIFIED, now,
                   article_ids=[b.payload for b in choices])
            await self._reply(session, conversation, text, now, plan, buttons=[*choices, handoff_button])
        else:
            best_hit = match.hits[0] if match.hits else None
            session.add(KbMiss(conversation_id=conversation.id, question=inbound.text[:KB_QUERY_LIMIT],
                               language=language, at=now,
                               best_article_id=best_hit.article.id if best_hit else None,
                               best_score=best_hit.score if best_hit else None))
            if conversation.category is None and best_hit is not None:
                conversation.category = best_hit.article.category
            await self._hand_off(session, conversation, "kb_miss", now, plan)

    async def _choice(self, session: AsyncSession, inbound: InboundMessage,
                      conversation: Conversation) -> str | None:
        """The article a client picked: a CHOOSE button, or the number of an offered choice."""
        if inbound.action is Action.CHOOSE and inbound.payload:
            return inbound.payload
        typed = inbound.text.strip().rstrip(".)")
        if not typed.isdigit():
            return None
        offered = [b for b in await self._last_bot_buttons(session, conversation.id)
                   if b["action"] == Action.CHOOSE.value]
        number = int(typed)
        return offered[number - 1]["payload"] if 1 <= number <= len(offered) else None

    async def _answer(self, session: AsyncSession, conversation: Conversation, article_id: str,
                      score: float | None, language: str, now: dt.datetime, plan: _Plan,
                      handoff_button: Button) -> None:
        article = self._knowledge.index.article(article_id)
        if article is None:  # a stale button for an article removed since
            await self._hand_off(session, conversation, "kb_miss", now, plan)
            return
        conversation.category = article.category or conversation.category
        record(session, conversation, EventKind.BOT_ANSWERED, now, article_id=article.id, score=score)
        await self._reply(session, conversation, article_answer(article, conversation), now, plan,
                          buttons=[handoff_button], kb_article_id=article.id, kb_score=score)

    async def _over_answer_cap(self, session: AsyncSession, conversation: Conversation,
                               now: dt.datetime) -> bool:
        """Loop safety: a channel may cap the bot's answers to one identity per hour."""
        cap = self._answer_caps.get(conversation.last_channel)
        if cap is None:
            return False
        sent = await session.scalar(select(func.count(Message.id)).where(
            Message.identity_id == conversation.last_identity_id, Message.author == Author.BOT,
            Message.created_at >= now - dt.timedelta(hours=1)))
        return (sent or 0) >= cap

    async def _hand_off(self, session: AsyncSession, conversation: Conversation, reason: str,
                        now: dt.datetime, plan: _Plan, *, tell_client: bool = True) -> None:
        client = await session.get(Client, conversation.client_id)
        assert client is not None
        level = self._levels.assess(conversation.category, client.tier.value, now)
        conversation.status = ConversationStatus.QUEUED
        conversation.group = level.group
        conversation.priority = level.priority
        conversation.sla_deadline = level.deadline
        conversation.queued_at = now
        record(session, conversation, EventKind.HANDED_OFF, now, reason=reason)
        record(session, conversation, EventKind.QUEUED, now, deadline=level.deadline.isoformat(),
               priority=level.priority)
        plan.queued_id, plan.tell_client = conversation.id, tell_client
        plan.notices.append(("queued", {"conversation_id": conversation.id, "group": level.group}))

    async def _reply(self, session: AsyncSession, conversation: Conversation, text: str,
                     now: dt.datetime, plan: _Plan, *, buttons: Sequence[Button] = (),
                     kb_article_id: str | None = None, kb_score: float | None = None) -> None:
        plan.replies.append(await add_reply(
            session, conversation, text=text, author=Author.BOT, at=now, buttons=buttons,
            identity=plan.sender, kb_article_id=kb_article_id, kb_score=kb_score))

    # -- after the commit -----------------------------------------------------------------

    async def _after_commit(self, plans: Sequence[_Plan], now: dt.datetime) -> None:
        self._outbox.submit_each([plan.reply_ids for plan in plans])
        for plan in plans:
            if plan.queued_id is not None:
                await self._enqueue(plan, now)
            for kind, data in plan.notices:
                await self._feed.publish(kind, **data)

    async def _enqueue(self, plan: _Plan, now: dt.datetime) -> None:
        async with self._sessions() as session:
            conversation = await session.get(Conversation, plan.queued_id)
            if conversation is None or conversation.status is not ConversationStatus.QUEUED:
                return
            assert conversation.group and conversation.sla_deadline and conversation.queued_at
            entry = QueueEntry(
                conversation_id=conversation.id, group=conversation.group,
                priority=conversation.priority, deadline=conversation.sla_deadline,
                enqueued_at=conversation.queued_at, client_id=conversation.client_id,
                channel=conversation.last_channel.value, category=conversation.category)
            position: int | None = None
            operator: Operator | None = None
            try:
                operator = await self._handover.submit(entry)
                position = None if operator else await self._queue.position(conversation.id)
            except Exception:  # Redis down: the database has it; the queue is rebuilt at start
                log.exception("conversation %s queued in the database only", conversation.id)
            if not plan.tell_client:
                return
            if operator is not None:
                text = say("handoff_assigned", plan.language, operator=operator.name)
            else:
                text = self._handoff_text(plan.language, conversation.sla_deadline, position, now)
            told = await add_reply(session, conversation, text=text, author=Author.BOT, at=now)
            await session.commit()
            self._outbox.submit([told.id])

    def _handoff_text(self, language: str, deadline: dt.datetime, position: int | None,
                      now: dt.datetime) -> str:
        zone = self._levels.calendar.zone
        when = promised_moment(deadline, now, zone, language, deadline=True)
        opening_at = self._levels.calendar.next_opening(now)  # now, when open
        # Out of hours the client hears when operators are back, unless the category is
        # served around the clock (a lost card): its deadline comes before the opening.
        if now < opening_at <= deadline:
            opening = promised_moment(opening_at, now, zone, language)
            return say("handoff_after_hours", language, opening=opening, deadline=when)
        if position is None:
            return say("handoff_queued_no_position", language, deadline=when)
        return say("handoff_queued", language, position=position, deadline=when)


def _touch(identity: Identity, inbound: InboundMessage, now: dt.datetime) -> None:
    """What a message tells about its sender's identity: seen now, its name and chat."""
    identity.last_seen_at = now
    if inbound.display_name:
        identity.display_name = inbound.display_name
    if inbound.chat_id:
        identity.chat_id = inbound.chat_id


def _words(text: str) -> set[str]:
    return {w.lower().replace("ё", "е") for w in _WORDS.findall(text)}


def _asks_for_human(inbound: InboundMessage) -> bool:
    if inbound.action is Action.HANDOFF:
        return True
    words = _words(inbound.text)
    return bool(words & _HUMAN) and len(words) <= 6


def _subject(subject: str | None) -> str | None:
    return subject.strip()[:500] if subject and subject.strip() else None
