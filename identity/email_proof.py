"""An email address proven by a one-time code: the client types the address in a chat,
agrees to verification, we mail a code to it (an unverified email identity is found or
made for it; the mail goes through the outbox like any reply), and the client types the
code back in the same chat. A typed address or number that another client has is only a
hint for the operators."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from core.contracts import Action, Button, ChannelKind
from core.models import Client, Conversation, ConversationStatus, Identity
from core.texts import say
from identity.codes import CodeOutcome, ProofCodes, in_minutes
from identity.hints import note_others
from identity.phone_proof import typed_phone
from identity.proof_merge import ProofMerge
from identity.turn import Turn, words

__all__ = ["VERIFY_EMAIL", "EmailProof", "typed_email"]

#: Payload of the "send me the code" button (a CHOOSE button, caught before the KB sees it).
VERIFY_EMAIL = "sb:verify-email"
#: A typed address is offered for verification only in a short message ("моя почта a@b.ru").
OFFER_MAX_WORDS = 5

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_EMAIL_CODE = re.compile(r"^\d{3}\s?\d{3}$")
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


def typed_email(text: str) -> str | None:
    found = _EMAIL.search(text)
    return found.group(0).strip(".").lower() if found else None


class EmailProof:
    def __init__(self, *, codes: ProofCodes, proofs: ProofMerge) -> None:
        self._codes = codes
        self._proofs = proofs

    async def typed_contacts(self, turn: Turn, text: str) -> list[int] | None:
        """A typed address or number in a chat: a hint for the operator, and for an address
        in a short message, the offer to verify it."""
        address = typed_email(text)
        phone = None if address else typed_phone(text)
        if address is None and phone is None:
            return None
        reason, value = ("email", address) if address else ("phone", phone)
        assert value is not None
        if address:
            turn.client.email = turn.client.email or address
        else:
            turn.client.phone = turn.client.phone or phone
        await note_others(turn, reason, value)
        if address is None or turn.live or len(words(text)) > OFFER_MAX_WORDS:
            return None
        known = await turn.session.scalar(
            select(Identity).where(
                Identity.channel == ChannelKind.EMAIL, func.lower(Identity.external_id) == address
            )
        )
        if known is not None and known.verified and known.client_id == turn.client.id:
            return [await turn.reply("email_already_verified", address=address)]
        await self._codes.offer_email(turn.identity.id, address)
        button = Button(say("button_verify_email", turn.language), Action.CHOOSE, VERIFY_EMAIL)
        return [await turn.reply("email_offer", [button], address=address)]

    async def answer_to_offer(self, turn: Turn, text: str) -> list[int] | None:
        """A plain "yes" or "no" to an offer to verify an address (None: not that)."""
        said = set(words(text))
        answer = "yes" if said and said <= _YES else "no" if said and said <= _NO else None
        if answer is None or not await self._codes.offered_email(turn.identity.id):
            return None
        if answer == "yes":
            return await self.send_code(turn)
        await self._codes.drop_offer(turn.identity.id)
        return [await turn.reply("email_offer_dropped")]

    async def send_code(self, turn: Turn) -> list[int]:
        address = await self._codes.offered_email(turn.identity.id)
        if not address:
            return [await turn.reply("email_offer_gone")]
        email_identity = await self._email_identity(turn, address)
        code = await self._codes.start_email(
            turn.identity.id, address, email_identity.id, source=turn.source
        )
        if code is None:
            return [await turn.reply("email_code_limit")]
        minutes = in_minutes(self._codes.ttl)
        mail = await self.mail_code(
            turn, email_identity, code, turn.language, turn.identity.channel
        )
        told = await turn.reply("email_code_sent", address=address, minutes=minutes)
        return [mail, told]

    async def mail_code(
        self, turn: Turn, email_identity: Identity, code: str, language: str, typed_in: ChannelKind
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
        minutes = in_minutes(self._codes.ttl)
        return await turn.tell(
            letter,
            email_identity,
            say(
                "email_letter",
                language,
                code=code,
                minutes=minutes,
                channel=say(f"channel_{typed_in.value}", language),
            ),
        )

    async def _email_identity(self, turn: Turn, address: str) -> Identity:
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

    async def typed_code(self, turn: Turn, text: str) -> list[int] | None:
        """Six digits typed in the chat that asked for a code (None: not such a code)."""
        if not _EMAIL_CODE.match(text):
            return None
        check = await self._codes.check_email(
            turn.identity.id, text.replace(" ", ""), client_id=turn.client.id, source=turn.source
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
            minutes = in_minutes(self._codes.window)
            return [await turn.reply(key, left=check.tries_left, minutes=minutes)]
        email_identity = await turn.session.get(Identity, check.email_identity_id)
        if email_identity is None:
            return [await turn.reply("email_code_expired")]
        email_identity.verified = True
        address = email_identity.external_id
        if email_identity.client_id == turn.client.id:
            turn.client.email = address
            return [await turn.reply("email_verified", address=address)]
        proof = (
            f"{address} confirmed by the code mailed to it, typed in "
            f"{turn.identity.channel.value}:{turn.identity.shown_id}"
        )
        return await self._proofs.merge(
            turn,
            email_identity,
            "email_code",
            proof,
            "email_verified",
            address=address,
            email=address,
        )
