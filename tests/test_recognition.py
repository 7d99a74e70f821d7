"""One client across channels, through the real gateway: link codes, email verification,
shared phones and hints. Real Redis (codes, limits), real database, the engine as every
channel calls it; the verification letter goes through the outbox like any reply (no mail
adapter is configured here, so it is stored and marked FAILED: its text is asserted).
"""

from __future__ import annotations

import itertools
import re

from sqlalchemy import func, select

from bot.history import web_history
from core import keys
from core.contracts import Action, ChannelKind, InboundMessage
from core.models import Author, Client, Direction, Identity, MergeRecord, Message
from identity.codes import CodeLimits, ProofCodes, code_digest, link_code_in, normalise_code
from identity.email_proof import VERIFY_EMAIL
from identity.hints import Hint, client_hints
from switchboard.app import Gateway
from switchboard.var_dir import local_secret

_ids = itertools.count(1)
LINK_CODE = re.compile(r"\b([A-Z0-9]{4}-[A-Z0-9]{4})\b")
EMAIL_CODE = re.compile(r"\b(\d{6})\b")


def said(text: str = "", *, who: str, channel: ChannelKind, **fields: object) -> InboundMessage:
    return InboundMessage(
        channel=channel,
        external_user_id=who,
        chat_id=who,
        platform_message_id=f"r{next(_ids)}",
        text=text,
        **fields,  # type: ignore[arg-type]
    )


def tg(text: str = "", who: str = "1001", **fields: object) -> InboundMessage:
    return said(text, who=who, channel=ChannelKind.TELEGRAM, **fields)


def web(text: str = "", who: str = "visitor-1", **fields: object) -> InboundMessage:
    return said(text, who=who, channel=ChannelKind.WEB, **fields)


async def sent_to(gateway: Gateway, who: str) -> list[Message]:
    """What the bot queued for this identity (drained through the outbox), oldest first."""
    await gateway.outbox.drain()
    async with gateway.sessions() as session:
        return list(
            await session.scalars(
                select(Message)
                .join(Identity, Message.identity_id == Identity.id)
                .where(
                    Identity.external_id == who,
                    Message.direction == Direction.OUT,
                    Message.private.is_(False),
                )
                .order_by(Message.id)
            )
        )


async def last_text(gateway: Gateway, who: str) -> str:
    return (await sent_to(gateway, who))[-1].text


async def client_of(gateway: Gateway, channel: ChannelKind, who: str) -> int:
    async with gateway.sessions() as session:
        client_id = await session.scalar(
            select(Identity.client_id).where(
                Identity.channel == channel, Identity.external_id == who
            )
        )
    assert client_id is not None
    return client_id


async def merges(gateway: Gateway) -> list[MergeRecord]:
    async with gateway.sessions() as session:
        return list(await session.scalars(select(MergeRecord).order_by(MergeRecord.id)))


async def link_code(gateway: Gateway, message: InboundMessage) -> str:
    await gateway.engine.handle(message)
    found = LINK_CODE.search(await last_text(gateway, message.external_user_id))
    assert found, "the bot answered /link with a code"
    return found.group(1)


# -- link codes ------------------------------------------------------------------------------


async def test_a_link_code_from_telegram_typed_in_web_chat_joins_the_histories(
    gateway: Gateway,
) -> None:
    await gateway.engine.handle(tg("Я потерял карту, что делать?"))
    code = await link_code(gateway, tg("/link"))
    assert "10 мин" in await last_text(gateway, "1001")
    await gateway.engine.handle(web("Добрый день"))
    telegram_client = await client_of(gateway, ChannelKind.TELEGRAM, "1001")
    web_client = await client_of(gateway, ChannelKind.WEB, "visitor-1")
    assert telegram_client != web_client

    await gateway.engine.handle(web(f"мой код {code.lower()}"))

    assert "связан" in await last_text(gateway, "visitor-1")
    assert "использован" in await last_text(gateway, "1001")  # the first chat is told
    # the older client survives
    assert await client_of(gateway, ChannelKind.WEB, "visitor-1") == telegram_client
    [record] = await merges(gateway)
    assert (record.survivor_id, record.merged_id, record.reason) == (
        telegram_client,
        web_client,
        "link_code",
    )
    assert "telegram:1001" in (record.proof or "") and "web:visitor #" in (record.proof or "")
    assert "visitor-1" not in (record.proof or "")  # a cookie is never shown
    async with gateway.sessions() as session:
        merged = await session.get(Client, web_client)
        assert merged is not None and merged.merged_into_id == telegram_client
        identity = await session.scalar(select(Identity).where(Identity.external_id == "visitor-1"))
        assert identity is not None and identity.external_id == "visitor-1"  # never rewritten
    history = await web_history(gateway.sessions, "visitor-1")
    texts = [(item.channel, item.text) for item in history]
    assert ("telegram", "Я потерял карту, что делать?") in texts
    assert ("web", "Добрый день") in texts


