"""The console's search over clients and messages, through its HTTP route: any case in
Cyrillic and Latin (on SQLite too, where LIKE folds only ASCII), «ё» as «е», emails,
phones written any way, platform ids, never a web visitor's cookie; operators' notes
found, the bot's answers not; results bounded."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pipeline_parts import said
from sqlalchemy import select, text
from web_client import signed_in

from admin.search import CLIENTS, search
from admin.signin import SESSION_COOKIE
from core.contracts import ChannelKind, InboundMessage
from core.db import create_engine, session_factory, upgrade
from core.models import Message, Operator
from switchboard.app import Gateway


@pytest.fixture
async def desk(gateway: Gateway) -> Gateway:
    handle = gateway.engine.handle
    await handle(
        said(
            "Карта ЗАБЛОКИРОВАНА, помогите",
            visitor="7001",
            channel=ChannelKind.TELEGRAM,
            display_name="Пётр Ёлкин",
        )
    )
    await handle(said("оператор", visitor="7001", channel=ChannelKind.TELEGRAM))
    await handle(
        said("Where is my PARCEL?", visitor="olga.kim@example.com", channel=ChannelKind.EMAIL)
    )
    await handle(
        said(
            "мой номер 8 (999) 123-45-67", visitor="web-secret-cookie-xyz", channel=ChannelKind.WEB
        )
    )
    await gateway.outbox.drain()
    return gateway


async def found(served: str, token: str, query: str) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{served}/operator/search",
            params={"q": query},
            headers={"Cookie": f"{SESSION_COOKIE}={token}"},
        ) as answer,
    ):
        assert answer.status == 200, await answer.text()
        result: dict[str, Any] = await answer.json()
        return result


def names(result: dict[str, Any]) -> list[str]:
    return [c["name"] for c in result["clients"]]


def texts(result: dict[str, Any]) -> list[str]:
    return [m["snippet"] for m in result["messages"]]


async def test_clients_are_found_by_name_in_any_case_email_phone_and_platform_id(
    desk: Gateway, served: str
) -> None:
    token = await signed_in(desk, "Anna")
    for query in ("пётр", "ПЕТР", "ёлкин", "Елкин"):
        assert names(await found(served, token, query)) == ["Пётр Ёлкин"], query
    assert names(await found(served, token, "7001")) == ["Пётр Ёлкин"]  # Telegram id
    by_email = await found(served, token, "OLGA.KIM@")
    assert [c["channels"] for c in by_email["clients"]] == [["email"]]
    for query in ("8 999 123 45 67", "+7 999 1234567", "1234567"):
        [visitor] = (await found(served, token, query))["clients"]
        assert visitor["phone"] == "+79991234567" and visitor["channels"] == ["web"], query
    assert (await found(served, token, "web-secret-cookie"))["clients"] == []


async def test_messages_are_found_in_any_case_with_their_conversation(
    desk: Gateway, served: str
) -> None:
    token = await signed_in(desk, "Anna")
    result = await found(served, token, "заблокирована")
    [hit] = result["messages"]
    assert hit["snippet"] == "Карта ЗАБЛОКИРОВАНА, помогите"
    assert hit["client_name"] == "Пётр Ёлкин" and hit["author"] == "client"
    async with desk.sessions() as session:
        message = await session.get(Message, hit["message_id"])
        assert message is not None and message.conversation_id == hit["conversation_id"]
    assert texts(await found(served, token, "parcel")) == ["Where is my PARCEL?"]


async def test_notes_are_found_and_the_bots_answers_are_not(desk: Gateway, served: str) -> None:
    token = await signed_in(desk, "Anna")
    async with desk.sessions() as session:
        anna = await session.scalar(select(Operator.id).where(Operator.name == "Anna"))
    assert anna is not None
    queued = (await desk.queue.waiting())[0]
    await desk.desk.actions.take(anna, queued.conversation_id)
    await desk.desk.actions.note(anna, queued.conversation_id, "Проверить ДОГОВОР №4411 у юристов")
    [note] = (await found(served, token, "договор №4411"))["messages"]
    assert note["private"] is True and note["author"] == "operator"
    async with desk.sessions() as session:
        bot_said = await session.scalar(
            select(Message.text).where(Message.author == "bot", Message.text != "").limit(1)
        )
    assert bot_said
    words = " ".join(bot_said.split()[:3])
    assert [
        m for m in (await found(served, token, words))["messages"] if m["author"] == "bot"
    ] == []


async def test_results_are_bounded_and_bad_queries_refused(gateway: Gateway, served: str) -> None:
    for n in range(CLIENTS + 3):
        await gateway.engine.handle(
            said(
                "вопрос",
                visitor=f"bulk-{n}",
                channel=ChannelKind.TELEGRAM,
                display_name=f"Однофамилец {n}",
            )
        )
    result = await search(gateway.sessions, "однофамилец")
    assert len(result.clients) == CLIENTS and result.more_clients
    assert result.clients[0].name == f"Однофамилец {CLIENTS + 2}"  # the newest first
    token = await signed_in(gateway, "Anna")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{served}/operator/search", params={"q": "x"}) as anonymous:
            assert anonymous.status == 401
        cookie = {"Cookie": f"{SESSION_COOKIE}={token}"}
        async with http.get(
            f"{served}/operator/search", params={"q": " я ", "lang": "en"}, headers=cookie
        ) as short:
            assert short.status == 400
            assert (await short.json())["error"] == "Type at least two characters."
        async with http.get(
            f"{served}/operator/search", params={"q": "ж" * 201}, headers=cookie
        ) as long:
            assert long.status == 400
        async with http.get(
            f"{served}/operator/search", params={"q": "100%_"}, headers=cookie
        ) as wild:
            assert wild.status == 200 and (await wild.json())["messages"] == []


async def test_an_edited_message_is_found_by_its_new_words(gateway: Gateway) -> None:
    await gateway.engine.handle(
        said("Старый ТЕКСТ", visitor="7002", channel=ChannelKind.TELEGRAM, display_name="Зоя")
    )
    async with gateway.sessions() as session:
        original = await session.scalar(
            select(Message.channel_message_id).where(Message.text == "Старый ТЕКСТ")
        )
    assert original is not None
    await gateway.engine.handle(
        InboundMessage(
            channel=ChannelKind.TELEGRAM,
            external_user_id="7002",
            chat_id="7002",
            platform_message_id=original,
            text="Исправленный ТЕКСТ",
            edited=True,
        )
    )
    assert [m.snippet for m in (await search(gateway.sessions, "исправленный")).messages] == [
        "Исправленный ТЕКСТ"
    ]
    assert (await search(gateway.sessions, "старый")).messages == ()


async def test_the_migration_folds_what_was_written_before_it(tmp_path: Path) -> None:
    """A database made before search (revision 0006) is searchable after the upgrade."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    try:
        await upgrade(engine, "0006")
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO clients (id, display_name, tier, created_at) "
                    "VALUES (1, 'Фёдор ИВАНОВ', 'standard', :now)"
                ),
                {"now": now},
            )
            await connection.execute(
                text(
                    "INSERT INTO identities (id, client_id, channel, external_id, display_name, "
                    "verified, created_at, last_seen_at) "
                    "VALUES (1, 1, 'telegram', '42', 'Федя', 0, :now, :now)"
                ),
                {"now": now},
            )
            await connection.execute(
                text(
                    "INSERT INTO conversations (id, client_id, identity_id, status, priority, "
                    "last_channel, last_identity_id, created_at, updated_at) "
                    "VALUES (1, 1, 1, 'bot', 2, 'telegram', 1, :now, :now)"
                ),
                {"now": now},
            )
            await connection.execute(
                text(
                    "INSERT INTO messages (id, conversation_id, identity_id, channel, direction, "
                    "author, text, attachments, buttons, private, automated, attempts, "
                    "created_at) VALUES (1, 1, 1, 'telegram', 'in', 'client', "
                    "'Где моя ПОСЫЛКА?', '[]', '[]', 0, 0, 0, :now)"
                ),
                {"now": now},
            )
        await upgrade(engine)
        found = await search(session_factory(engine), "посылка")
        assert [m.snippet for m in found.messages] == ["Где моя ПОСЫЛКА?"]
        assert [c.name for c in (await search(session_factory(engine), "федор")).clients] == [
            "Фёдор ИВАНОВ"
        ]
        assert [c.name for c in (await search(session_factory(engine), "федя")).clients] == [
            "Фёдор ИВАНОВ"
        ]
    finally:
        await engine.dispose()
