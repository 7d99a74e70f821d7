"""A link code as proof: "/link" (or «связать») in one channel gives a code
(`identity/codes.py`); typed in another channel, or opened as a Telegram deep link
`/start CODE`, it joins the two. A code mailed from an address its server did not vouch
for proves nothing until the address itself proves it with an emailed code."""

from __future__ import annotations

from sqlalchemy import select

from core.contracts import ChannelKind, InboundMessage
from core.models import Client, Conversation, Identity
from core.texts import say
from identity.codes import CodeOutcome, ProofCodes, in_minutes, link_code_in, words_around_code
from identity.email_proof import EmailProof
from identity.proof_merge import ProofMerge
from identity.turn import Turn, words
from kb.text import language_of

__all__ = ["LinkProof", "asks_to_link", "typed_link_code"]

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


def asks_to_link(text: str) -> bool:
    """ "/link", «связать аккаунты», "link my chats": a request for a link code."""
    said = set(words(text.lstrip("/")))
    return bool(said & _LINK_VERBS) and said <= _LINK_WORDS and len(said) <= 3


def typed_link_code(inbound: InboundMessage) -> str | None:
    """The link code in a message: a chat's text, a letter's first line or subject."""
    if inbound.channel is not ChannelKind.EMAIL:
        return link_code_in(inbound.text)
    first_line = next((line for line in inbound.text.splitlines() if line.strip()), "")
    return link_code_in(first_line) or link_code_in(inbound.subject or "")


class LinkProof:
    def __init__(self, *, codes: ProofCodes, proofs: ProofMerge, email: EmailProof) -> None:
        self._codes = codes
        self._proofs = proofs
        self._email = email

    async def issue(self, turn: Turn) -> list[int]:
        if turn.inbound.text.lstrip().startswith("/"):
            await _settle_language(turn, "")
        issued = await self._codes.issue_link(turn.identity.id, turn.source)
        if issued is None:
            return [await turn.reply("code_requests_limit")]
        minutes = in_minutes(issued.expires_in)
        return [await turn.reply("link_code_issued", code=issued.code, minutes=minutes)]

    async def redeem(self, turn: Turn, code: str) -> list[int]:
        check = await self._codes.redeem_link(
            code, turn.identity.id, client_id=turn.client.id, source=turn.source
        )
        owner = await turn.session.get(Identity, check.identity_id) if check.identity_id else None
        await _settle_language(turn, words_around_code(turn.inbound.text), owner)
        minutes = in_minutes(self._codes.window)
        if check.outcome is CodeOutcome.BLOCKED:
            return [await turn.reply("code_blocked", minutes=minutes)]
        if check.outcome is CodeOutcome.SAME_CHAT:
            return [await turn.reply("link_same_chat")]
        if check.outcome is not CodeOutcome.FOUND or check.identity_id is None:
            misses = {CodeOutcome.EXPIRED: "link_code_expired", CodeOutcome.USED: "link_code_used"}
            key = misses.get(check.outcome, "link_code_wrong")
            if check.tries_left == 0:
                key = "code_blocked"
            return [await turn.reply(key, left=check.tries_left, minutes=minutes)]
        if owner is None:
            return [await turn.reply("link_code_expired")]
        if owner.client_id == turn.client.id:
            return [await turn.reply("link_already")]
        if turn.identity.channel is ChannelKind.EMAIL and turn.inbound.meta.get("dmarc") != "pass":
            return await self._prove_address(turn, owner)
        proof = (
            f"code issued to {owner.channel.value}:{owner.shown_id}, "
            f"typed in {turn.identity.channel.value}:{turn.identity.shown_id}"
        )
        return await self._proofs.merge(
            turn, owner, "link_code", proof, "link_done", notice="link_notice"
        )

    async def _prove_address(self, turn: Turn, owner: Identity) -> list[int]:
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
        language = (owner_client.language if owner_client else None) or turn.desk_language
        code = await self._codes.start_email(owner.id, address, turn.identity.id)
        ids = []
        if code is not None:
            ids.append(
                await self._email.mail_code(turn, turn.identity, code, language, owner.channel)
            )
        if chat is not None:
            key = "link_email_unproven" if code is not None else "email_code_limit"
            minutes = in_minutes(self._codes.ttl)
            ids.append(
                await turn.tell(chat, owner, say(key, language, address=address, minutes=minutes))
            )
        return ids


async def _settle_language(turn: Turn, words_beside: str, owner: Identity | None = None) -> None:
    """Codes and /commands are Latin whatever language their sender speaks: answer in the
    language of the other words, else in the one the client (or the code's owner) spoke
    before."""
    known = turn.client.language if turn.client.created_at < turn.now else None
    if owner is not None and not known:
        owner_client = await turn.session.get(Client, owner.client_id)
        known = owner_client.language if owner_client else None
    turn.language = language_of(words_beside, known or turn.desk_language)
    if turn.client.created_at >= turn.now:
        turn.client.language = turn.language