async def test_a_telegram_deep_link_redeems_a_code_from_the_web_chat(gateway: Gateway) -> None:
    code = await link_code(gateway, web("связать"))

    await gateway.engine.handle(tg(action=Action.START, payload=code.replace("-", "")))

    assert "связан" in await last_text(gateway, "1001")
    assert await client_of(gateway, ChannelKind.TELEGRAM, "1001") == await client_of(
        gateway, ChannelKind.WEB, "visitor-1"
    )


async def test_a_code_works_once_and_not_in_the_chat_that_asked_for_it(gateway: Gateway) -> None:
    voided = await link_code(gateway, tg("/link"))
    code = await link_code(gateway, tg("/link"))  # asking again: a new code, the old one void
    assert code != voided
    await gateway.engine.handle(web(voided, who="early"))
    assert "истёк" in await last_text(gateway, "early")

    await gateway.engine.handle(tg(code))
    assert "другом канале" in await last_text(gateway, "1001")

    await gateway.engine.handle(web(code))
    await gateway.engine.handle(web(code, who="stranger"))

    assert "уже использован" in await last_text(gateway, "stranger")
    assert len(await merges(gateway)) == 1
    assert await web_history(gateway.sessions, "stranger") != []
    assert {item.channel for item in await web_history(gateway.sessions, "stranger")} == {"web"}
    assert all("stranger" not in (r.proof or "") for r in await merges(gateway))


async def test_an_expired_code_is_told_apart_from_a_wrong_one(gateway: Gateway) -> None:
    code = await link_code(gateway, tg("/link"))
    digest = code_digest(normalise_code(code) or "", local_secret(gateway.settings.var_dir))
    await gateway.redis.delete(keys.link_code(digest))  # what the TTL does

    await gateway.engine.handle(web(code))
    assert "истёк" in await last_text(gateway, "visitor-1")
    await gateway.engine.handle(web("code KM7X-4TP2"))
    assert "Check it and try again (3 tries left)" in await last_text(gateway, "visitor-1")
    assert await merges(gateway) == []


async def test_guessing_codes_is_cut_off_and_sees_nothing(gateway: Gateway) -> None:
    code = await link_code(gateway, tg("/link"))
    guesses = ["KM7X-4TP2", "AAAA-2222", "CE2H-KM33", "XT45-PP78", "H2H2-H2H2"]
    for guess in guesses:
        await gateway.engine.handle(web(guess, who="guesser"))
    assert "Слишком много неверных кодов" in await last_text(gateway, "guesser")

    await gateway.engine.handle(web(code, who="guesser"))  # even the right one, now

    assert "Слишком много неверных кодов" in await last_text(gateway, "guesser")
    assert await merges(gateway) == []
    assert {i.channel for i in await web_history(gateway.sessions, "guesser")} == {"web"}
    await gateway.engine.handle(web(code))  # the owner's other channel still can
    assert len(await merges(gateway)) == 1


