"""One client across channels: proofs that link identities, and hints that only suggest.

Identities join one client only on proof, and then the clients merge (`routing/merge.py`):
- a link code: "/link" (or "связать") in one channel gives a code (`routing/codes.py`);
  typed in another channel, or opened as a Telegram deep link `/start CODE`, it merges;
- an email address confirmed by a one-time code: the client types the address in a chat,
  agrees to verification, we mail a code to it (an unverified email identity is found or
  made for it, the mail goes through the outbox like any reply), the client types the code
  back in the same chat;
- a phone number Telegram reports for the sender's own shared contact (`Action.CONTACT`):
  it merges with a client whose identity proved the same number before.
A typed phone or email that matches another client is only a *hint*: a private note in the
thread ("possibly the same person as client #12") and `client_hints` for the desk.

The engine calls `Recognition.intercept` before its own dialogue policy; it returns what
it did when it handled the message (`Handled`), None otherwise. A merge is part of the
engine's unit of work, never committed here: the queue update and the desk's notice are
handed back as work for after the engine's commit. Redeeming a code is repeatable by the
same chat, so a unit of work that is rolled back and stored again merges again.

Desk entry point: `client_hints(sessions, client_id) -> list[Hint]`.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from redis.exceptions import RedisError
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.contracts import Action, Button, ChannelKind, InboundMessage
from core.db import SessionFactory
from core.events import DeskFeed
from core.messages import add_message, add_reply
from core.models import (
    Author,
    Client,
    Conversation,
    ConversationStatus,
    Direction,
    Identity,
    Message,
)
from core.numbers import ascii_digits
from core.texts import say
from identity.codes import CodeOutcome, ProofCodes, link_code_in, normalise_code, words_around_code
from identity.merge import merge_in, sync_queue
from kb.text import language_of
from routing.queue import OperatorQueue

__all__ = [
    "VERIFY_EMAIL",
    "AfterCommit",
    "Handled",
    "Hint",
    "Recognition",
    "client_hints",
    "hints_in",
    "normalise_phone",
    "typed_email",
]

log = logging.getLogger(__name__)

#: Payload of the "send me the code" button (a CHOOSE button, caught before the KB sees it).
VERIFY_EMAIL = "sb:verify-email"
CHATS = (ChannelKind.TELEGRAM, ChannelKind.VK, ChannelKind.WEB)
LIVE = (ConversationStatus.QUEUED, ConversationStatus.ASSIGNED)
#: A typed address is offered for verification only in a short message ("моя почта a@b.ru").
OFFER_MAX_WORDS = 5

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_PHONE = re.compile(r"(?<![\w+])\+?\d[\d\s()-]{8,16}\d(?!\w)")
_EMAIL_CODE = re.compile(r"^\d{3}\s?\d{3}$")
_WORDS = re.compile(r"[\w'@.+-]+", re.UNICODE)
_LINK_VERBS = {"link", "связать", "привязать", "объединить", "свяжи", "привяжи"}
_LINK_WORDS = _LINK_VERBS | {
    "accounts",
    "account",
    "chats",
    "my",
    "аккаунты",
    "аккаунт",
    "чаты",
    "чат",
    "каналы",
    "мои",
}
_YES = {
    "да",
    "ага",
    "давай",
    "давайте",
    "отправь",
    "отправьте",
    "отправить",
    "код",
    "yes",
    "yeah",
    "yep",
    "sure",
    "send",
    "the",
    "code",
    "please",
    "пожалуйста",
}
_NO = {"нет", "не", "надо", "нужно", "no", "nope", "don't", "need"}


@dataclass(frozen=True, slots=True)
class Hint:
    """Another client who may be the same person; never acted on without proof."""

    client_id: int
    reason: str  # "email" | "phone"
    value: str


def typed_email(text: str) -> str | None:
    found = _EMAIL.search(text)
    return found.group(0).strip(".").lower() if found else None


def normalise_phone(text: str) -> str | None:
    """ "+79991234567" for the usual ways a number is written (8 999 123-45-67, +7 (999)…)."""
    digits = ascii_digits(text)
    if len(digits) == 11 and digits[0] == "8":
        digits = "7" + digits[1:]
    elif len(digits) == 10 and digits[0] == "9":
        digits = "7" + digits
    return f"+{digits}" if 10 <= len(digits) <= 15 else None


def _words(text: str) -> list[str]:
    return [w.lower().strip(".,!?") for w in _WORDS.findall(text)]


def _asks_to_link(text: str) -> bool:
    words = set(_words(text.lstrip("/")))
    return bool(words & _LINK_VERBS) and words <= _LINK_WORDS and len(words) <= 3


@dataclass
class _Turn:
    """One inbound message being handled: what every step needs."""

    session: AsyncSession
    inbound: InboundMessage
    identity: Identity
    client: Client
    conversation: Conversation
    language: str
    now: dt.datetime
    after_commit: list[AfterCommit] = field(default_factory=list)

    @property
    def live(self) -> bool:
        return self.conversation.status in LIVE


AfterCommit = Callable[[], Awaitable[None]]
"""Work for after the engine's commit (a merge's queue update and notice)."""


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
        self._sessions = sessions
        self._codes = codes
        self._queue = queue
        self._feed = feed
        self._desk_language = desk_language

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
        turn = _Turn(session, inbound, identity, client, conversation, language, now)
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

    async def _handle(self, turn: _Turn) -> list[int] | None:
        inbound, identity = turn.inbound, turn.identity
        text = inbound.text.strip()
        if inbound.meta.get("reply_to"):  # never stored; the operator sees where it points
            self._note(
                turn,
                "reply_to_note",
                reply_to=inbound.meta["reply_to"],
                address=identity.external_id,
            )
        if inbound.action is Action.CONTACT and inbound.payload:
            return await self._phone_shared(turn, inbound.payload)
        if inbound.action is Action.START:
            code = normalise_code(inbound.payload or "")
            return await self._redeem(turn, code) if code else None
        if inbound.action is Action.CHOOSE and inbound.payload == VERIFY_EMAIL:
            return await self._send_email_code(turn)
        if _asks_to_link(text):
            return await self._issue(turn)
        code = self._code_typed(inbound)
        if code is not None:
            return await self._redeem(turn, code)
        if _EMAIL_CODE.match(text):
            handled = await self._email_code(turn, text.replace(" ", ""))
            if handled is not None:
                return handled
        if identity.channel not in CHATS:
            return None
        words = set(_words(text))
        answer = "yes" if words and words <= _YES else "no" if words and words <= _NO else None
        if answer and await self._codes.offered_email(identity.id):
            if answer == "yes":
                return await self._send_email_code(turn)
            await self._codes.drop_offer(identity.id)
            return [await self._reply(turn, "email_offer_dropped")]
        return await self._typed_contacts(turn, text)

    # -- link codes -----------------------------------------------------------------------

    def _code_typed(self, inbound: InboundMessage) -> str | None:
        if inbound.channel is not ChannelKind.EMAIL:
            return link_code_in(inbound.text)
        first_line = next((line for line in inbound.text.splitlines() if line.strip()), "")
        return link_code_in(first_line) or link_code_in(inbound.subject or "")

    async def _issue(self, turn: _Turn) -> list[int]:
        if turn.inbound.text.lstrip().startswith("/"):
            await self._settle_language(turn, "")
        issued = await self._codes.issue_link(turn.identity.id, _source(turn.inbound))
        if issued is None:
            return [await self._reply(turn, "code_requests_limit")]
        minutes = max(1, round(issued.expires_in.total_seconds() / 60))
        return [await self._reply(turn, "link_code_issued", code=issued.code, minutes=minutes)]

    async def _redeem(self, turn: _Turn, code: str) -> list[int]:
        check = await self._codes.redeem_link(
            code, turn.identity.id, client_id=turn.client.id, source=_source(turn.inbound)
        )
        owner = await turn.session.get(Identity, check.identity_id) if check.identity_id else None
        await self._settle_language(turn, words_around_code(turn.inbound.text), owner)
        minutes = round(self._codes.window.total_seconds() / 60)
        if check.outcome is CodeOutcome.BLOCKED:
            return [await self._reply(turn, "code_blocked", minutes=minutes)]
        if check.outcome is CodeOutcome.SAME_CHAT:
            return [await self._reply(turn, "link_same_chat")]
        if check.outcome is not CodeOutcome.FOUND or check.identity_id is None:
            misses = {CodeOutcome.EXPIRED: "link_code_expired", CodeOutcome.USED: "link_code_used"}
            key = misses.get(check.outcome, "link_code_wrong")
            if check.tries_left == 0:
                key = "code_blocked"
            return [await self._reply(turn, key, left=check.tries_left, minutes=minutes)]
        if owner is None:
            return [await self._reply(turn, "link_code_expired")]
        if owner.client_id == turn.client.id:
            return [await self._reply(turn, "link_already")]
        if turn.identity.channel is ChannelKind.EMAIL and turn.inbound.meta.get("dmarc") != "pass":
            return await self._prove_address(turn, owner)
        proof = (
            f"code issued to {owner.channel.value}:{owner.shown_id}, "
            f"typed in {turn.identity.channel.value}:{turn.identity.shown_id}"
        )
        return await self._merge(turn, owner, "link_code", proof, "link_done", notice="link_notice")

    async def _prove_address(self, turn: _Turn, owner: Identity) -> list[int]:
        """A link code mailed from an address its receiving server did not vouch for (no
        DMARC pass from a trusted authserv-id): `From` may be forged, so the address proves
        itself. A 6-digit code goes to it (never to `Reply-To`), and the chat that asked for
        the link code is told to type it there. The letter's writer is told nothing."""
        address = turn.identity.external_id
        chat = await turn.session.scalar(
            select(Conversation)
            .where(Conversation.last_identity_id == owner.id)
            .order_by(Conversation.id.desc())
            .limit(1)
        )
        owner_client = await turn.session.get(Client, owner.client_id)
        language = (owner_client.language if owner_client else None) or self._desk_language
        code = await self._codes.start_email(owner.id, address, turn.identity.id)
        ids = []
        if code is not None:
            ids.append(await self._mail_code(turn, turn.identity, code, language, owner.channel))
        if chat is not None:
            key = "link_email_unproven" if code is not None else "email_code_limit"
            minutes = round(self._codes.ttl.total_seconds() / 60)
            told = await add_reply(
                turn.session,
                chat,
                author=Author.BOT,
                at=turn.now,
                identity=owner,
                text=say(key, language, address=address, minutes=minutes),
            )
            await turn.session.flush()
            ids.append(told.id)
        return ids

    async def _settle_language(
        self, turn: _Turn, words: str, owner: Identity | None = None
    ) -> None:
        """Codes and /commands are Latin whatever language their sender speaks: answer in the
        other `words`, else in the language the client (or the code's owner) spoke before."""
        known = turn.client.language if turn.client.created_at < turn.now else None
        if owner is not None and not known:
            owner_client = await turn.session.get(Client, owner.client_id)
            known = owner_client.language if owner_client else None
        turn.language = language_of(words, known or self._desk_language)
        if turn.client.created_at >= turn.now:
            turn.client.language = turn.language

    # -- email verification ---------------------------------------------------------------

    async def _typed_contacts(self, turn: _Turn, text: str) -> list[int] | None:
        """A typed address or number in a chat: a hint for the operator, and for an address
        in a short message, the offer to verify it."""
        address = typed_email(text)
        phone = None if address else self._typed_phone(text)
        if address is None and phone is None:
            return None
        reason, value = ("email", address) if address else ("phone", phone)
        assert value is not None
        if address:
            turn.client.email = turn.client.email or address
        else:
            turn.client.phone = turn.client.phone or phone
        others = await _others_with(turn.session, turn.client.id, reason, value)
        if others:
            self._note(
                turn,
                "hint_note",
                client_ids=", ".join(f"#{c}" for c in others),
                reason=say(f"hint_{reason}", self._desk_language),
                value=value,
            )
        if address is None or turn.live or len(_words(text)) > OFFER_MAX_WORDS:
            return None
        known = await turn.session.scalar(
            select(Identity).where(
                Identity.channel == ChannelKind.EMAIL, func.lower(Identity.external_id) == address
            )
        )
        if known is not None and known.verified and known.client_id == turn.client.id:
            return [await self._reply(turn, "email_already_verified", address=address)]
        await self._codes.offer_email(turn.identity.id, address)
        button = Button(say("button_verify_email", turn.language), Action.CHOOSE, VERIFY_EMAIL)
        return [await self._reply(turn, "email_offer", [button], address=address)]

    def _typed_phone(self, text: str) -> str | None:
        """A number written the way phones are: "+…", or 11 digits from 7 or 8."""
        found = _PHONE.search(text)
        if found is None:
            return None
        digits = ascii_digits(found.group(0))
        if found.group(0).startswith("+") or (len(digits) == 11 and digits[0] in "78"):
            return normalise_phone(found.group(0))
        return None

    async def _send_email_code(self, turn: _Turn) -> list[int]:
        address = await self._codes.offered_email(turn.identity.id)
        if not address:
            return [await self._reply(turn, "email_offer_gone")]
        email_identity = await self._email_identity(turn, address)
        code = await self._codes.start_email(
            turn.identity.id, address, email_identity.id, source=_source(turn.inbound)
        )
        if code is None:
            return [await self._reply(turn, "email_code_limit")]
        minutes = round(self._codes.ttl.total_seconds() / 60)
        mail = await self._mail_code(
            turn, email_identity, code, turn.language, turn.identity.channel
        )
        told = await self._reply(turn, "email_code_sent", address=address, minutes=minutes)
        return [mail, told]

    async def _mail_code(
        self, turn: _Turn, email_identity: Identity, code: str, language: str, typed_in: ChannelKind
    ) -> int:
        """The letter with a verification code, in a closed conversation of its own: it goes
        to the address itself, whatever `Reply-To` a letter from it named."""
        letter = Conversation(  # the letter lives with the address's owner, not in the chat
            client_id=email_identity.client_id,
            identity_id=email_identity.id,
            status=ConversationStatus.CLOSED,
            last_channel=ChannelKind.EMAIL,
            last_identity_id=email_identity.id,
            subject=say("email_letter_subject", language),
            created_at=turn.now,
            updated_at=turn.now,
            resolved_at=turn.now,
        )
        turn.session.add(letter)
        await turn.session.flush()
        minutes = round(self._codes.ttl.total_seconds() / 60)
        mail = await add_reply(
            turn.session,
            letter,
            author=Author.BOT,
            at=turn.now,
            identity=email_identity,
            text=say(
                "email_letter",
                language,
                code=code,
                minutes=minutes,
                channel=say(f"channel_{typed_in.value}", language),
            ),
        )
        await turn.session.flush()
        return mail.id

    async def _email_identity(self, turn: _Turn, address: str) -> Identity:
        """The email identity of `address`; a new one (of its own new client, unverified)
        when nobody has written from it yet."""
        query = select(Identity).where(
            Identity.channel == ChannelKind.EMAIL, func.lower(Identity.external_id) == address
        )
        found = await turn.session.scalar(query)
        if found is not None:
            return found
        try:
            async with turn.session.begin_nested():
                owner = Client(created_at=turn.now)
                turn.session.add(owner)
                await turn.session.flush()
                found = Identity(
                    client_id=owner.id,
                    channel=ChannelKind.EMAIL,
                    external_id=address,
                    chat_id=address,
                    verified=False,
                    created_at=turn.now,
                    last_seen_at=turn.now,
                )
                turn.session.add(found)
                await turn.session.flush()
        except IntegrityError:  # the address wrote in at this very moment
            found = await turn.session.scalar(query)
            assert found is not None
        return found

    async def _email_code(self, turn: _Turn, typed: str) -> list[int] | None:
        check = await self._codes.check_email(
            turn.identity.id, typed, client_id=turn.client.id, source=_source(turn.inbound)
        )
        if check.outcome is CodeOutcome.NONE:
            return None
        if check.outcome is not CodeOutcome.FOUND or check.email_identity_id is None:
            key = {
                CodeOutcome.WRONG: "email_code_wrong",
                CodeOutcome.VOID: "email_code_void",
                CodeOutcome.USED: "email_code_used",
                CodeOutcome.BLOCKED: "code_blocked",
            }.get(check.outcome, "email_code_expired")
            minutes = round(self._codes.window.total_seconds() / 60)
            return [await self._reply(turn, key, left=check.tries_left, minutes=minutes)]
        email_identity = await turn.session.get(Identity, check.email_identity_id)
        if email_identity is None:
            return [await self._reply(turn, "email_code_expired")]
        email_identity.verified = True
        address = email_identity.external_id
        if email_identity.client_id == turn.client.id:
            turn.client.email = address
            return [await self._reply(turn, "email_verified", address=address)]
        proof = (
            f"{address} confirmed by the code mailed to it, typed in "
            f"{turn.identity.channel.value}:{turn.identity.shown_id}"
        )
        return await self._merge(
            turn,
            email_identity,
            "email_code",
            proof,
            "email_verified",
            address=address,
            email=address,
        )

    # -- phone ----------------------------------------------------------------------------

    async def _phone_shared(self, turn: _Turn, payload: str) -> list[int]:
        phone = normalise_phone(payload)
        if phone is None:
            return [await self._reply(turn, "phone_unreadable")]
        turn.identity.phone = phone
        turn.identity.verified = True
        proven = await turn.session.scalar(
            select(Identity)
            .where(
                Identity.phone == phone,
                Identity.verified.is_(True),
                Identity.client_id != turn.client.id,
            )
            .order_by(Identity.id)
            .limit(1)
        )
        if proven is None:
            turn.client.phone = phone
            others = await _others_with(turn.session, turn.client.id, "phone", phone)
            if others:
                self._note(
                    turn,
                    "hint_note",
                    client_ids=", ".join(f"#{c}" for c in others),
                    reason=say("hint_phone", self._desk_language),
                    value=phone,
                )
            return [await self._reply(turn, "phone_saved", phone=phone)]
        proof = (
            f"{phone} shared as their own contact by {turn.identity.channel.value}:"
            f"{turn.identity.shown_id}, proven before by {proven.channel.value}:"
            f"{proven.shown_id}"
        )
        return await self._merge(
            turn, proven, "phone", proof, "phone_recognised", phone=phone, phone_field=phone
        )

    # -- shared steps ---------------------------------------------------------------------

    async def _merge(
        self,
        turn: _Turn,
        other_identity: Identity,
        reason: str,
        proof: str,
        done_key: str,
        *,
        notice: str | None = None,
        email: str | None = None,
        phone_field: str | None = None,
        **values: object,
    ) -> list[int]:
        """Merge the client behind `other_identity` with this one (the older client
        survives) and tell the client; the queue is made to agree after the commit."""
        session = turn.session
        other = await session.get(Client, other_identity.client_id)
        assert other is not None
        survivor, merged = sorted((turn.client, other), key=lambda c: (c.created_at, c.id))
        entry = await merge_in(
            session,
            survivor,
            merged,
            reason=reason,
            proof=proof,
            operator_id=None,
            now=turn.now,
            language=self._desk_language,
        )
        if email:
            survivor.email = email
        if phone_field:
            survivor.phone = phone_field
        message_conversation = await session.scalar(
            select(Message.conversation_id).where(
                Message.channel == turn.inbound.channel,
                Message.direction == Direction.IN,
                Message.identity_id == turn.identity.id,
                Message.channel_message_id == turn.inbound.platform_message_id,
            )
        )
        thread = await session.get(Conversation, message_conversation)
        assert thread is not None
        turn.conversation = thread
        channel = say(f"channel_{other_identity.channel.value}", turn.language)
        ids = [await self._reply(turn, done_key, channel=channel, **values)]
        if notice:
            here = say(f"channel_{turn.identity.channel.value}", turn.language)
            told = await add_reply(
                session,
                thread,
                author=Author.BOT,
                at=turn.now,
                identity=other_identity,
                text=say(notice, turn.language, channel=here),
            )
            await session.flush()
            ids.append(told.id)
        await session.flush()
        announced = {
            "record_id": entry.id,
            "survivor_id": entry.survivor_id,
            "merged_id": entry.merged_id,
            "conversation_id": thread.id,
            "absorbed": [u["conversation"] for u in entry.moved["absorbed"]],
            "reason": reason,
        }

        async def after_commit() -> None:
            async with self._sessions() as fresh:
                await sync_queue(self._queue, fresh, entry)
            await self._feed.publish("merged", **announced)

        turn.after_commit.append(after_commit)
        return ids

    async def _reply(
        self, turn: _Turn, key: str, buttons: Sequence[Button] = (), /, **values: object
    ) -> int:
        message = await add_reply(
            turn.session,
            turn.conversation,
            author=Author.BOT,
            at=turn.now,
            identity=turn.identity,
            buttons=buttons,
            text=say(key, turn.language, **values),
        )
        await turn.session.flush()
        return message.id

    def _note(self, turn: _Turn, key: str, **values: object) -> None:
        """A private line in the thread for the operator."""
        add_message(
            turn.session,
            conversation_id=turn.conversation.id,
            channel=turn.conversation.last_channel,
            direction=Direction.OUT,
            author=Author.SYSTEM,
            private=True,
            created_at=turn.now,
            text=say(key, self._desk_language, **values),
        )


