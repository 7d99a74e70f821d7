"""Handing a conversation on from the web console, and the operator's presence there: what
the client hears, who holds the conversation, what the queue and the database say, and
who the desk pushes work to."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from pipeline_parts import said
from sqlalchemy import func, select
from waiting import eventually
from web_client import Console, Visitor, signed_in

from admin.signin import SESSION_COOKIE
from core.contracts import ChannelKind
from core.models import (
    Author,
    Conversation,
    ConversationEvent,
    ConversationStatus,
    EventKind,
    Identity,
    Message,
    Operator,
    OperatorRole,
)
from routing.notices import FeedNotifier
from routing.presence import PresenceState
from routing.watcher import SlaWatcher
from switchboard.app import Gateway


async def handed_off(gateway: Gateway, visitor: Visitor) -> int:
    """The visitor asks what the KB cannot answer: the conversation waits for an operator."""
    since = visitor.ws.mark()
    await visitor.say("Почему мой кот боится пылесоса и как его успокоить?")
    await visitor.reply(since=since, containing="очеред")
    [waiting] = await gateway.queue.waiting()
    return waiting.conversation_id


async def operator_id(gateway: Gateway, name: str) -> int:
    async with gateway.sessions() as session:
        found = await session.scalar(select(Operator.id).where(Operator.name == name))
    assert found is not None
    return found


async def test_a_conversation_goes_to_a_colleague_then_to_a_groups_queue(
    gateway: Gateway, served: str
) -> None:
    async with (
        Visitor(served) as visitor,
        Console(served, await signed_in(gateway, "Anna"), lang="en") as anna,
        Console(
            served, await signed_in(gateway, "Борис", groups=["support", "fraud"]), lang="ru"
        ) as boris,
    ):
        for console in (anna, boris):
            hello = await console.ws.expect(lambda f: f["type"] == "hello")
            assert hello["presence"] == "online"  # an open console is someone at the desk
        conversation_id = await handed_off(gateway, visitor)
        await anna.command("take", "conversation", conversation_id=conversation_id)
        boris_id = await operator_id(gateway, "Борис")

        targets = await anna.command("transfer_targets", "transfer_targets")
        assert targets["groups"] == sorted(gateway.levels.groups)
        [colleague] = targets["colleagues"]
        assert colleague == {
            "id": boris_id,
            "name": "Борис",
            "presence": "online",
            "holds": 0,
            "capacity": colleague["capacity"],
            "groups": ["fraud", "support"],
        }

        since = visitor.ws.mark()
        moved = await anna.command(
            "transfer",
            "conversation",
            conversation_id=conversation_id,
            operator_id=boris_id,
            note="клиент спрашивает про кота",
        )
        assert not moved["conversation"]["mine"]
        assert moved["conversation"]["status"] == "assigned"
        told = await visitor.reply(since=since, containing="Борис")
        assert told["text"] == "Вам отвечает оператор Борис."
        mine = await boris.command("queue", "queue", view="mine")
        assert [r["conversation_id"] for r in mine["rows"]] == [conversation_id]
        assert (await anna.command("queue", "queue", view="mine"))["rows"] == []
        held = await boris.command("open", "conversation", conversation_id=conversation_id)
        note = held["conversation"]["messages"][-1]
        assert note["private"] and note["text"] == "клиент спрашивает про кота"
        late = await anna.command(
            "reply", "conversation", conversation_id=conversation_id, text="Я ещё тут"
        )
        assert late["code"] == "desk"  # it is Boris's now

        since = visitor.ws.mark()
        await boris.command(
            "transfer", "conversation", conversation_id=conversation_id, group="fraud"
        )
        assert [e.conversation_id for e in await gateway.queue.waiting("fraud")] == [
            conversation_id
        ]
    async with gateway.sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        assert conversation.status is ConversationStatus.QUEUED
        assert (conversation.group, conversation.assigned_operator_id) == ("fraud", None)
        moves = list(
            await session.scalars(
                select(ConversationEvent.data)
                .where(
                    ConversationEvent.conversation_id == conversation_id,
                    ConversationEvent.kind == EventKind.TRANSFERRED,
                )
                .order_by(ConversationEvent.id)
            )
        )
    assert [(m["to_operator"], m["to_group"]) for m in moves] == [
        (boris_id, "support"),
        (None, "fraud"),
    ]


async def test_a_transfer_that_cannot_be_done_is_refused_and_changes_nothing(
    gateway: Gateway, served: str
) -> None:
    vera = await signed_in(gateway, "Вера")
    async with (
        Visitor(served) as visitor,
        Console(served, await signed_in(gateway, "Anna"), lang="ru") as anna,
    ):
        await anna.ws.expect(lambda f: f["type"] == "hello")
        conversation_id = await handed_off(gateway, visitor)
        bad = await anna.command(
            "transfer", "conversation", conversation_id=conversation_id, group="support"
        )
        assert (
            bad["error"]
            == f"Разговор #{conversation_id} ведёт другой оператор. Сначала возьмите его."
        )
        await anna.command("take", "conversation", conversation_id=conversation_id)
        async with Console(served, vera) as console:  # Vera was at the desk, then signed out
            await console.ws.expect(lambda f: f["type"] == "hello")
        async with aiohttp.ClientSession(cookies={SESSION_COOKIE: vera}) as http:
            async with http.post(served + "/operator/logout", headers={"Origin": served}) as out:
                assert out.status == 200
        vera_id = await operator_id(gateway, "Вера")
        assert (await gateway.desk.presence.get(vera_id)).state is PresenceState.OFFLINE
        anna_id = await operator_id(gateway, "Anna")
        refusals: list[tuple[dict[str, Any], str]] = [
            ({"operator_id": vera_id}, "Оператор Вера сейчас не в сети."),
            ({"operator_id": anna_id}, f"Разговор #{conversation_id} и так у вас."),
            (
                {"group": "nobody-here"},
                "Нет такой группы (или её никто не обслуживает): nobody-here.",
            ),
        ]
        for fields, error in refusals:
            refused = await anna.command(
                "transfer", "conversation", conversation_id=conversation_id, **fields
            )
            assert refused["error"] == error
        malformed: list[dict[str, Any]] = [
            {},
            {"group": "fraud", "operator_id": vera_id},
            {"group": 5},
            {"operator_id": "2"},
            {"group": "fraud", "note": 1},
        ]
        for fields in malformed:
            refused = await anna.command(
                "transfer", "conversation", conversation_id=conversation_id, **fields
            )
            assert refused["code"] == "bad_request"
        mine = await anna.command("queue", "queue", view="mine")
        assert [r["conversation_id"] for r in mine["rows"]] == [conversation_id]
    async with gateway.sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None and conversation.assigned_operator_id == anna_id
        notes = await session.scalars(
            select(Message.id).where(
                Message.conversation_id == conversation_id, Message.private.is_(True)
            )
        )
        assert not notes.all()


@pytest.mark.parametrize("settings", [{"auto_assign": True}], indirect=True)
async def test_presence_is_set_from_the_console_and_decides_who_gets_work(
    gateway: Gateway, served: str
) -> None:
    async with (
        Visitor(served) as visitor,
        Console(served, await signed_in(gateway, "Anna"), lang="en") as anna,
    ):
        await anna.ws.expect(lambda f: f["type"] == "hello")
        anna_id = await operator_id(gateway, "Anna")
        away = await anna.command("presence", "presence", state="away")
        assert away["state"] == "away"
        assert (await gateway.desk.presence.get(anna_id)).state is PresenceState.AWAY
        for wrong in ("offline", "busy", ["online"]):
            refused = await anna.command("presence", "presence", state=wrong)
            assert refused["code"] == "bad_request"

        async with Console(served, await signed_in(gateway, "Борис")) as boris:
            await boris.ws.expect(lambda f: f["type"] == "hello")
            conversation_id = await handed_off_to_someone(gateway, visitor)
            boris_id = await operator_id(gateway, "Борис")
            assert await holder(gateway, conversation_id) == boris_id  # Anna is away
        # Boris closed his console: he is offline at once, and when his lease runs out the
        # conversation is not pushed back to him
        await eventually(lambda: presence_is(gateway, boris_id, PresenceState.OFFLINE), timeout=5)
        watcher = SlaWatcher(gateway.queue, gateway.sessions, FeedNotifier(gateway.feed))
        await watcher.run_once(now=gateway.queue.clock() + gateway.queue.lease * 2)
        assert await holder(gateway, conversation_id) is None
        since = visitor.ws.mark()
        back = await anna.command("presence", "presence", state="online")
        assert back["state"] == "online"
        assert await holder(gateway, conversation_id) == anna_id
        await visitor.reply(since=since, containing="Anna")

    # her console closed: offline; opened again: online; away is her choice and outlasts it
    await eventually(lambda: presence_is(gateway, anna_id, PresenceState.OFFLINE), timeout=5)
    async with Console(served, await signed_in(gateway, "Anna"), lang="en") as anna:
        assert (await anna.ws.expect(lambda f: f["type"] == "hello"))["presence"] == "online"
        await anna.command("presence", "presence", state="away")
    async with Console(served, await signed_in(gateway, "Anna"), lang="en") as anna:
        hello = await anna.ws.expect(lambda f: f["type"] == "hello")
        assert hello["presence"] == "away"


async def handed_off_to_someone(gateway: Gateway, visitor: Visitor) -> int:
    since = visitor.ws.mark()
    await visitor.say("Почему мой кот боится пылесоса и как его успокоить?")
    await visitor.reply(since=since, author="bot")
    async with gateway.sessions() as session:
        return int(await session.scalar(select(func.max(Conversation.id))) or 0)


async def holder(gateway: Gateway, conversation_id: int) -> int | None:
    async with gateway.sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        return conversation.assigned_operator_id


async def presence_is(gateway: Gateway, operator_id: int, state: PresenceState) -> bool:
    return (await gateway.desk.presence.get(operator_id)).state is state


async def test_a_reply_goes_through_another_channel_the_client_wrote_from(
    gateway: Gateway, served: str
) -> None:
    """Olga wrote a letter, then (as the same person, merged by an admin) opened the web
    chat: the operator answers the letter's conversation in the web chat."""
    await gateway.engine.handle(
        said(
            "Прошу вернуть платёж, нужен оператор",
            visitor="olga@example.ru",
            channel=ChannelKind.EMAIL,
            display_name="Ольга Ким",
            subject="Возврат платежа",
        )
    )
    async with (
        Visitor(served) as visitor,
        Console(served, await signed_in(gateway, "Anna", role=OperatorRole.ADMIN)) as anna,
    ):
        await anna.ws.expect(lambda f: f["type"] == "hello")
        since = visitor.ws.mark()
        await visitor.say("Я потеряла карту, что делать?")
        await visitor.reply(since=since, author="bot")
        [letter] = await gateway.queue.waiting()
        async with gateway.sessions() as session:
            web_client = await session.scalar(
                select(Identity.client_id).where(Identity.channel == ChannelKind.WEB)
            )
        assert web_client is not None
        anna_id = await operator_id(gateway, "Anna")
        await gateway.desk.merging.merge(anna_id, letter.conversation_id, web_client, "она же")

        taken = await anna.command("take", "conversation", conversation_id=letter.conversation_id)
        assert taken["conversation"]["channel"] == "email"
        assert taken["conversation"]["reachable"] == ["web", "email"]  # latest first
        since = visitor.ws.mark()
        await anna.command(
            "reply",
            "conversation",
            conversation_id=letter.conversation_id,
            text="Ольга, платёж вернём завтра",
            via="web",
        )
        told = await visitor.reply(since=since, author="operator")
        assert told["text"] == "Ольга, платёж вернём завтра"
        for via, code in [("vk", "desk"), ("fax", "bad_request"), (["web"], "bad_request")]:
            refused = await anna.command(
                "reply", "conversation", conversation_id=letter.conversation_id, text="?", via=via
            )
            assert refused["code"] == code
    async with gateway.sessions() as session:
        sent = list(
            await session.scalars(
                select(Message.channel).where(
                    Message.conversation_id == letter.conversation_id,
                    Message.author == Author.OPERATOR,
                )
            )
        )
    assert sent == [ChannelKind.WEB]


async def test_the_visitor_sees_the_operator_typing(gateway: Gateway, served: str) -> None:
    async with (
        Visitor(served) as visitor,
        Console(served, await signed_in(gateway, "Anna")) as anna,
        Console(served, await signed_in(gateway, "Борис")) as boris,
    ):
        await anna.ws.expect(lambda f: f["type"] == "hello")
        conversation_id = await handed_off(gateway, visitor)
        await anna.command("take", "conversation", conversation_id=conversation_id)
        since = visitor.ws.mark()
        await anna.ws.send({"cmd": "typing", "conversation_id": conversation_id})
        shown = await visitor.ws.expect(lambda f: f["type"] == "typing", since=since)
        assert shown["author"] == "operator"
        meddling = await boris.command("typing", "typing", conversation_id=conversation_id)
        assert meddling["code"] == "desk"  # not his conversation: the client sees nothing
        await anna.command("reply", "conversation", conversation_id=conversation_id, text="Да?")
        await visitor.reply(since=since, author="operator")
    assert [f for f in visitor.ws.frames[since:] if f["type"] == "typing"] == [shown]
