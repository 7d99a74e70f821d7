"""The conversation engine: the sink every channel feeds, a message or a polled batch at a
time. It runs the steps of `bot.pipeline` over a run of messages in one unit of work —
sender → thread → store → recognise → decide — commits, and then carries out what was
decided (replies, queue entries, operators' notices).

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from sqlalchemy.exc import IntegrityError

from bot.gathering import Gathering
from bot.handover import Handover
from bot.knowledge import KnowledgeBase
from bot.outbox import Outbox
from bot.pipeline.answer_caps import AnswerCaps
from bot.pipeline.bot_words import find_bot_words
from bot.pipeline.consult import Consult
from bot.pipeline.decide import Policy, apply_rating, thank_for_rating
from bot.pipeline.deliver import AfterCommit
from bot.pipeline.edits import apply_edit, record_bounce
from bot.pipeline.recognise import Recognise, find_rating
from bot.pipeline.sender import find_senders
from bot.pipeline.store import already_stored, store_message
from bot.pipeline.thread import find_threads
from bot.pipeline.turn import Outcome, Turn
from bot.pipeline.waits import find_waits
from bot.quarantine import Quarantine
from core.card_numbers import masked
from core.contracts import ChannelKind, InboundMessage
from core.db import SessionFactory, WriteLock, database_away
from core.events import DeskFeed
from core.files import keep_files
from core.lifecycle import move, untouched
from core.models import ConversationStatus, EventKind
from core.retry import Backoff
from identity.recognition import Recognition
from kb.index import Match
from routing.queue import OperatorQueue
from routing.service_levels import ServiceLevels

__all__ = ["Engine"]

log = logging.getLogger(__name__)

DB_ATTEMPTS = 6
DB_BACKOFF = Backoff(first=0.2, longest=5.0)
"""A database that is locked or restarting, within one unit of work."""


class Engine:
    def __init__(
        self,
        *,
        sessions: SessionFactory,
        knowledge: KnowledgeBase,
        queue: OperatorQueue,
        levels: ServiceLevels,
        outbox: Outbox,
        feed: DeskFeed,
        recognition: Recognition,
        handover: Handover,
        clock: Callable[[], dt.datetime],
        language: str,
        answer_caps: Mapping[ChannelKind, int] | None = None,
        writes: WriteLock | None = None,
        other_language: str = "note",
    ) -> None:
        self._sessions = sessions
        self._writes = writes or contextlib.nullcontext()
        self._feed = feed
        self._clock = clock
        self._language = language
        self._consult = Consult(knowledge, levels, other_language)
        self._recognise = Recognise(recognition)
        self._policy = Policy(self._consult, levels)
        self._answer_caps = AnswerCaps(answer_caps or {})
        self._after_commit = AfterCommit(
            sessions=sessions,
            outbox=outbox,
            feed=feed,
            queue=queue,
            handover=handover,
            levels=levels,
        )
        self._gathering = Gathering(self.handle_many)
        self._quarantine = Quarantine(
            sessions=sessions,
            writes=writes,
            levels=levels,
            outbox=outbox,
            handover=handover,
            feed=feed,
            clock=clock,
            language=language,
        )

    async def __call__(self, batch: Sequence[InboundMessage]) -> None:
        """The channels' sink: batches handed in while a run is busy go as one run."""
        await self._gathering(batch)

    async def drain(self) -> None:
        """Finishes the run started (a stopping gateway)."""
        await self._gathering.drain()

    async def handle(self, inbound: InboundMessage) -> None:
        await self.handle_many([inbound])

    async def handle_many(self, batch: Sequence[InboundMessage]) -> None:
        """Store and act on messages, in order, a run of them in one unit of work. Edits and
        delivery reports change earlier rows and go one at a time. Returns once every
        message is stored; if the database stays away the error propagates, so the channel
        does not confirm the batch and the platform delivers it again later."""
        run: list[InboundMessage] = []
        for inbound in map(masked, batch):  # card numbers, before anything reads the text
            if inbound.edited or inbound.bounce:
                await self._store(run)
                await self._store([inbound])
                run = []
            else:
                run.append(inbound)
        await self._store(run)

    async def _store(self, run: Sequence[InboundMessage]) -> None:
        """One unit of work for `run`. A database that is locked or restarting is retried
        with backoff. Any other failure splits the run into single messages: a constraint
        that fails (another process stored one of the messages, or made the sender's
        identity, meanwhile) is tried afresh, its look-ups then see what the other made;
        a message that still fails on its own is quarantined (`bot.quarantine`)."""
        if not run:
            return
        # The KB decides the run's texts on a worker thread while the unit of work looks up
        # the senders and conversations: the encoder and the database overlap.
        decisions = asyncio.ensure_future(self._consult.decide_many(run))
        try:
            await self._store_attempts(run, decisions)
        finally:
            decisions.cancel()  # a run given up, or split into single messages

    async def _store_attempts(
        self, run: Sequence[InboundMessage], decisions: asyncio.Future[dict[str, Match]]
    ) -> None:
        for attempt in range(DB_ATTEMPTS):
            try:
                async with self._writes:
                    await self._store_once(run, decisions)
                return
            except Exception as exc:  # noqa: BLE001 - the database away, or the messages at fault
                if not database_away(exc):
                    if len(run) > 1:
                        for inbound in run:
                            await self._store([inbound])
                        return
                    if isinstance(exc, IntegrityError) and attempt < DB_ATTEMPTS - 1:
                        continue
                    await self._quarantine.keep(run[0], exc)
                    return
                if attempt == DB_ATTEMPTS - 1:
                    log.error(
                        "database unavailable, %d message(s) from %s/%s left unconfirmed: %s",
                        len(run),
                        run[0].channel.value,
                        run[0].platform_message_id,
                        exc,
                    )
                    raise
                delay = DB_BACKOFF.delay(attempt + 1)
                log.warning("database busy or restarting (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)

    async def _store_once(
        self, run: Sequence[InboundMessage], decisions: asyncio.Future[dict[str, Match]]
    ) -> None:
        now = self._clock()
        async with self._sessions() as session:
            if len(run) == 1 and run[0].edited:
                if await apply_edit(session, self._feed, run[0], now):
                    return
                run = [replace(run[0], edited=False)]  # the original never reached us
            if (
                len(run) == 1
                and run[0].bounce
                and await record_bounce(session, self._feed, run[0], now)
            ):
                return
            # The run's look-ups once; then every message's sender and conversation, so
            # that the new conversations are made in one INSERT; then each message is
            # stored and acted on, and the whole run is flushed once with the commit.
            stored = await already_stored(session, run)
            senders = await find_senders(session, run, now, self._language)
            threads = await find_threads(session, senders.client_ids)
            answers = await self._answer_caps.count(
                session, (identity for identity, _ in senders.found.values()), now
            )
            turns: list[Turn] = []
            for inbound in run:
                key = (inbound.channel, inbound.external_user_id, inbound.platform_message_id)
                if key in stored:  # stored already: processed once
                    continue
                stored.add(key)
                inbound = await keep_files(inbound)  # a new message: its files now, not before
                sender = senders.of(inbound, now)
                turn = Turn(inbound, sender, Outcome(sender.identity, sender.language))
                rating = await find_rating(
                    session,
                    inbound,
                    sender.client,
                    now,
                    in_conversation=sender.client.id in threads.open,
                )
                if rating is not None:
                    await apply_rating(session, turn, rating, now)
                else:
                    await threads.place(session, turn, now)
                turns.append(turn)
            await threads.open_new(session, turns)
            bot_words = await find_bot_words(session, (c.id for c in threads.open.values()))
            waits = await find_waits(session, threads.open.values())
            decided = await decisions  # made once: a retry of the run gets them again
            for turn in turns:
                store_message(session, turn, now)
                if turn.rated:
                    await thank_for_rating(session, turn, now)
                else:
                    turn.bot_said = await bot_words.last(session, turn)
                    turn.waits = await waits.of(session, turn.placed)
                    recognised = await self._recognise(session, turn, now)
                    await self._policy(session, turn, recognised, now, decided, answers)
                bot_words.decided(turn.conversation)
                waits.decided(turn.conversation)
                answers.add(turn.outcome)
            await session.commit()
        await self._after_commit.carry_out([turn.outcome for turn in turns], now)

    async def close_idle(self, idle: dt.timedelta) -> int:
        """Close conversations the bot handled that went quiet: the bot settled them."""
        now = self._clock()
        async with self._sessions() as session:
            quiet = await untouched(session, ConversationStatus.BOT, now - idle)
            for conversation in quiet:
                move(
                    session,
                    conversation,
                    ConversationStatus.CLOSED,
                    now,
                    event=EventKind.CLOSED,
                    by="timeout",
                )
            await session.commit()
        return len(quiet)
