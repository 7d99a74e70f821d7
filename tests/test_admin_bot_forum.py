"""The operators' group. Forum mode: one topic per conversation; the card is posted in the
conversation's topic, whatever an operator writes there goes to the client, the client's
messages come back into it, and a topic deleted by an operator is made again. Plain group:
cards go to the group, and the work goes on in the private chat of whoever took it."""

from __future__ import annotations

import pytest
from admin_bot_world import ADMIN_TOKEN, World, admin_telegram, eventually, settings, world
from fake_telegram_forum import ForumTelegram
from pydantic import SecretStr

from core.contracts import ChannelKind
from core.models import ConversationStatus
from switchboard.settings import AdminBotSettings

__all__ = ["admin_bot_settings", "admin_telegram", "settings", "world"]

GROUP = -1001234567
TG_USER, ANNA, STRANGER = 3003, 501, 999


@pytest.fixture
def admin_bot_settings(
    admin_telegram: ForumTelegram, request: pytest.FixtureRequest
) -> AdminBotSettings:
    """The operators' group; a forum unless a test asks for a plain group (param False)."""
    return AdminBotSettings(
        token=SecretStr(ADMIN_TOKEN),
        api_base=admin_telegram.base_url,
        chat_id=GROUP,
        forum=getattr(request, "param", True),
        poll_timeout=1,
    )


async def test_topic_per_conversation_both_ways_and_recreated_when_deleted(world: World) -> None:
    anna = await world.operator("Анна", ANNA, online=False)
    admin, telegram = world.admin, world.telegram
    telegram.client_message(TG_USER, "Позовите оператора, пожалуйста")
    await eventually(lambda: bool(admin.topics))
    [(thread, (chat, name))] = admin.topics.items()
    conversation = await world.conversation(ChannelKind.TELEGRAM)
    assert chat == GROUP and name.startswith(f"#{conversation.id} ")
    await eventually(lambda: any(t.startswith("🆕") for t in admin.in_topic(GROUP, thread)))
    assert world.cards(ANNA) == []  # nothing in private chats in forum mode

    # a stranger in the group writes in the topic: nothing reaches the client
    before = len(telegram.texts_to(TG_USER))
    admin.group_message(GROUP, STRANGER, "я не оператор", thread_id=thread)
    # the operator writes in the topic: the conversation is taken and the client gets it
    admin.group_message(GROUP, ANNA, "Здравствуйте! Помогу с картой.", thread_id=thread)
    await eventually(lambda: "Здравствуйте! Помогу с картой." in telegram.texts_to(TG_USER))
    assert "я не оператор" not in telegram.texts_to(TG_USER)[before:]
    taken = await world.reload(conversation.id)
    assert taken.status is ConversationStatus.ASSIGNED and taken.assigned_operator_id == anna.id
    await eventually(lambda: any("Взял(а) Анна" in t for t in admin.in_topic(GROUP, thread)))

    # the client's answer comes back into the topic
    telegram.client_message(TG_USER, "Спасибо, карта заблокирована?")
    await eventually(
        lambda: any("карта заблокирована?" in t for t in admin.in_topic(GROUP, thread))
    )

    # an operator deleted the topic: the next message opens a new one, which works both ways
    admin.delete_topic(GROUP, thread)
    telegram.client_message(TG_USER, "Ещё вопрос про лимиты")
    await eventually(lambda: len(admin.topics) == 2)
    new_thread = max(admin.topics)
    await eventually(lambda: any("лимиты" in t for t in admin.in_topic(GROUP, new_thread)))
    admin.group_message(GROUP, ANNA, "Лимиты можно поменять в приложении.", thread_id=new_thread)
    await eventually(lambda: "Лимиты можно поменять в приложении." in telegram.texts_to(TG_USER))

    # commands work in the topic too: close asks the client for a rating
    admin.group_message(GROUP, ANNA, "/close", thread_id=new_thread)
    await eventually(lambda: any("Оцените" in t for t in telegram.texts_to(TG_USER)))
    assert (await world.reload(conversation.id)).status is ConversationStatus.CLOSED


@pytest.mark.parametrize("admin_bot_settings", [False], indirect=True)
async def test_plain_group_gets_cards_and_the_taker_works_in_private(world: World) -> None:
    anna = await world.operator("Анна", ANNA, online=False)
    admin, telegram = world.admin, world.telegram
    telegram.client_message(TG_USER, "Позовите оператора, пожалуйста")
    await eventually(lambda: bool(world.cards(GROUP)))
    card = world.cards(GROUP)[0]
    assert not admin.topics
    admin.group_message(GROUP, ANNA, "коллеги, кто возьмёт?")  # chatter stays in the group
    admin.client_press(
        ANNA,
        card["reply_markup"]["inline_keyboard"][0][0]["callback_data"],
        message_id=card["message_id"],
    )
    await eventually(
        lambda: any(t.startswith("💬 Активный разговор") for t in world.admin_texts(ANNA))
    )
    await eventually(lambda: "Взял(а) Анна" in card["text"])
    assert (
        await world.reload((await world.conversation(ChannelKind.TELEGRAM)).id)
    ).assigned_operator_id == anna.id
    admin.client_message(ANNA, "Здравствуйте, это Анна")
    await eventually(lambda: "Здравствуйте, это Анна" in telegram.texts_to(TG_USER))
    assert not any("кто возьмёт" in t for t in telegram.texts_to(TG_USER))
