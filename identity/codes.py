"""Proof codes in Redis: link codes and email verification codes, with attempt limits.

A *link code* is issued to one identity ("/link" in Telegram) and typed in another channel
(web chat, VK, a letter, or `/start CODE`); whoever types it proves they also read the
first chat. It is 8 characters of an alphabet whose letters look alike in Latin and
Cyrillic (A C E H K M P T X) plus the digits 2-9, so it can be typed on either keyboard
layout and 0/O or 1/I never meet; shown as `KM7X-4TP2`, accepted with or without the
dash, in any case, in either alphabet. Codes are single use (GETDEL) and live 10 minutes;
asking again voids the live code and issues a new one.

At rest a code is only its keyed digest (`code_digest`): Redis and its AOF hold no code
anyone could type.

Guessing is limited per client (5 wrong codes per 15 minutes, whichever of its chats they
come from) and per source (30 per 15 minutes from one network address: new web visitors
cost nothing, their address does); there is no global cap, so nobody can block linking
for everybody else. A source reaching its cap is refused, the code's owner is not. With
17**8 ≈ 7·10⁹ codes and, say, 10 live at once, one address wins once in ~10⁵ years.
Asking for codes is limited the same two ways (token buckets, `core.buckets`).

An *email verification* code is 6 digits mailed to an address; only the chat that asked
may redeem it, 5 tries, 10 minutes. At most 3 such mails per address, per chat identity
and per source an hour, so nobody can use us to flood a mailbox.

Every key is built in `core/keys.py`.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass

from redis.asyncio import Redis

from core import keys
from core.buckets import Buckets, Rate
from routing.queue import as_text

__all__ = [
    "CodeLimits",
    "CodeOutcome",
    "EmailCheck",
    "IssuedCode",
    "LinkCheck",
    "ProofCodes",
    "code_digest",
    "in_minutes",
    "link_code_in",
    "normalise_code",
    "words_around_code",
]

LETTERS = "ACEHKMPTX"
DIGITS = "23456789"
ALPHABET = LETTERS + DIGITS
#: Cyrillic letters a client may type for their Latin twins in a code.
_TWINS = str.maketrans("АВСЕНКМОРТХ", "ABCEHKMOPTX")
_CANDIDATE = re.compile(r"(?<![\w-])([\w]{4})[-\s]?([\w]{4})(?![\w-])", re.UNICODE)
SEEN_FOR = dt.timedelta(hours=24)


class CodeOutcome(str, enum.Enum):
    FOUND = "found"
    SAME_CHAT = "same_chat"  # a link code typed back in the chat that asked for it
    WRONG = "wrong"
    EXPIRED = "expired"
    USED = "used"
    BLOCKED = "blocked"  # too many wrong codes: nothing was looked up
    LIMITED = "limited"  # too many codes asked for: none issued
    VOID = "void"  # email code: the last allowed wrong try, the code is gone
    NONE = "none"  # email code: no verification asked here, it is not a code


@dataclass(frozen=True)
class IssuedCode:
    code: str  # as shown: "KM7X-4TP2"
    expires_in: dt.timedelta


@dataclass(frozen=True)
class LinkCheck:
    outcome: CodeOutcome
    identity_id: int | None = None  # who asked for the code (FOUND)
    tries_left: int = 0


@dataclass(frozen=True)
class EmailCheck:
    outcome: CodeOutcome
    address: str | None = None
    email_identity_id: int | None = None
    tries_left: int = 0


def normalise_code(text: str) -> str | None:
    """The canonical 8-character code `text` spells, or None when it is not one."""
    squeezed = re.sub(r"[\s-]", "", text).upper().translate(_TWINS)
    if len(squeezed) != 8 or any(c not in ALPHABET for c in squeezed):
        return None
    if not any(c in DIGITS for c in squeezed) or not any(c in LETTERS for c in squeezed):
        return None
    return squeezed


def link_code_in(text: str, *, max_other_words: int = 3) -> str | None:
    """A link code in a short message ("мой код KM7X-4TP2"); None in anything longer."""
    for match in _CANDIDATE.finditer(text):
        code = normalise_code(match.group(1) + match.group(2))
        if code is None:
            continue
        rest = (text[: match.start()] + " " + text[match.end() :]).split()
        return code if len(rest) <= max_other_words else None
    return None


def words_around_code(text: str) -> str:
    """The text without its code: the language a client wrote in is in these words."""
    return _CANDIDATE.sub(" ", text)


def _text(value: str | bytes | None) -> str | None:
    return None if value is None else as_text(value)


def in_minutes(span: dt.timedelta) -> int:
    """A code's life or a lock's length as the client is told it: whole minutes, at least 1."""
    return max(1, round(span.total_seconds() / 60))


def _shown(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def code_digest(code: str, pepper: bytes = b"") -> str:
    """What is stored for a code: HMAC-SHA256 under the gateway's secret `pepper` (a copy
    of Redis alone does not give the codes back, not even by trying all 10⁶ email codes)."""
    return hmac.new(pepper or b"switchboard-code", code.encode(), hashlib.sha256).hexdigest()


_REQUESTS_PER_IDENTITY = Rate(3, dt.timedelta(minutes=5))
_REQUESTS_PER_SOURCE = Rate(20, dt.timedelta(minutes=1))


@dataclass(frozen=True)
class CodeLimits:
    """Wrong codes counted per client and per source in `window`; code requests as token
    buckets per identity and per source; verification mails asked from one source an hour."""

    tries: int = 5
    tries_per_source: int = 30
    window: dt.timedelta = dt.timedelta(minutes=15)
    requests_per_identity: Rate = _REQUESTS_PER_IDENTITY
    requests_per_source: Rate = _REQUESTS_PER_SOURCE
    mails_per_source: int = 20


class ProofCodes:
    def __init__(
        self,
        redis: Redis,
        *,
        ttl: dt.timedelta = dt.timedelta(minutes=10),
        limits: CodeLimits | None = None,
        mails_per_hour: int = 3,
        pepper: bytes = b"",
    ) -> None:
        self._redis = redis
        self._buckets = Buckets(redis)
        self._pepper = pepper
        self.ttl = ttl
        self.limits = limits or CodeLimits()
        self.window = self.limits.window
        self.mails_per_hour = mails_per_hour

    def _digest(self, code: str) -> str:
        return code_digest(code, self._pepper)

    # -- link codes -----------------------------------------------------------------------

    async def issue_link(self, identity_id: int, source: str | None = None) -> IssuedCode | None:
        """A new code for this identity (its previous one is void); None when the identity
        or its source asked for too many."""
        if not await self.may_ask(identity_id, source):
            return None
        previous = _text(await self._redis.get(keys.link_code_of(identity_id)))
        ttl = int(self.ttl.total_seconds())
        while True:
            code = "".join(secrets.choice(ALPHABET) for _ in range(8))
            if normalise_code(code) is None:  # all letters or all digits: looks like a word
                continue
            digest = self._digest(code)
            if await self._redis.set(
                keys.link_code(digest), json.dumps({"identity": identity_id}), ex=ttl, nx=True
            ):
                break
        async with self._redis.pipeline(transaction=True) as pipe:
            if previous:
                pipe.delete(keys.link_code(previous))
            pipe.set(keys.link_code_seen(digest), "issued", ex=int(SEEN_FOR.total_seconds()))
            pipe.set(keys.link_code_of(identity_id), digest, ex=ttl)
            await pipe.execute()
        return IssuedCode(_shown(code), self.ttl)

    async def may_ask(self, identity_id: int, source: str | None) -> bool:
        """Take one code request from the identity's and the source's buckets."""
        limits = [("codes:ask", str(identity_id), self.limits.requests_per_identity)]
        if source:
            limits.append(("codes:ask", source, self.limits.requests_per_source))
        return not await self._buckets.take(*limits)

    async def redeem_link(
        self, code: str, identity_id: int, *, client_id: int, source: str | None = None
    ) -> LinkCheck:
        """Spend a code typed by `identity_id` of `client_id` from `source` (`code` as
        `normalise_code` returns it)."""
        if await self._blocked(client_id, source):
            return LinkCheck(CodeOutcome.BLOCKED)
        digest = self._digest(code)
        raw = await self._redis.get(keys.link_code(digest))
        if raw and json.loads(raw)["identity"] == identity_id:
            return LinkCheck(CodeOutcome.SAME_CHAT)
        raw = await self._redis.getdel(keys.link_code(digest))
        if raw:
            owner = int(json.loads(raw)["identity"])
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(
                    keys.link_code_seen(digest),
                    f"used:{identity_id}:{owner}",
                    ex=int(SEEN_FOR.total_seconds()),
                )
                pipe.delete(keys.link_code_of(owner))
                await pipe.execute()
            return LinkCheck(CodeOutcome.FOUND, identity_id=owner)
        seen, _, used_by = (
            _text(await self._redis.get(keys.link_code_seen(digest))) or ""
        ).partition(":")
        redeemer, _, owner_text = used_by.partition(":")
        if seen == "used" and redeemer == str(identity_id):
            # The same chat again: its first message was rolled back (the engine stores it
            # afresh), or the merge is done and the client hears so.
            return LinkCheck(CodeOutcome.FOUND, identity_id=int(owner_text))
        left = await self._count_wrong(client_id, source)
        outcome = {"used": CodeOutcome.USED, "issued": CodeOutcome.EXPIRED}.get(
            seen, CodeOutcome.WRONG
        )
        return LinkCheck(outcome, tries_left=left)

    # -- email verification ---------------------------------------------------------------

    async def offer_email(self, identity_id: int, address: str) -> None:
        await self._redis.set(
            keys.email_offer(identity_id), address, ex=int(self.ttl.total_seconds())
        )

    async def drop_offer(self, identity_id: int) -> None:
        await self._redis.delete(keys.email_offer(identity_id))

    async def offered_email(self, identity_id: int) -> str | None:
        """The address offered for verification in this chat, if the offer still stands."""
        return _text(await self._redis.get(keys.email_offer(identity_id)))

    async def start_email(
        self, identity_id: int, address: str, email_identity_id: int, source: str | None = None
    ) -> str | None:
        """A fresh 6-digit code for mailing to `address`, redeemable by `identity_id`; None
        when the mail limit (per address, per identity, per source) is reached."""
        hour = 3600
        counters = [keys.verification_mails(address), keys.verification_mails_by(identity_id)]
        if source:
            counters.append(keys.verification_mails_from(source))
        async with self._redis.pipeline(transaction=True) as pipe:
            for key in counters:
                pipe.set(key, 0, ex=hour, nx=True)
                pipe.incr(key)
            counts = await pipe.execute()
        caps = [self.mails_per_hour, self.mails_per_hour, self.limits.mails_per_source]
        if any(count > cap for count, cap in zip(counts[1::2], caps, strict=False)):
            return None
        code = f"{secrets.randbelow(10**6):06d}"
        ttl = int(self.ttl.total_seconds())
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(keys.email_verification(identity_id), keys.email_offer(identity_id))
            pipe.hset(
                keys.email_verification(identity_id),
                mapping={
                    "address": address,
                    "code": self._digest(code),
                    "email_identity": email_identity_id,
                    "tries": 0,
                },
            )
            pipe.expire(keys.email_verification(identity_id), ttl)
            pipe.set(
                keys.email_verification_seen(identity_id),
                "issued",
                ex=int(SEEN_FOR.total_seconds()),
            )
            await pipe.execute()
        return code

    async def check_email(
        self, identity_id: int, typed: str, *, client_id: int, source: str | None = None
    ) -> EmailCheck:
        """A 6-digit number typed in a chat: the verification code, a wrong one, or none asked."""
        pending = {
            as_text(k): as_text(v)
            for k, v in (await self._redis.hgetall(keys.email_verification(identity_id))).items()
        }
        if not pending:
            seen, _, used = (
                _text(await self._redis.get(keys.email_verification_seen(identity_id))) or ""
            ).partition(":")
            if seen == "used" and used:
                first = json.loads(used)  # the same code again: its first message rolled back
                if secrets.compare_digest(typed, first["code"]):
                    return EmailCheck(CodeOutcome.FOUND, first["address"], first["email_identity"])
            outcome = {"issued": CodeOutcome.EXPIRED, "used": CodeOutcome.USED}.get(
                seen, CodeOutcome.NONE
            )
            return EmailCheck(outcome)
        if await self._blocked(client_id, source):
            return EmailCheck(CodeOutcome.BLOCKED)
        address, email_identity = pending["address"], int(pending["email_identity"])
        if hmac.compare_digest(self._digest(typed), pending["code"]):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(keys.email_verification(identity_id))
                proof = {"code": typed, "address": address, "email_identity": email_identity}
                pipe.set(
                    keys.email_verification_seen(identity_id),
                    f"used:{json.dumps(proof)}",
                    ex=int(SEEN_FOR.total_seconds()),
                )
                await pipe.execute()
            return EmailCheck(CodeOutcome.FOUND, address, email_identity)
        await self._count_wrong(client_id, source)
        tries = await self._redis.hincrby(keys.email_verification(identity_id), "tries", 1)
        if tries >= self.limits.tries:
            await self._redis.delete(
                keys.email_verification(identity_id), keys.email_verification_seen(identity_id)
            )
            return EmailCheck(CodeOutcome.VOID, address)
        return EmailCheck(CodeOutcome.WRONG, address, tries_left=self.limits.tries - tries)

    # -- attempt limits -------------------------------------------------------------------

    async def _blocked(self, client_id: int, source: str | None) -> bool:
        mine = await self._redis.get(keys.code_attempts("client", str(client_id)))
        if int(mine or 0) >= self.limits.tries:
            return True
        if source is None:
            return False
        theirs = await self._redis.get(keys.code_attempts("source", source))
        return int(theirs or 0) >= self.limits.tries_per_source

    async def _count_wrong(self, client_id: int, source: str | None) -> int:
        """Count one wrong code against the client and the source; how many tries are left."""
        window = int(self.window.total_seconds())
        counters = [keys.code_attempts("client", str(client_id))]
        if source:
            counters.append(keys.code_attempts("source", source))
        async with self._redis.pipeline(transaction=True) as pipe:
            for key in counters:
                pipe.set(key, 0, ex=window, nx=True)
                pipe.incr(key)
            counts = await pipe.execute()
        left = self.limits.tries - int(counts[1])
        if source:
            left = min(left, self.limits.tries_per_source - int(counts[3]))
        return max(0, left)
