"""What a person may ask of the desk about their data, over the console's HTTP routes and
the CLI. The export holds what they told us and were told, by any of their client
numbers, never a web visitor's cookie or an operator's private note. Forgetting erases
their words, files, names and addresses from the database and the disk while the desk's
figures stay, the same browser afterwards is a stranger, and it waits until their
conversations are closed. Only admins do either."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from pathlib import Path

import aiohttp
import pytest
from pipeline_parts import said
from sqlalchemy import select
from typer.testing import CliRunner, Result
from web_client import Console, Visitor, signed_in

from admin.signin import SESSION_COOKIE
from core.contracts import Action, ChannelKind
from core.db import SessionFactory
from core.models import (
    AuditEntry,
    Client,
    Conversation,
    ConversationStatus,
    Identity,
    KbMiss,
    Message,
    Operator,
    OperatorRole,
)
from switchboard.app import Gateway
from switchboard.cli import app

SHARED = b"\x89PNG\r\n\x1a\n" + b"a picture two clients sent" * 50
ONLY_HERS = b"%PDF-1.4 Anna's passport scan"


def cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"{SESSION_COOKIE}={token}"}


async def send_file(visitor: Visitor, data: bytes, text: str) -> None:
    async with visitor.http.post(
        visitor.base_url + "/upload", data=io.BytesIO(data), headers={"Origin": visitor.base_url}
    ) as answer:
        digest = (await answer.json())["file"]
    since, message_id = visitor.ws.mark(), str(uuid.uuid4())
    await visitor.ws.send(
        {"type": "message", "id": message_id, "text": text, "files": [{"file": digest}]}
    )
    await visitor.acked(message_id, since)


async def test_an_admin_exports_what_the_desk_keeps_about_a_person(
    gateway: Gateway, served: str, tmp_path: Path, env: None
) -> None:
    handle = gateway.engine.handle
    await handle(
        said(
            "Меня зовут Ирина, хочу закрыть вклад", visitor="tg-irina", channel=ChannelKind.TELEGRAM
        )
    )
    await handle(said("", visitor="tg-irina", channel=ChannelKind.TELEGRAM, action=Action.HANDOFF))
    await handle(said("Прошу закрыть вклад", visitor="irina@example.ru", channel=ChannelKind.EMAIL))
    await handle(
        said("привет из браузера", visitor="web-cookie-secret-77", channel=ChannelKind.WEB)
    )
    await gateway.outbox.drain()
    admin = await signed_in(gateway, "Ольга", role=OperatorRole.ADMIN)
    operator = await signed_in(gateway, "Пётр")
    async with gateway.sessions() as session:
        admin_id = await session.scalar(select(Operator.id).where(Operator.name == "Ольга"))
        owners = dict(
            (await session.execute(select(Identity.external_id, Identity.client_id))).all()
        )
    assert admin_id is not None
    irina = owners["tg-irina"]
    for other in (owners["irina@example.ru"], owners["web-cookie-secret-77"]):
        await gateway.desk.merging.merge_clients(admin_id, irina, other)
    [queued] = [e for e in await gateway.queue.waiting() if e.client_id == irina]
    await gateway.desk.actions.take(admin_id, queued.conversation_id)
    await gateway.desk.actions.note(admin_id, queued.conversation_id, "внутренняя заметка")
    await gateway.desk.actions.reply(admin_id, queued.conversation_id, "Ирина, вклад закрыт")

    url = f"{served}/operator/clients/{owners['irina@example.ru']}/export"  # any of her numbers
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers=cookie(operator)) as not_admin:
            assert not_admin.status == 403
        async with http.get(url, headers=cookie(admin)) as exported:
            assert exported.status == 200
            assert exported.headers["Content-Disposition"] == (
                f'attachment; filename="client-{irina}.json"'
            )
            raw = await exported.text()
    document = json.loads(raw)
    assert document["client"]["number"] == irina
    assert [c["number"] for c in document["merged"]] == sorted(
        [owners["irina@example.ru"], owners["web-cookie-secret-77"]]
    )
    accounts = {a["channel"]: a["account"] for a in document["accounts"]}
    assert accounts["telegram"] == "tg-irina" and accounts["email"] == "irina@example.ru"
    assert accounts["web"].startswith("visitor #") and "web-cookie-secret-77" not in raw
    messages = [m for c in document["conversations"] for m in c["messages"]]
    assert ("client", None, "Меня зовут Ирина, хочу закрыть вклад") in {
        (m["author"], m["operator"], m["text"]) for m in messages
    }
    assert ("operator", "Ольга", "Ирина, вклад закрыт") in {
        (m["author"], m["operator"], m["text"]) for m in messages
    }
    assert "внутренняя заметка" not in raw  # the desk's own notes stay out
    async with gateway.sessions() as session:
        logged = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "client_exported"))
        )
    assert [(e.actor_id, e.detail["client"]) for e in logged] == [(admin_id, irina)]

    written = tmp_path / "irina.json"
    by_cli = await cli("export", str(irina), "--output", str(written))
    assert by_cli.exit_code == 0, by_cli.output
    assert written.stat().st_mode & 0o777 == 0o600
    again = json.loads(written.read_text(encoding="utf-8"))
    assert again["conversations"] == document["conversations"]
    nowhere = await cli("export", str(irina), "--output", str(tmp_path / "no" / "such.json"))
    assert nowhere.exit_code == 1 and "No such file or directory" in nowhere.output
    missing = await cli("export", "999999")
    assert missing.exit_code == 1 and "client #999999 not found" in missing.output


async def client_rows(gateway: Gateway, ids: list[int]) -> list[Client]:
    async with gateway.sessions() as session:
        return list(await session.scalars(select(Client).where(Client.id.in_(ids))))


async def test_an_admin_forgets_a_client_and_the_desk_keeps_its_figures(
    gateway: Gateway, served: str
) -> None:
    async with Visitor(served) as anna, Visitor(served) as other:
        await anna.connect()
        await other.connect()
        await send_file(anna, SHARED, "Меня зовут Анна Смирнова, телефон +7 999 123-45-67")
        await send_file(anna, ONLY_HERS, "паспорт")
        await send_file(other, SHARED, "у меня то же самое")
        async with anna.http.post(  # picked, never sent
            anna.base_url + "/upload", data=b"draft scan", headers={"Origin": anna.base_url}
        ) as answer:
            assert answer.status == 200
        uploads = gateway.uploads[0].directory
        assert len([p for p in uploads.rglob("*") if p.is_file()]) == 4
        since = anna.ws.mark()
        await anna.acked(await anna.say("Почему мой кот боится пылесоса?"), since)
        async with gateway.sessions() as session:
            web_identity = await session.scalar(
                select(Identity).where(Identity.channel == ChannelKind.WEB).order_by(Identity.id)
            )
            assert web_identity is not None
        web_client = web_identity.client_id
        await gateway.engine.handle(  # her Telegram, merged into her by an admin
            said(
                "это снова Анна Смирнова",
                visitor="tg-anna",
                channel=ChannelKind.TELEGRAM,
                display_name="Анна Смирнова",
            )
        )
        await gateway.outbox.drain()
        admin = await signed_in(gateway, "Ольга", role=OperatorRole.ADMIN)
        operator = await signed_in(gateway, "Пётр")
        async with gateway.sessions() as session:
            admin_id = await session.scalar(select(Operator.id).where(Operator.name == "Ольга"))
            telegram_client = await session.scalar(
                select(Identity.client_id).where(Identity.external_id == "tg-anna")
            )
        assert admin_id is not None and telegram_client is not None
        await gateway.desk.merging.merge_clients(
            admin_id, web_client, telegram_client, "это снова Анна Смирнова"
        )
        [queued] = [e for e in await gateway.queue.waiting() if e.client_id == web_client]
        await gateway.desk.actions.take(admin_id, queued.conversation_id)
        await gateway.desk.actions.reply(admin_id, queued.conversation_id, "Анна, карта закрыта")

        forget_url = f"{served}/operator/clients/{telegram_client}/forget"  # any of her numbers
        async with aiohttp.ClientSession() as http:
            async with http.post(forget_url, headers=cookie(operator)) as not_admin:
                assert not_admin.status == 403
            async with http.post(forget_url, headers=cookie(admin)) as still_open:
                assert still_open.status == 409
                assert (await still_open.json())["error"] == (
                    f"Сначала закройте разговоры клиента: #{queued.conversation_id}."
                )
            await gateway.desk.actions.close(admin_id, queued.conversation_id)
            await gateway.outbox.drain()
            async with gateway.sessions() as session:
                conversations = list(
                    await session.scalars(
                        select(Conversation.id).where(
                            Conversation.client_id.in_([web_client, telegram_client])
                        )
                    )
                )
                files = [
                    Path(a["stored_path"])
                    for m in await session.scalars(
                        select(Message).where(Message.conversation_id.in_(conversations))
                    )
                    for a in m.attachments
                ]
                misses = await session.scalars(
                    select(KbMiss.question).where(KbMiss.conversation_id.in_(conversations))
                )
                assert list(misses)  # the questions the KB could not answer
            assert len(files) == 2 and all(f.is_file() for f in files)
            async with Console(served, operator) as watching:  # Пётр has the thread open
                opened = await watching.command(
                    "open", "conversation", conversation_id=queued.conversation_id
                )
                assert opened["conversation"]["erased_at"] is None
                since = watching.ws.mark()
                async with http.post(forget_url, headers=cookie(admin)) as forgotten:
                    assert forgotten.status == 200
                    done = await forgotten.json()
                shown = await watching.ws.expect(
                    lambda f: f["type"] == "conversation" and f["live"], since=since
                )
            assert shown["conversation"]["erased_at"] is not None  # his view follows at once
            assert {m["text"] for m in shown["conversation"]["messages"]} == {""}
            assert done["clients"] == [web_client, telegram_client]
            assert done["conversations"] == len(conversations) > 0
            async with http.get(
                f"{served}/operator/search", params={"q": "Смирнова"}, headers=cookie(admin)
            ) as found:
                assert (await found.json())["clients"] == []
            async with http.get(
                f"{served}/operator/search", params={"q": "пылесоса"}, headers=cookie(admin)
            ) as found:
                assert (await found.json())["messages"] == []

        async with gateway.sessions() as session:
            messages = list(
                await session.scalars(
                    select(Message).where(Message.conversation_id.in_(conversations))
                )
            )
            assert len(messages) == done["messages"] > 5
            assert {(m.text, m.original_text, tuple(m.attachments)) for m in messages} == {
                ("", None, ())
            }
            statuses = await session.scalars(
                select(Conversation.status).where(Conversation.id.in_(conversations))
            )
            assert set(statuses) == {ConversationStatus.CLOSED}  # the figures stay
            identities = list(
                await session.scalars(
                    select(Identity).where(Identity.client_id.in_(done["clients"]))
                )
            )
            assert {i.external_id for i in identities} == {f"forgotten:{i.id}" for i in identities}
            assert {(i.display_name, i.chat_id, i.phone) for i in identities} == {(None,) * 3}
            assert not list(
                await session.scalars(
                    select(KbMiss).where(KbMiss.conversation_id.in_(conversations))
                )
            )
            [entry] = await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "client_forgotten")
            )
            assert entry.actor_id == admin_id and entry.detail["clients"] == done["clients"]
            [merged] = await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "clients_merged")
            )
            assert merged.detail["merged"] == telegram_client  # the fact stays
            assert merged.detail["note"] is None  # the operator's words about her do not
        for client in await client_rows(gateway, done["clients"]):
            assert (client.display_name, client.phone, client.email) == (None, None, None)
        shared, hers = files
        assert shared.read_bytes() == SHARED  # the other visitor's message names it too
        assert not hers.exists()
        left = [p.read_bytes() for p in uploads.rglob("*") if p.is_file()]
        assert left == [SHARED]  # the other visitor's upload; none of hers

        history = await anna.connect()  # the same browser is a stranger now
        assert history["messages"] == []
        other_history = await other.connect()
        assert [m["text"] for m in other_history["messages"] if m["author"] == "client"] == [
            "у меня то же самое"
        ]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, database_url: str, redis_url: str, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("VAR_DIR", str(tmp_path))


@pytest.fixture
async def two_conversations(sessions: SessionFactory) -> int:
    """A VK client with a closed conversation and an open one."""
    async with sessions() as session, session.begin():
        client = Client(display_name="Ольга Ветрова", phone="+79990001122")
        session.add(client)
        await session.flush()
        identity = Identity(client_id=client.id, channel=ChannelKind.VK, external_id="4242")
        session.add(identity)
        await session.flush()
        for status in (ConversationStatus.CLOSED, ConversationStatus.BOT):
            conversation = Conversation(
                client_id=client.id,
                identity_id=identity.id,
                last_identity_id=identity.id,
                last_channel=ChannelKind.VK,
                status=status,
            )
            session.add(conversation)
            await session.flush()
            session.add(
                Message(
                    conversation_id=conversation.id,
                    identity_id=identity.id,
                    channel=ChannelKind.VK,
                    direction="in",
                    author="client",
                    text="мой паспорт 4500 123456",
                )
            )
    return client.id


async def cli(*arguments: str, answer: str | None = None) -> Result:
    """`switchboard clients …` in a thread of its own: it runs its own event loop, as from
    a shell."""
    return await asyncio.to_thread(CliRunner().invoke, app, ["clients", *arguments], input=answer)


async def test_the_cli_forgets_once_the_conversations_are_closed(
    two_conversations: int, env: None, sessions: SessionFactory
) -> None:
    client_id = two_conversations
    asked = await cli("forget", str(client_id), answer="n\n")
    assert asked.exit_code == 1 and "Forget client" in asked.output  # not confirmed
    refused = await cli("forget", str(client_id), "--yes")
    assert refused.exit_code == 1
    assert "Close the client's conversations first" in refused.output
    async with sessions() as session, session.begin():
        for conversation in await session.scalars(select(Conversation)):
            conversation.status = ConversationStatus.CLOSED
    done = await cli("forget", str(client_id), "--yes")
    assert done.exit_code == 0, done.output
    assert f"client #{client_id} forgotten: 2 conversation(s), 2 message(s) erased" in done.output
    async with sessions() as session:
        assert set(await session.scalars(select(Message.text))) == {""}
        client = await session.get(Client, client_id)
        assert client is not None and (client.display_name, client.phone) == (None, None)
    missing = await cli("forget", "999999", "--yes")
    assert missing.exit_code == 1 and "Client #999999 not found." in missing.output
