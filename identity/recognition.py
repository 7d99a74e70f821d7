"""One client across channels: proofs that link identities, and hints that only suggest.

Identities join one client only on proof, and then the clients merge (`identity/merge.py`):
- a link code (`identity/link_proof.py`): "/link" in one channel, typed in another;
- an email address confirmed by a one-time code (`identity/email_proof.py`);
- a phone number Telegram reports for the sender's own shared contact
  (`identity/phone_proof.py`).
A typed phone or email that matches another client is only a *hint* (`identity/hints.py`):
a private note in the thread ("possibly the same person as client #12").

The engine calls `Recognition.intercept` before its own dialogue policy; it returns what
it did when it handled the message (`Handled`), None otherwise. A merge is part of the
engine's unit of work, never committed here: the queue update and the desk's notice are
handed back as work for after the engine's commit (`identity/proof_merge.py`). Redeeming a
code is repeatable by the same chat, so a unit of work that is rolled back and stored again
merges again.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from core.contracts import Action, ChannelKind, InboundMessage
from core.db import SessionFactory
from core.events import DeskFeed
from core.models import Client, Conversation, Identity
from identity.codes import ProofCodes, normalise_code
from identity.email_proof import VERIFY_EMAIL, EmailProof
from identity.link_proof import LinkProof, asks_to_link, typed_link_code
from identity.phone_proof import shared_phone
from identity.proof_merge import ProofMerge
from identity.turn import AfterCommit, Turn
from routing.queue import OperatorQueue

__all__ = ["Handled", "Recognition"]

log = logging.getLogger(__name__)

CHATS = (ChannelKind.TELEGRAM, ChannelKind.VK, ChannelKind.WEB)
"""Where a typed address or number is read (a letter's signature is full of them)."""


@dataclass
class Handled:
    """A message recognition answered: its replies (flushed) and its after-commit work."""

    reply_ids: list[int]
    after_commit: list[AfterCommit]


class Recognition:
    def __init__(
        self,
        *,
        sessions: SessionFactory,
        codes: ProofCodes,
        queue: OperatorQueue,
        feed: DeskFeed,
        desk_language: str,
    ) -> None:
        self._desk_language = desk_language
        self._proofs = ProofMerge(sessions=sessions, queue=queue, feed=feed)
        self._email = EmailProof(codes=codes, proofs=self._proofs)
        self._links = LinkProof(codes=codes, proofs=self._proofs, email=self._email)

    async def intercept(
        self,
        session: AsyncSession,
        inbound: InboundMessage,
        conversation: Conversation,
        client: Client,
        identity: Identity,
        language: str,
        now: dt.datetime,
    ) -> Handled | None:
        """Handle a proof, a link request or a typed contact from `identity`: its replies
        and after-commit work, or None when the engine should go on as usual (also when
        Redis is away: proofs wait)."""
        turn = Turn(
            session, inbound, identity, client, conversation, language, now, self._desk_language
        )
        try:
            reply_ids = await self._handle(turn)
            return None if reply_ids is None else Handled(reply_ids, turn.after_commit)
        except RedisError as exc:
            log.warning(
                "recognition skipped for message %s/%s: Redis unavailable (%s)",
                inbound.channel.value,
                inbound.platform_message_id,
                exc,
            )
            return None

    async def _handle(self, turn: Turn) -> list[int] | None:
        inbound = turn.inbound
        text = inbound.text.strip()
        if inbound.meta.get("reply_to"):  # never stored; the operator sees where it points
            turn.note(
                "reply_to_note",
                reply_to=inbound.meta["reply_to"],
                address=turn.identity.external_id,
            )
        if inbound.action is Action.CONTACT and inbound.payload:
            return await shared_phone(turn, inbound.payload, self._proofs)
        if inbound.action is Action.START:
            code = normalise_code(inbound.payload or "")
            return await self._links.redeem(turn, code) if code else None
        if inbound.action is Action.CHOOSE and inbound.payload == VERIFY_EMAIL:
            return await self._email.send_code(turn)
        if asks_to_link(text):
            return await self._links.issue(turn)
        code = typed_link_code(inbound)
        if code is not None:
            return await self._links.redeem(turn, code)
        handled = await self._email.typed_code(turn, text)
        if handled is not None:
            return handled
        if turn.identity.channel not in CHATS:
            return None
        answered = await self._email.answer_to_offer(turn, text)
        if answered is not None:
            return answered
        return await self._email.typed_contacts(turn, text)