def _source(inbound: InboundMessage) -> str | None:
    """Where a message came from on the network (the web chat's visitor address), so that
    limits hold for someone who makes a new identity per try."""
    source = inbound.meta.get("source")
    return str(source) if source else None


# -- hints ---------------------------------------------------------------------------------


async def _others_with(session: AsyncSession, client_id: int, reason: str, value: str) -> list[int]:
    """Other (unmerged) clients whose email or phone, typed or proven, is `value`."""
    by_client: ColumnElement[bool]
    by_identity: ColumnElement[bool]
    if reason == "email":
        by_client = func.lower(Client.email) == value
        by_identity = (Identity.channel == ChannelKind.EMAIL) & (
            func.lower(Identity.external_id) == value
        )
    else:
        by_client = Client.phone == value
        by_identity = Identity.phone == value
    found = await session.scalars(
        select(Client.id)
        .outerjoin(Identity, Identity.client_id == Client.id)
        .where(Client.id != client_id, Client.merged_into_id.is_(None), or_(by_client, by_identity))
        .distinct()
        .order_by(Client.id)
    )
    return list(found)


async def hints_in(session: AsyncSession, client_id: int) -> list[Hint]:
    """Who else may be this client: same email or phone, typed or proven, on either side."""
    client = await session.get(Client, client_id)
    if client is None:
        return []
    identities = list(
        await session.scalars(select(Identity).where(Identity.client_id == client_id))
    )
    emails = {
        e.lower()
        for e in [
            client.email,
            *(i.external_id for i in identities if i.channel is ChannelKind.EMAIL),
        ]
        if e
    }
    phones = {p for p in [client.phone, *(i.phone for i in identities)] if p}
    hints: dict[tuple[int, str, str], Hint] = {}
    for reason, values in (("email", sorted(emails)), ("phone", sorted(phones))):
        for value in values:
            for other in await _others_with(session, client_id, reason, value):
                hints[(other, reason, value)] = Hint(other, reason, value)
    return sorted(hints.values(), key=lambda h: (h.client_id, h.reason, h.value))


async def client_hints(sessions: SessionFactory, client_id: int) -> list[Hint]:
    """The desk's view: `hints_in` in its own session."""
    async with sessions() as session:
        return await hints_in(session, client_id)