async def test_guessers_are_capped_per_source_and_never_block_everybody(redis) -> None:  # type: ignore[no-untyped-def]
    codes = ProofCodes(redis, limits=CodeLimits(tries_per_source=3))
    issued = await codes.issue_link(1)
    assert issued is not None
    code = normalise_code(issued.code) or ""
    for guesser in (2, 3, 4):  # a new identity (a new cookie) each time, one address
        await codes.redeem_link("KM7X4TP2", guesser, client_id=guesser, source="203.0.113.7")
    blocked = await codes.redeem_link(code, 5, client_id=5, source="203.0.113.7")
    assert blocked.outcome.value == "blocked"  # a fresh identity, the right code: refused
    assert await redis.exists(keys.link_code(code_digest(code)))  # not spent

    found = await codes.redeem_link(code, 6, client_id=6, source="198.51.100.9")
    assert found.outcome.value == "found"  # anybody else links as usual
    assert not await redis.exists(keys.link_code(code))  # the code itself is never a key


async def test_codes_rest_in_redis_only_as_digests(redis) -> None:  # type: ignore[no-untyped-def]
    codes = ProofCodes(redis, pepper=b"secret")
    issued = await codes.issue_link(7)
    assert issued is not None
    mailed = await codes.start_email(7, "anna@client.test", 8)
    assert mailed is not None
    stored = []
    for key in await redis.keys("*"):
        kind = await redis.type(key)
        value = await redis.hgetall(key) if kind in ("hash", b"hash") else await redis.get(key)
        stored.append(f"{key} {value}")
    plain = normalise_code(issued.code) or ""
    assert not [line for line in stored if plain in line or mailed in line]
    check = await codes.check_email(7, mailed, client_id=7)
    assert check.outcome.value == "found"


def test_codes_are_read_the_way_people_type_them() -> None:
    assert normalise_code("km7x-4tp2") == "KM7X4TP2"
    assert normalise_code("КМ7Х 4ТР2") == "KM7X4TP2"  # typed on a Cyrillic layout
    assert normalise_code("ABCD-EFGH") is None  # never all letters
    assert normalise_code("KM0X-4TP2") is None  # 0 is not in the alphabet
    assert link_code_in("вот мой код: KM7X-4TP2") == "KM7X4TP2"
    assert link_code_in("у меня списали деньги по договору KM7X-4TP2 вчера вечером дважды") is None


# -- email -----------------------------------------------------------------------------------


async def email_client(gateway: Gateway, address: str = "anna@example.org") -> int:
    await gateway.engine.handle(
        said(
            "Здравствуйте! Вопрос по карте, позвоните мне",
            who=address,
            channel=ChannelKind.EMAIL,
            subject="Карта",
        )
    )
    return await client_of(gateway, ChannelKind.EMAIL, address)


async def test_a_typed_email_of_another_client_is_only_a_hint(gateway: Gateway) -> None:
    anna = await email_client(gateway)

    await gateway.engine.handle(tg("моя почта Anna@Example.org"))

    offer = (await sent_to(gateway, "1001"))[-1]
    assert "anna@example.org" in offer.text and "код" in offer.text
    assert [b["payload"] for b in offer.buttons] == [VERIFY_EMAIL]
    me = await client_of(gateway, ChannelKind.TELEGRAM, "1001")
    assert me != anna and await merges(gateway) == []
    async with gateway.sessions() as session:
        notes = list(
            await session.scalars(
                select(Message.text).where(
                    Message.private.is_(True), Message.author == Author.SYSTEM
                )
            )
        )
    assert any(f"#{anna}" in note and "подсказка" in note for note in notes)
    assert await client_hints(gateway.sessions, me) == [Hint(anna, "email", "anna@example.org")]
    assert await client_hints(gateway.sessions, anna) == [Hint(me, "email", "anna@example.org")]
    assert {i.channel for i in await web_history(gateway.sessions, "1001")} <= {"telegram"}


