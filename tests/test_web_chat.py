"""The web chat channel over real HTTP and WebSocket against the real gateway: the page and
its cookie, history across reloads, tabs, and every kind of bad input."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import uuid

import aiohttp
from sqlalchemy import select
from waiting import eventually
from web_client import Visitor

from channels.web import MAX_TEXT
from core.contracts import ChannelKind
from core.models import Author, Direction, Message
from switchboard.app import Gateway

KB_QUESTION = "Я потерял карту, что делать?"


async def client_messages(gateway: Gateway) -> list[Message]:
    async with gateway.sessions() as session:
        return list(
            await session.scalars(
                select(Message)
                .where(Message.channel == ChannelKind.WEB, Message.direction == Direction.IN)
                .order_by(Message.id)
            )
        )


async def bot_answered(gateway: Gateway) -> bool:
    async with gateway.sessions() as session:
        answer = select(Message.id).where(Message.author == Author.BOT).limit(1)
        return await session.scalar(answer) is not None


async def test_the_page_sets_a_private_visitor_cookie_once(served: str) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(served + "/") as page:
            assert page.status == 200 and "text/html" in page.headers["Content-Type"]
            assert "/static/chat/chat.js" in await page.text()
            cookie = page.cookies["sb_visitor"]
            assert cookie["httponly"] and cookie["samesite"] == "Lax" and len(cookie.value) >= 16
            assert "default-src 'self'" in page.headers["Content-Security-Policy"]
        async with http.get(served + "/") as again:
            assert "sb_visitor" not in again.cookies  # the visitor keeps their identity
        for asset in ("chat.js", "chat.css"):
            async with http.get(f"{served}/static/chat/{asset}") as response:
                assert response.status == 200 and len(await response.read()) > 1000


async def test_history_survives_a_reload_and_reaches_every_tab(
    gateway: Gateway, served: str
) -> None:
    async with Visitor(served) as visitor:
        since = visitor.ws.mark()
        asked = await visitor.say(KB_QUESTION)
        answer = await visitor.reply(since=since, author="bot")

        history = await visitor.connect()  # a reload
        assert [(m["id"], m["author"]) for m in history["messages"]] == [
            (asked, "client"),
            (answer["id"], "bot"),
        ]
        assert history["messages"][0]["text"] == KB_QUESTION
        assert history["messages"][1]["text"] == answer["text"]
        assert history["messages"][1]["buttons"] == answer["buttons"]

        # a second tab of the same browser: sees what the first one sends, and the answers
        second = await visitor.http.ws_connect(served + "/ws")
        assert (await second.receive_json())["type"] == "history"
        since = visitor.ws.mark()
        sent = await visitor.say("Спасибо!")
        echo = await second.receive_json(timeout=10)
        assert (echo["message"]["id"], echo["message"]["author"]) == (sent, "client")
        assert echo["message"]["text"] == "Спасибо!"
        thanks = await second.receive_json(timeout=10)
        assert thanks["message"]["author"] == "bot"
        assert (await visitor.reply(since=since))["id"] == thanks["message"]["id"]
        await second.close()

    async with Visitor(served) as stranger:  # another browser sees nothing of it
        assert (await stranger.connect())["messages"] == []


async def test_a_socket_without_a_cookie_gets_one(served: str) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.ws_connect(served + "/ws") as ws:
            assert (await ws.receive_json())["type"] == "history"
        assert any(c.key == "sb_visitor" for c in http.cookie_jar)


async def test_a_socket_from_another_site_is_refused(served: str) -> None:
    async with aiohttp.ClientSession() as http:
        try:
            await http.ws_connect(served + "/ws", origin="https://evil.example")
        except aiohttp.WSServerHandshakeError as refused:
            assert refused.status == 403
        else:
            raise AssertionError("a cross-site socket was accepted")


async def test_bad_frames_get_errors_and_the_socket_keeps_working(
    gateway: Gateway, served: str
) -> None:
    async with Visitor(served) as visitor:
        cases = [
            ("{not json", "bad_json"),
            ("[1, 2, 3]", "bad_request"),
            (json.dumps({"type": "message", "text": "no id"}), "bad_request"),
            (json.dumps({"type": "message", "id": "x" * 65, "text": "id too long"}), "bad_request"),
            (json.dumps({"type": "message", "id": "n1", "text": 42}), "bad_request"),
            (json.dumps({"type": "dance", "id": "d1"}), "unknown_type"),
            (json.dumps({"type": "action", "id": "a1", "action": "start"}), "bad_request"),
            (
                json.dumps({"type": "action", "id": "a2", "action": "rate", "payload": ["x"]}),
                "bad_request",
            ),
            (json.dumps({"type": "message", "id": "big", "text": "я" * (100 * 1024)}), "too_long"),
            ("x" * (300 * 1024), "bad_json"),
        ]
        for frame, code in cases:
            since = visitor.ws.mark()
            await visitor.ws.send(frame)
            error = await visitor.ws.expect(lambda f: f["type"] == "error", since=since)
            assert error["code"] == code, (frame[:60], error)
        big = next(f for f in visitor.ws.frames if f.get("id") == "big")
        assert str(MAX_TEXT) in big["error"]
        since = visitor.ws.mark()
        await visitor.ws.ws.send_bytes(b"\x00\x01")
        error = await visitor.ws.expect(lambda f: f["type"] == "error", since=since)
        assert error["code"] == "bad_request"
        assert await client_messages(gateway) == []  # nothing half-stored

        since = visitor.ws.mark()
        await visitor.say(KB_QUESTION)
        assert (await visitor.reply(since=since, author="bot"))["text"].startswith("Сочувствуем")

        # beyond what any page sends (1 MiB): the socket is closed as "message too big"
        with contextlib.suppress(ConnectionError):
            await asyncio.wait_for(visitor.ws.send("x" * (2 * 1024 * 1024)), 10)
        await asyncio.wait_for(visitor.ws.closed.wait(), 10)
        assert visitor.ws.ws.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
        history = await visitor.connect()
        assert [m["author"] for m in history["messages"]] == ["client", "bot"]


async def test_empty_emoji_only_and_limit_sized_messages_are_stored_and_answered(
    gateway: Gateway, served: str
) -> None:
    async with Visitor(served) as visitor:
        replies = []
        for text in ["", "   ", "🤔🎉🤷"]:  # no kind one (👍, 🙏): those are thanks
            since = visitor.ws.mark()
            sent = await visitor.say(text)
            await visitor.acked(sent, since)
            replies.append(await visitor.reply(since=since))
        empty = "Похоже, сообщение пустое. Напишите, пожалуйста, ваш вопрос словами."
        assert [r["text"] for r in replies[:2]] == [empty, empty]
        assert "оператор" in replies[2]["text"]  # not understood: a person will look
        for text in ["д" * MAX_TEXT, "NUL\x00inside"]:  # now queued: stored for the operator
            since = visitor.ws.mark()
            await visitor.acked(await visitor.say(text), since)
    stored = [m.text for m in await client_messages(gateway)]
    assert stored == ["", "   ", "🤔🎉🤷", "д" * MAX_TEXT, "NULinside"]


async def test_a_page_closing_right_after_sending_loses_nothing(
    gateway: Gateway, served: str
) -> None:
    async with Visitor(served) as visitor:
        sent = await visitor.say(KB_QUESTION)
        await visitor.ws.ws.close()  # gone before the ack
        await eventually(lambda: bot_answered(gateway), what="the bot's answer stored")
        await gateway.outbox.drain()
        history = await visitor.connect()
        assert [m["id"] for m in history["messages"]][:1] == [sent]
        assert history["messages"][-1]["author"] == "bot"


async def test_a_frame_cut_off_mid_way_does_not_hurt_the_gateway(
    gateway: Gateway, served: str
) -> None:
    host, port = served.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    assert b" 101 " in await reader.readline()
    payload = json.dumps({"type": "message", "id": str(uuid.uuid4()), "text": "оборвано"}).encode()
    header = bytes([0x81, 0x80 | 126]) + len(payload).to_bytes(2, "big") + os.urandom(4)
    writer.write(header + payload[:10])  # a text frame announced in full, sent in part
    await writer.drain()
    writer.close()
    await writer.wait_closed()

    async with Visitor(served) as visitor:
        since = visitor.ws.mark()
        await visitor.say(KB_QUESTION)
        assert (await visitor.reply(since=since, author="bot"))["author"] == "bot"
    assert [m.text for m in await client_messages(gateway)] == [KB_QUESTION]


async def test_operator_messages_are_marked_as_such(gateway: Gateway, served: str) -> None:
    async with Visitor(served, language="en-US,en;q=0.9") as visitor:
        since = visitor.ws.mark()
        await visitor.say("I want to talk to a human operator")
        await visitor.reply(since=since, containing="queue")
        operator = await gateway.desk.operators.register("Bob")
        since = visitor.ws.mark()
        taken = await gateway.desk.actions.take_next(operator.id)
        joined = await visitor.reply(since=since)  # who answers now, in the client's language
        assert (joined["author"], joined["text"]) == (
            "bot",
            "You are now talking to Bob, an operator.",
        )
        since = visitor.ws.mark()
        await gateway.desk.actions.reply(operator.id, taken.id, "Hi, Bob here.")
        reply = await visitor.reply(since=since)
        assert (reply["author"], reply["text"]) == ("operator", "Hi, Bob here.")
        since = visitor.ws.mark()
        await visitor.press("handoff")  # the header's "Talk to a person", while Bob answers
        assert (await visitor.reply(since=since, author="bot"))["text"] == (
            "Bob, an operator, already has your question: write here, and every message "
            "reaches them."
        )
        await gateway.desk.actions.note(operator.id, taken.id, "private: VIP?")
        history = await visitor.connect()
        assert [m["author"] for m in history["messages"]] == [
            *("client", "bot", "bot", "operator"),
            *("client", "bot"),
        ]
        assert all(
            m["author"] != Author.OPERATOR.value or m["text"] != "private: VIP?"
            for m in history["messages"]
        )


async def test_buttons_travel_back_as_actions(gateway: Gateway, served: str) -> None:
    async with Visitor(served) as visitor:
        since = visitor.ws.mark()
        chosen = await visitor.press("choose", "card-lost")  # a clarification choice
        await visitor.acked(chosen, since)
        article = gateway.knowledge.index.article("card-lost")
        assert article is not None
        assert (await visitor.reply(since=since, author="bot"))["text"] == article.answer

        since = visitor.ws.mark()
        await visitor.press("handoff")  # "talk to a person"
        assert "очеред" in (await visitor.reply(since=since, author="bot"))["text"]
        assert len(await gateway.queue.waiting()) == 1
        history = await visitor.connect()
        assert [m["action"] for m in history["messages"] if m["author"] == "client"] == [
            "choose",
            "handoff",
        ]


async def test_question_solved_takes_a_waiting_question_off_the_queue(
    gateway: Gateway, served: str
) -> None:
    """In the queue, a question the KB knows is answered with a "question solved" button;
    its press comes back over the socket and the conversation leaves the queue."""
    async with Visitor(served) as visitor:
        since = visitor.ws.mark()
        await visitor.press("handoff")
        await visitor.reply(since=since, containing="очеред")
        since = visitor.ws.mark()
        await visitor.say("Я потерял карту, что делать?")
        answer = await visitor.reply(since=since, containing="Вопрос решён")
        [solved] = answer["buttons"]
        assert (solved["label"], solved["action"]) == ("Вопрос решён", "resolved")

        since = visitor.ws.mark()
        await visitor.acked(await visitor.press(solved["action"], solved["payload"]), since)
        assert "сняли вопрос с очереди" in (await visitor.reply(since=since, author="bot"))["text"]
        assert await gateway.queue.waiting() == []
