"""Attacks on the web chat over its real socket: floods, hand-off presses, new cookies for
every guess, too many sockets, a frame nested past the parser's stack."""

from __future__ import annotations

import asyncio
import json
from functools import partial
from zoneinfo import ZoneInfo

import aiohttp
from sqlalchemy import func, select
from test_recognition import client_of, last_text, link_code, merges, tg, web
from web_client import Visitor

from admin.telegram.cards import client_card_text
from core.contracts import ChannelKind
from core.models import Direction, Identity, Message, Operator
from switchboard.app import Gateway


async def stored_from(gateway: Gateway, visitor: Visitor) -> int:
    async with gateway.sessions() as session:
        return (
            await session.scalar(
                select(func.count(Message.id)).where(
                    Message.channel == ChannelKind.WEB,
                    Message.direction == Direction.IN,
                    Message.channel_message_id.startswith(visitor.visitor_id + ":"),
                )
            )
            or 0
        )


async def test_a_flooding_socket_is_slowed_and_other_visitors_are_served(
    gateway: Gateway, served: str
) -> None:
    async with Visitor(served) as flooder, Visitor(served) as other:
        since = flooder.ws.mark()
        sent = [await flooder.say(f"Вопрос номер {n} про карту") for n in range(53)]
        last = sent[-1]
        told = await flooder.ws.expect(
            lambda f: f.get("id") == last and f["type"] == "error", since=since
        )
        assert told["code"] == "slow_down" and "подождите" in told["error"].lower()
        assert told["retry_in"] >= 1

        since = other.ws.mark()  # meanwhile, another visitor is served at once
        asked = await other.say("Я потерял карту, что делать?")
        await other.acked(asked, since)
        answer = await other.reply(since=since, author="bot")
        assert answer["text"] == gateway.knowledge.index.article("card-lost").answer  # type: ignore[union-attr]

        acks = [f for f in flooder.ws.frames if f["type"] == "ack"]
        refused = [f for f in flooder.ws.frames if f.get("code") == "slow_down"]
        assert len(acks) <= 11 and len(acks) + len(refused) == 53
        assert await stored_from(gateway, flooder) == len(acks)


def answers(frame_id: str, frame: dict[str, object]) -> bool:
    return frame.get("id") == frame_id


async def test_hand_off_presses_are_limited_per_visitor_and_per_address(
    gateway: Gateway, served: str
) -> None:
    async with Visitor(served) as presser:
        since = presser.ws.mark()
        presses = [await presser.press("handoff") for _ in range(6)]
        await presser.ws.expect(lambda f: f.get("id") == presses[-1], since=since)
        refused = [f for f in presser.ws.frames if f.get("code") == "slow_down"]
        assert len(refused) == 3  # three presses a visitor, then one per ten minutes
    queued = []
    for _ in range(25):  # a new cookie for every press: the address is what counts
        async with Visitor(served) as fresh:
            pressed = await fresh.press("handoff")
            frame = await fresh.ws.expect(partial(answers, pressed))
            queued.append(frame["type"] == "ack")
    assert queued.count(True) == 20 - 3  # the address's twenty, the first visitor's three in it
    assert len(await gateway.queue.waiting()) <= 20


async def test_new_cookies_for_every_guess_block_that_address_not_everybody(
    gateway: Gateway,
) -> None:
    code = await link_code(gateway, tg("/link"))
    for n in range(61):  # every guess from a fresh visitor, all from one address
        await gateway.engine.handle(
            web("KM7X-4TP2", who=f"guesser-{n}", meta={"source": "203.0.113.7"})
        )
    await gateway.engine.handle(web(code, who="guesser-last", meta={"source": "203.0.113.7"}))
    assert await merges(gateway) == []  # that address is cut off, even with the right code

    await gateway.engine.handle(web(code, who="visitor-1", meta={"source": "198.51.100.9"}))
    assert len(await merges(gateway)) == 1  # everybody else links as usual
    assert await client_of(gateway, ChannelKind.WEB, "visitor-1") == await client_of(
        gateway, ChannelKind.TELEGRAM, "1001"
    )


async def test_asking_for_link_codes_is_limited_per_chat_and_per_address(gateway: Gateway) -> None:
    for _ in range(3):
        await link_code(gateway, web("связать", meta={"source": "203.0.113.7"}))
    await gateway.engine.handle(web("связать", meta={"source": "203.0.113.7"}))
    assert "слишком часто" in await last_text(gateway, "visitor-1")
    for n in range(20):  # new cookies: the address's bucket of twenty runs out
        await gateway.engine.handle(
            web("связать", who=f"fresh-{n}", meta={"source": "198.51.100.9"})
        )
    assert "слишком часто" not in await last_text(gateway, "fresh-19")
    await gateway.engine.handle(web("связать", who="fresh-20", meta={"source": "198.51.100.9"}))
    assert "слишком часто" in await last_text(gateway, "fresh-20")
    await link_code(gateway, tg("/link"))  # a chat elsewhere is served as usual


async def test_sockets_are_capped_per_address(gateway: Gateway, served: str) -> None:
    async with aiohttp.ClientSession() as http:
        sockets = [await http.ws_connect(served + "/ws") for _ in range(20)]
        try:
            refused = None
            try:
                await http.ws_connect(served + "/ws")
            except aiohttp.WSServerHandshakeError as error:
                refused = error.status
            assert refused == 429
            await sockets.pop().close()
            again = await http.ws_connect(served + "/ws")  # one closed: one may open
            sockets.append(again)
        finally:
            await asyncio.gather(*(ws.close() for ws in sockets))


async def test_a_frame_nested_past_the_parser_stack_is_a_clean_error(
    gateway: Gateway, served: str
) -> None:
    async with Visitor(served) as visitor:
        since = visitor.ws.mark()
        await visitor.ws.send("[" * 100_000)
        error = await visitor.ws.expect(lambda f: f["type"] == "error", since=since)
        assert error["code"] == "bad_json"
        since = visitor.ws.mark()
        asked = await visitor.say("Я потерял карту, что делать?")  # the socket still works
        await visitor.acked(asked, since)


async def test_a_visitor_cookie_is_never_shown_to_operators(gateway: Gateway, served: str) -> None:
    async with Visitor(served) as visitor:
        since = visitor.ws.mark()
        await visitor.acked(await visitor.say("Здравствуйте"), since)
        cookie = visitor.visitor_id
    async with gateway.sessions() as session:
        identity = await session.scalar(select(Identity).where(Identity.external_id == cookie))
        conversation_id = await session.scalar(
            select(Message.conversation_id)
            .where(Message.identity_id == (identity.id if identity else None))
            .limit(1)
        )
        operator = Operator(name="Anna")
        session.add(operator)
        await session.commit()
    assert identity is not None and conversation_id is not None
    card = await gateway.desk.clients.card(operator.id, conversation_id)
    text = client_card_text(card, "ru", ZoneInfo("Europe/Moscow"))
    assert cookie not in text and cookie not in json.dumps([i.external_id for i in card.identities])
    assert f"visitor #{identity.id}" in text
