"""Proof codes in Redis: link codes and email verification codes, with attempt limits.

A *link code* is issued to one identity ("/link" in Telegram) and typed in another channel
(web chat, VK, a letter, or `/start CODE`); whoever types it proves they also read the
first chat. It is 8 characters of an alphabet whose letters look alike in Latin and
Cyrillic (A C E H K M P T X) plus the digits 2-9, so it can be typed on either keyboard
layout and 0/O or 1/I never meet; shown as `KM7X-4TP2`, accepted with or without the
dash, in any case, in either alphabet. Codes are single use (GETDEL) and live 10 minutes.

Guessing: one identity may type 5 wrong codes per 15 minutes, and everybody together 60
(new web visitors cost nothing, so the global cap is the real bound). With 17**8 ≈ 7·10⁹
codes and, say, 10 codes live at once, a sustained attack wins once in ~10⁵ days. When a
cap is reached every code is refused until the window ends: linking is a convenience,
the operator can still merge by hand.

An *email verification* code is 6 digits mailed to an address a chat client typed; only
that chat may redeem it, 5 tries, 10 minutes. At most 3 such mails per address and per
chat identity per hour, so nobody can use us to flood a mailbox.

Every key is built in `routing/keys.py`.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import re
import secrets
from dataclasses import dataclass

from redis.asyncio import Redis

from core import keys
from routing.queue import as_text

__all__ = ["CodeOutcome", "EmailCheck", "IssuedCode", "LinkCheck", "ProofCodes", "link_code_in",
           "normalise_code", "words_around_code"]

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
    BLOCKED = "blocked"      # too many wrong codes: nothing was looked up
    VOID = "void"            # email code: the last allowed wrong try, the code is gone
    NONE = "none"            # email code: no verification asked here, it is not a code


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
        rest = (text[:match.start()] + " " + text[match.end():]).split()
        return code if len(rest) <= max_other_words else None
    return None


def words_around_code(text: str) -> str:
    """The text without its code: the language a client wrote in is in these words."""
    return _CANDIDATE.sub(" ", text)


def _text(value: str | bytes | None) -> str | None:
    return None if value is None else as_text(value)


def _shown(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


class ProofCodes:
    def __init__(self, redis: Redis, *, ttl: dt.timedelta = dt.timedelta(minutes=10),
                 tries: int = 5, tries_everybody: int = 60,
                 window: dt.timedelta = dt.timedelta(minutes=15), mails_per_hour: int = 3) -> None:
        self._redis = redis
        self.ttl = ttl
        self.tries = tries
        self.tries_everybody = tries_everybody
        self.window = window
        self.mails_per_hour = mails_per_hour

    # -- link codes -----------------------------------------------------------------------

    async def issue_link(self, identity_id: int) -> IssuedCode:
        """A code for this identity; asking again while it lives gives the same code."""
        current = _text(await self._redis.get(keys.link_code_of(identity_id)))
        if current:
            left = await self._redis.pttl(keys.link_code(current))
            if left > 1000:
                return IssuedCode(_shown(current), dt.timedelta(milliseconds=left))
        while True:
            code = "".join(secrets.choice(ALPHABET) for _ in range(8))
            if normalise_code(code) is None:  # all letters or all digits: looks like a word
                continue
            ttl = int(self.ttl.total_seconds())
            if await self._redis.set(keys.link_code(code), json.dumps({"identity": identity_id}),
                                     ex=ttl, nx=True):
                break
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(keys.link_code_seen(code), "issued", ex=int(SEEN_FOR.total_seconds()))
            pipe.set(keys.link_code_of(identity_id), code, ex=ttl)
            await pipe.execute()
        return IssuedCode(_shown(code), self.ttl)

    async def redeem_link(self, code: str, identity_id: int) -> LinkCheck:
        """Spend a code typed by `identity_id` (`code` as `normalise_code` returns it)."""
        if await self._blocked(identity_id, everybody=True):
            return LinkCheck(CodeOutcome.BLOCKED)
        raw = await self._redis.get(keys.link_code(code))
        if raw and json.loads(raw)["identity"] == identity_id:
            return LinkCheck(CodeOutcome.SAME_CHAT)
        raw = await self._redis.getdel(keys.link_code(code))
        if raw:
            owner = int(json.loads(raw)["identity"])
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(keys.link_code_seen(code), f"used:{identity_id}:{owner}",
                         ex=int(SEEN_FOR.total_seconds()))
                pipe.delete(keys.link_code_of(owner))
                await pipe.execute()
            return LinkCheck(CodeOutcome.FOUND, identity_id=owner)
        seen, _, used_by = (_text(await self._redis.get(keys.link_code_seen(code))) or ""
                            ).partition(":")
        redeemer, _, owner_text = used_by.partition(":")
        if seen == "used" and redeemer == str(identity_id):
            # The same chat again: its first message was rolled back (the engine stores it
            # afresh), or the merge is done and the client hears so.
            return LinkCheck(CodeOutcome.FOUND, identity_id=int(owner_text))
        left = await self._count_wrong(identity_id, everybody=True)
        outcome = {"used": CodeOutcome.USED, "issued": CodeOutcome.EXPIRED}.get(seen,
                                                                               CodeOutcome.WRONG)
        return LinkCheck(outcome, tries_left=left)

    # -- email verification ---------------------------------------------------------------

    async def offer_email(self, identity_id: int, address: str) -> None:
        await self._redis.set(keys.email_offer(identity_id), address,
                              ex=int(self.ttl.total_seconds()))

    async def drop_offer(self, identity_id: int) -> None:
        await self._redis.delete(keys.email_offer(identity_id))

    async def offered_email(self, identity_id: int) -> str | None:
        """The address offered for verification in this chat, if the offer still stands."""
        return _text(await self._redis.get(keys.email_offer(identity_id)))

    async def start_email(self, identity_id: int, address: str,
                          email_identity_id: int) -> str | None:
        """A fresh 6-digit code for mailing to `address`; None when the mail limit is reached."""
        hour = 3600
        async with self._redis.pipeline(transaction=True) as pipe:
            for key in (keys.verification_mails(address), keys.verification_mails_by(identity_id)):
                pipe.set(key, 0, ex=hour, nx=True)
                pipe.incr(key)
            counts = await pipe.execute()
        if max(counts[1], counts[3]) > self.mails_per_hour:
            return None
        code = f"{secrets.randbelow(10 ** 6):06d}"
        ttl = int(self.ttl.total_seconds())
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(keys.email_verification(identity_id), keys.email_offer(identity_id))
            pipe.hset(keys.email_verification(identity_id), mapping={
                "address": address, "code": code, "email_identity": email_identity_id, "tries": 0})
            pipe.expire(keys.email_verification(identity_id), ttl)
            pipe.set(keys.email_verification_seen(identity_id), "issued",
                     ex=int(SEEN_FOR.total_seconds()))
            await pipe.execute()
        return code

    async def check_email(self, identity_id: int, typed: str) -> EmailCheck:
        """A 6-digit number typed in a chat: the verification code, a wrong one, or none asked."""
        pending = {as_text(k): as_text(v) for k, v in
                   (await self._redis.hgetall(keys.email_verification(identity_id))).items()}
        if not pending:
            seen, _, used = (_text(await self._redis.get(
                keys.email_verification_seen(identity_id))) or "").partition(":")
            if seen == "used" and used:
                first = json.loads(used)  # the same code again: its first message rolled back
                if secrets.compare_digest(typed, first["code"]):
                    return EmailCheck(CodeOutcome.FOUND, first["address"], first["email_identity"])
            outcome = {"issued": CodeOutcome.EXPIRED, "used": CodeOutcome.USED}.get(
                seen, CodeOutcome.NONE)
            return EmailCheck(outcome)
        if await self._blocked(identity_id, everybody=False):
            return EmailCheck(CodeOutcome.BLOCKED)
        address, email_identity = pending["address"], int(pending["email_identity"])
        if secrets.compare_digest(typed, pending["code"]):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(keys.email_verification(identity_id))
                proof = {"code": typed, "address": address, "email_identity": email_identity}
                pipe.set(keys.email_verification_seen(identity_id), f"used:{json.dumps(proof)}",
                         ex=int(SEEN_FOR.total_seconds()))
                await pipe.execute()
            return EmailCheck(CodeOutcome.FOUND, address, email_identity)
        await self._count_wrong(identity_id, everybody=False)
        tries = await self._redis.hincrby(keys.email_verification(identity_id), "tries", 1)
        if tries >= self.tries:
            await self._redis.delete(keys.email_verification(identity_id),
                                     keys.email_verification_seen(identity_id))
            return EmailCheck(CodeOutcome.VOID, address)
        return EmailCheck(CodeOutcome.WRONG, address, tries_left=self.tries - tries)

    # -- attempt limits -------------------------------------------------------------------

    async def _blocked(self, identity_id: int, *, everybody: bool) -> bool:
        mine, all_ = await self._redis.mget(keys.code_attempts(identity_id),
                                            keys.code_attempts_all())
        return (int(mine or 0) >= self.tries
                or (everybody and int(all_ or 0) >= self.tries_everybody))

    async def _count_wrong(self, identity_id: int, *, everybody: bool) -> int:
        """Count one wrong code; returns how many tries the identity has left."""
        window = int(self.window.total_seconds())
        counters = [keys.code_attempts(identity_id)]
        if everybody:
            counters.append(keys.code_attempts_all())
        async with self._redis.pipeline(transaction=True) as pipe:
            for key in counters:
                pipe.set(key, 0, ex=window, nx=True)
                pipe.incr(key)
            counts = await pipe.execute()
        return max(0, self.tries - int(counts[1]))