async def test_email_verification_wrong_expired_then_right(gateway: Gateway) -> None:
    anna = await email_client(gateway)
    await gateway.engine.handle(tg("my email is anna@example.org"))
    await gateway.engine.handle(tg(action=Action.CHOOSE, payload=VERIFY_EMAIL))

    letters = await sent_to(gateway, "anna@example.org")
    letter = letters[-1]
    assert letter.channel is ChannelKind.EMAIL and letter.author is Author.BOT
    assert letter.delivery_error and "not configured" in letter.delivery_error  # went to the outbox
    code = EMAIL_CODE.search(letter.text)
    assert code and "10 min" in letter.text
    assert "sent a code to anna@example.org" in await last_text(gateway, "1001")
    assert code.group(1) not in " ".join(m.text for m in await sent_to(gateway, "1001"))

    wrong = "000000" if code.group(1) != "000000" else "111111"
    await gateway.engine.handle(tg(wrong))
    assert await last_text(gateway, "1001") == "Wrong code. 4 tries left."

    me = await client_of(gateway, ChannelKind.TELEGRAM, "1001")
    await gateway.redis.pexpire(keys.email_verification(await identity_id(gateway, "1001")), 1)
    await gateway.engine.handle(tg(code.group(1)))
    assert "expired" in await last_text(gateway, "1001")
    assert await merges(gateway) == []

    await gateway.engine.handle(tg("anna@example.org"))
    await gateway.engine.handle(tg("yes"))
    fresh = EMAIL_CODE.search((await sent_to(gateway, "anna@example.org"))[-1].text)
    assert fresh and fresh.group(1)
    await gateway.engine.handle(tg(f"{fresh.group(1)[:3]} {fresh.group(1)[3:]}"))

    assert "is confirmed" in await last_text(gateway, "1001")
    [record] = await merges(gateway)
    assert record.reason == "email_code" and {record.survivor_id, record.merged_id} == {anna, me}
    async with gateway.sessions() as session:
        email = await session.scalar(
            select(Identity).where(Identity.external_id == "anna@example.org")
        )
        assert email is not None and email.verified
        assert email.client_id == await client_of(gateway, ChannelKind.TELEGRAM, "1001")
        survivor = await session.get(Client, email.client_id)
        assert survivor is not None and survivor.email == "anna@example.org"


async def test_verifying_a_new_address_makes_an_unverified_identity_first(gateway: Gateway) -> None:
    await gateway.engine.handle(web("почта new@example.org"))
    await gateway.engine.handle(web("да"))
    async with gateway.sessions() as session:
        made = await session.scalar(
            select(Identity).where(Identity.external_id == "new@example.org")
        )
        assert made is not None and not made.verified
        assert made.client_id != await client_of(gateway, ChannelKind.WEB, "visitor-1")
    code = EMAIL_CODE.search((await sent_to(gateway, "new@example.org"))[-1].text)
    assert code
    await gateway.engine.handle(web(code.group(1)))
    assert await client_of(gateway, ChannelKind.EMAIL, "new@example.org") == await client_of(
        gateway, ChannelKind.WEB, "visitor-1"
    )


async def test_verification_mails_to_one_address_are_limited(gateway: Gateway) -> None:
    for _ in range(4):
        await gateway.engine.handle(web("почта flood@example.org"))
        await gateway.engine.handle(web("да"))
    assert "несколько раз" in await last_text(gateway, "visitor-1")
    assert len(await sent_to(gateway, "flood@example.org")) == 3


async def identity_id(gateway: Gateway, who: str) -> int:
    async with gateway.sessions() as session:
        found = await session.scalar(select(Identity.id).where(Identity.external_id == who))
    assert found is not None
    return found


# -- phone -----------------------------------------------------------------------------------


async def test_a_shared_own_contact_is_proof_a_typed_number_only_a_hint(gateway: Gateway) -> None:
    await gateway.engine.handle(tg(action=Action.CONTACT, payload="+79991234567", who="2001"))
    assert "+79991234567" in await last_text(gateway, "2001")
    await gateway.engine.handle(web("мой телефон 8 (999) 123-45-67"))
    assert await merges(gateway) == []
    web_client = await client_of(gateway, ChannelKind.WEB, "visitor-1")
    first = await client_of(gateway, ChannelKind.TELEGRAM, "2001")
    assert await client_hints(gateway.sessions, web_client) == [
        Hint(first, "phone", "+79991234567")
    ]

    await gateway.engine.handle(tg(action=Action.CONTACT, payload="79991234567", who="2002"))

    assert "узнали вас" in await last_text(gateway, "2002")
    assert await client_of(gateway, ChannelKind.TELEGRAM, "2002") == first
    assert await client_of(gateway, ChannelKind.WEB, "visitor-1") == web_client  # still only a hint
    async with gateway.sessions() as session:
        assert await session.scalar(select(func.count(MergeRecord.id))) == 1
