"""Setting a conversation's category from the web console: the holder corrects the
bot's guess, colleagues watching see it, and the database and its events say so."""

from __future__ import annotations

from sqlalchemy import select
from test_console_transfer import handed_off
from web_client import Console, Visitor, signed_in

from core.models import Conversation, ConversationEvent, EventKind, OperatorRole
from switchboard.app import Gateway


async def test_the_holder_sets_the_category_and_a_watching_colleague_sees_it(
    gateway: Gateway, served: str
) -> None:
    async with (
        Visitor(served) as visitor,
        Console(served, await signed_in(gateway, "Anna"), lang="ru") as anna,
        Console(served, await signed_in(gateway, "Борис"), lang="en") as boris,
    ):
        hello = await anna.ws.expect(lambda f: f["type"] == "hello")
        choice = {c["name"]: c["title"] for c in hello["categories"]}
        assert list(choice) == sorted(gateway.levels.categories)
        assert (choice["fraud"], choice["general"]) == ("Мошенничество", "Общие вопросы")
        conversation_id = await handed_off(gateway, visitor)  # an off-topic question
        taken = await anna.command("take", "conversation", conversation_id=conversation_id)
        assert taken["conversation"]["category"] == gateway.levels.default_category
        await boris.command("open", "conversation", conversation_id=conversation_id)

        since = boris.ws.mark()
        changed = await anna.command(
            "category", "conversation", conversation_id=conversation_id, category="cards"
        )
        assert changed["conversation"]["category"] == "cards"
        seen = await boris.ws.expect(
            lambda f: f["type"] == "conversation" and f.get("live") is True, since=since
        )
        assert seen["conversation"]["category"] == "cards"

        unknown = await anna.command(
            "category", "conversation", conversation_id=conversation_id, category="коты"
        )
        assert (unknown["code"], unknown["key"]) == ("desk", "desk_bad_category")
        assert unknown["error"] == "Нет такой категории: коты."
        not_his = await boris.command(
            "category", "conversation", conversation_id=conversation_id, category="fraud"
        )
        assert (not_his["code"], not_his["key"]) == ("desk", "desk_not_yours")
        bad = await anna.command("category", "conversation", conversation_id=conversation_id)
        assert bad["code"] == "bad_request"

    async with gateway.sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        # The category changed; where it waits and by when it is answered did not.
        assert (conversation.category, conversation.group) == ("cards", "support")
        events = list(
            await session.scalars(
                select(ConversationEvent).where(
                    ConversationEvent.conversation_id == conversation_id,
                    ConversationEvent.kind == EventKind.RECATEGORIZED,
                )
            )
        )
    assert [(e.category, e.data) for e in events] == [
        ("cards", {"previous": gateway.levels.default_category})
    ]


async def test_an_admin_sets_a_closed_conversations_category_its_operator_cannot(
    gateway: Gateway, served: str
) -> None:
    async with (
        Visitor(served) as visitor,
        Console(served, await signed_in(gateway, "Anna"), lang="ru") as anna,
        Console(
            served, await signed_in(gateway, "Ольга", role=OperatorRole.ADMIN), lang="en"
        ) as olga,
    ):
        await anna.ws.expect(lambda f: f["type"] == "hello")
        conversation_id = await handed_off(gateway, visitor)
        await anna.command("take", "conversation", conversation_id=conversation_id)
        await anna.command("close", "conversation", conversation_id=conversation_id)

        late = await anna.command(
            "category", "conversation", conversation_id=conversation_id, category="cards"
        )
        assert (late["code"], late["key"]) == ("desk", "desk_closed")
        fixed = await olga.command(
            "category", "conversation", conversation_id=conversation_id, category="fees"
        )
        assert fixed["conversation"]["status"] == "closed"
        assert fixed["conversation"]["category"] == "fees"
    async with gateway.sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
    assert conversation is not None and conversation.category == "fees"
