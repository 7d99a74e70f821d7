"""Web chat across gateway processes: a reply sent by the process that does not hold the
visitor's socket reaches it through Redis, and so does what one tab sends to a tab open on
the other process. Two real web chat servers, real sockets, the real Redis."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence

import aiohttp
from aiohttp import web
from redis.asyncio import Redis
from redis_waits import listeners, subscribed

from channels.web import WebChat
from channels.web_relay import FrameRelay
from core import keys
from core.contracts import ChannelKind, InboundMessage, OutboundMessage
from core.history import HistoryItem


async def no_history(_visitor: str) -> list[HistoryItem]:
    return []


@contextlib.asynccontextmanager
async def web_process(
    redis: Redis, stored: list[InboundMessage]
) -> AsyncIterator[tuple[WebChat, str]]:
    """One process's web chat: its HTTP server and its relay on the shared Redis."""
    chat = WebChat(no_history, relay=FrameRelay(redis))

    async def sink(messages: Sequence[InboundMessage]) -> None:
        stored.extend(messages)

    app = web.Application()
    app.add_routes(chat.routes())
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    others = await listeners(redis, keys.web_chat_frames())
    receiving = asyncio.create_task(chat.run(sink))
    await subscribed(redis, keys.web_chat_frames(), others + 1)
    try:
        yield chat, f"http://{host}:{port}"
    finally:
        receiving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await receiving
        await runner.cleanup()


async def next_message(ws: aiohttp.ClientWebSocketResponse) -> dict[str, object]:
    while True:
        frame = await ws.receive_json(timeout=5)
        if frame["type"] == "message":
            message: dict[str, object] = frame["message"]
            return message


async def test_a_reply_from_another_process_reaches_the_socket(redis: Redis) -> None:
    stored: list[InboundMessage] = []
    async with (
        web_process(redis, stored) as (_holder, holder_url),
        web_process(redis, stored) as (sender, sender_url),
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http,
    ):
        async with http.get(holder_url + "/") as page:
            visitor = page.cookies["sb_visitor"].value
        first_tab = await http.ws_connect(holder_url + "/ws")
        second_tab = await http.ws_connect(sender_url + "/ws")  # the same browser, other process
        for tab in (first_tab, second_tab):
            assert (await tab.receive_json(timeout=5))["type"] == "history"

        await sender.send(
            OutboundMessage(
                channel=ChannelKind.WEB, chat_id=visitor, text="Ответ оператора", outbound_id=7
            )
        )
        for tab in (first_tab, second_tab):
            message = await next_message(tab)
            assert (message["text"], message["author"]) == ("Ответ оператора", "operator")

        await first_tab.send_json({"type": "message", "id": "m1", "text": "Спасибо"})
        assert (await first_tab.receive_json(timeout=5)) == {"type": "ack", "id": "m1"}
        echo = await next_message(second_tab)
        assert (echo["id"], echo["text"], echo["author"]) == ("m1", "Спасибо", "client")
        assert [m.text for m in stored] == ["Спасибо"]
        await first_tab.close()
        await second_tab.close()


async def test_a_process_gets_no_copy_of_its_own_frames(redis: Redis) -> None:
    async with (
        web_process(redis, []) as (chat, url),
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http,
    ):
        async with http.get(url + "/") as page:
            visitor = page.cookies["sb_visitor"].value
        tab = await http.ws_connect(url + "/ws")
        assert (await tab.receive_json(timeout=5))["type"] == "history"
        await chat.send(
            OutboundMessage(channel=ChannelKind.WEB, chat_id=visitor, text="один", outbound_id=1)
        )
        await chat.send(
            OutboundMessage(channel=ChannelKind.WEB, chat_id=visitor, text="два", outbound_id=2)
        )
        # A frame from another process comes through Redis after this one's own copies
        # of the two would: it is the sign that no copy was delivered.
        later = {"type": "message", "message": {"text": "от другого процесса"}}
        await FrameRelay(redis).publish(visitor, later)
        texts = [(await next_message(tab))["text"] for _ in range(3)]
        assert texts == ["один", "два", "от другого процесса"]
        await tab.send_json({"type": "message", "id": "after", "text": "ещё"})
        assert (await tab.receive_json(timeout=5)) == {"type": "ack", "id": "after"}  # no duplicate
        await tab.close()
