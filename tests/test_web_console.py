"""The operator console over its real WebSocket: who may connect, every command and its errors
in the operator's language, live updates without asking, and a clean shutdown."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import aiohttp
from sqlalchemy import func, select
from web_client import Console, signed_in

from core.contracts import Action, ChannelKind, InboundMessage
from core.models import Message, Operator
from switchboard.app import Gateway, running


def client_says(text: str, number: int, visitor: str = "visitor-console-1") -> InboundMessage:
    return InboundMessage(
        channel=ChannelKind.WEB,
        external_user_id=visitor,
        chat_id=visitor,
        platform_message_id=f"{visitor}:{number}",
        text=text,
    )


async def operators(gateway: Gateway) -> int:
    async with gateway.sessions() as session:
        return await session.scalar(select(func.count(Operator.id))) or 0


async def test_the_console_page_is_served(served: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(served + "/operator") as page:
            assert page.status == 200 and "/static/operator/console.js" in await page.text()
        for asset in ("console.js", "console.css"):
            async with http.get(f"{served}/static/operator/{asset}") as response:
                assert response.status == 200


async def test_a_shared_token_and_a_name_sign_nobody_in(gateway: Gateway, served: str) -> None:
    """The old way in (?token=…&name=…) and a session token in the query string are
    refused, and no operator is created for a new name."""
    colleague = await signed_in(gateway, "Anna")
    for params in [
        {"token": "test-operator-token", "name": "Anna"},
        {"token": "operator", "name": "Eve"},
        {"name": "Eve"},
        {"session": colleague, "sb_operator": colleague},
    ]:
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(served + "/operator/ws", params=params) as ws,
        ):
            error = await ws.receive_json(timeout=5)
            assert error["type"] == "error" and error["code"] == "unauthorized"
            closing = await ws.receive(timeout=5)
            assert closing.type is aiohttp.WSMsgType.CLOSE and closing.data == 4401
    assert await operators(gateway) == 1


async def test_a_disabled_operator_is_refused(gateway: Gateway, served: str) -> None:
    gone = await signed_in(gateway, "Gone")
    async with Console(served, gone) as console:
        await console.ws.expect(lambda f: f["type"] == "hello")
        await gateway.accounts.disable("Gone")
        await console.ws.send({"cmd": "next"})
        error = await console.ws.expect(lambda f: f["type"] == "error")
        assert error["code"] == "disabled"
        await asyncio.wait_for(console.ws.closed.wait(), 5)
        assert console.ws.ws.close_code == 4403
    async with Console(served, gone) as console:  # and the session is gone with it
        error = await console.ws.expect(lambda f: f["type"] == "error")
        assert error["code"] == "unauthorized"


async def test_commands_and_their_errors_in_the_operators_language(
    gateway: Gateway, served: str
) -> None:
    async with (
        Console(served, await signed_in(gateway, "Anna"), lang="en") as anna,
        Console(served, await signed_in(gateway, "Борис"), lang="ru") as boris,
    ):
        hello = await anna.ws.expect(lambda f: f["type"] == "hello")
        assert hello["operator"]["name"] == "Anna" and hello["operator"]["groups"] == [
            "fraud",
            "loans",
            "support",
        ]
        assert (await anna.ws.expect(lambda f: f["type"] == "queue"))["rows"] == []

        assert (await anna.command("next", "conversation"))["error"] == "The queue is empty."
        assert (await boris.command("next", "conversation"))["error"] == "Очередь пуста."
        for frame, code in [
            ("{oops", "bad_json"),
            ('{"cmd": "dance"}', "unknown_cmd"),
            ('{"cmd": "take"}', "bad_request"),
            ('{"cmd": "take", "conversation_id": "1"}', "bad_request"),
            ('{"cmd": "queue", "view": "everything"}', "bad_request"),
            ('{"cmd": "reply", "conversation_id": 1, "text": null}', "bad_request"),
        ]:
            since = anna.ws.mark()
            await anna.ws.send(frame)
            error = await anna.ws.expect(lambda f: f["type"] == "error", since=since)
            assert error["code"] == code
        missing = await anna.command("open", "conversation", conversation_id=999)
        assert missing["error"] == "Conversation #999 not found."

        await gateway.engine.handle(client_says("Почему мой кот боится пылесоса?", 1))
        conversation_id = (await gateway.queue.waiting())[0].conversation_id

        taken = await anna.command("take", "conversation", conversation_id=conversation_id)
        assert taken["conversation"]["mine"] and taken["conversation"]["status"] == "assigned"
        await gateway.engine.handle(replace(client_says("", 2), action=Action.HANDOFF))
        opened = await anna.command("open", "conversation", conversation_id=conversation_id)
        pressed, told = opened["conversation"]["messages"][-2:]
        assert (pressed["author"], pressed["action"], pressed["text"]) == ("client", "handoff", "")
        assert told["author"] == "bot" and "уже занимается оператор Anna" in told["text"]
        late = await boris.command("take", "conversation", conversation_id=conversation_id)
        assert late["error"] == f"Разговор #{conversation_id} уже взял(а) Anna."
        meddling = await boris.command(
            "reply", "conversation", conversation_id=conversation_id, text="Я тоже тут"
        )
        assert meddling["code"] == "desk" and "ведёт другой оператор" in meddling["error"]
        empty = await anna.command(
            "reply", "conversation", conversation_id=conversation_id, text="  "
        )
        assert empty["error"] == "An empty reply was not sent."

        noted = await anna.command(
            "note", "conversation", conversation_id=conversation_id, text="кот — британец"
        )
        note = noted["conversation"]["messages"][-1]
        assert note["private"] and note["text"] == "кот — британец"
        mine = await anna.command("queue", "queue", view="mine")
        assert [r["conversation_id"] for r in mine["rows"]] == [conversation_id]
        assert mine["rows"][0]["status"] == "assigned"
        assert isinstance(mine["rows"][0]["waited"], int)

        closed = await anna.command("close", "conversation", conversation_id=conversation_id)
        assert closed["conversation"]["status"] == "closed"
        again = await anna.command("close", "conversation", conversation_id=conversation_id)
        assert again["error"] == f"Conversation #{conversation_id} is already closed."
        assert (await anna.command("queue", "queue", view="mine"))["rows"] == []


async def test_the_queue_and_the_open_conversation_update_live(
    gateway: Gateway, served: str
) -> None:
    async with Console(served, await signed_in(gateway, "Anna")) as console:
        await console.ws.expect(lambda f: f["type"] == "queue")
        since = console.ws.mark()
        await gateway.engine.handle(client_says("Почему мой кот боится пылесоса?", 1))
        pushed = await console.ws.expect(lambda f: f["type"] == "queue" and f["rows"], since=since)
        [row] = pushed["rows"]
        assert row["preview"] == "Почему мой кот боится пылесоса?" and row["position"] == 1

        await console.command("open", "conversation", conversation_id=row["conversation_id"])
        since = console.ws.mark()
        await gateway.engine.handle(client_says("И ещё: он шипит", 2))
        notice = await console.ws.expect(lambda f: f["type"] == "notice", since=since)
        assert notice["notice"]["kind"] == "client_message"
        refreshed = await console.ws.expect(lambda f: f["type"] == "conversation", since=since)
        said = [m["text"] for m in refreshed["conversation"]["messages"] if m["author"] == "client"]
        assert said[-1] == "И ещё: он шипит"  # the bot's one acknowledgement follows it
        assert (await console.ws.expect(lambda f: f["type"] == "queue", since=since))["rows"][0][
            "preview"
        ] == "И ещё: он шипит"


async def test_stopping_the_server_closes_open_consoles_at_once(gateway: Gateway) -> None:
    async with running(gateway, host="127.0.0.1", port=0) as base_url:
        console = Console(base_url, await signed_in(gateway))
        await console.__aenter__()
        await console.ws.expect(lambda f: f["type"] == "queue")
        started = time.monotonic()
    took = time.monotonic() - started
    await asyncio.wait_for(console.ws.closed.wait(), 5)
    assert console.ws.ws.close_code == aiohttp.WSCloseCode.GOING_AWAY
    await console.__aexit__(None, None, None)
    assert took < 10, f"shutdown waited {took:.1f} s for an open console"
    async with gateway.sessions() as session:  # nothing was half-written on the way down
        assert await session.scalar(select(func.count(Message.id))) == 0


async def test_the_knowledge_base_from_the_console_and_its_refusals(
    gateway: Gateway, served: str
) -> None:
    async with Console(served, await signed_in(gateway, "Anna"), lang="en") as anna:
        await gateway.engine.handle(client_says("Почему мой кот боится пылесоса?", 1))
        conversation_id = (await gateway.queue.waiting())[0].conversation_id
        await anna.command("take", "conversation", conversation_id=conversation_id)
        found = await anna.command(
            "kb_search", "kb_results", conversation_id=conversation_id, query="заблокировать карту"
        )
        assert found["articles"][0]["article_id"] == "card-lost"
        assert found["articles"][0]["answer"].startswith("Сочувствуем!")  # the web chat's style
        nothing = await anna.command(
            "kb_search", "kb_results", conversation_id=conversation_id, query="   "
        )
        assert nothing["articles"] == []
        malformed: list[dict[str, object]] = [{"query": None}, {"query": "x" * 501}]
        for fields in malformed:
            refused = await anna.command("kb_search", "kb_results", conversation_id=1, **fields)
            assert refused["code"] == "bad_request"
        unsaid = await anna.command("kb_save", "kb_saved", conversation_id=conversation_id)
        assert unsaid["error"] == (
            f"You have not answered the client in conversation #{conversation_id} yet."
        )
        await anna.command(
            "reply", "conversation", conversation_id=conversation_id, text="Коты не любят шум."
        )
        unknown = await anna.command(
            "kb_save", "kb_saved", conversation_id=conversation_id, article_id="no-such"
        )
        assert unknown["code"] == "desk"
        saved = await anna.command("kb_save", "kb_saved", conversation_id=conversation_id)
        assert saved["created"] and saved["question"] == "Почему мой кот боится пылесоса?"
    [article] = [
        a for a in await gateway.knowledge.export_articles() if a.id == saved["article_id"]
    ]
    assert (article.answer, article.questions) == (
        "Коты не любят шум.",
        ("Почему мой кот боится пылесоса?",),
    )
