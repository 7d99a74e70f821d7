"""The operators' admin bot through the real gateway: aiogram polling a local Bot API
server, clients writing through a second Telegram bot and a VK community, real Redis and
database. Assertions are on what each chat received and what the database holds."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import aiohttp
from admin_bot_world import World, admin_bot_settings, admin_telegram, eventually, settings, world
from sqlalchemy import select

from core.contracts import ChannelKind
from core.models import (
    AuditEntry,
    ConversationStatus,
    Delivery,
    KbArticle,
    Message,
    Operator,
    OperatorRole,
)
from routing.presence import PresenceState
from routing.watcher import SlaWatcher

__all__ = ["admin_bot_settings", "admin_telegram", "settings", "world"]

TG_USER, VK_USER = 3003, 6006
ANNA, BORIS, STRANGER = 501, 502, 999


async def handed_off_in_telegram(world: World, text: str = "Позовите оператора, пожалуйста") -> int:
    world.telegram.client_message(TG_USER, text)
    await eventually(lambda: bool(world.telegram.texts_to(TG_USER)))
    conversation = await world.conversation(ChannelKind.TELEGRAM)
    assert conversation.status is ConversationStatus.QUEUED
    return conversation.id


async def test_a_stranger_is_refused_politely_and_sees_nothing(world: World) -> None:
    await world.operator("Анна", ANNA)
    conversation_id = await handed_off_in_telegram(world, "Позовите оператора, карта Ивана Петрова")
    await eventually(lambda: bool(world.cards(ANNA)))
    admin = world.admin
    for text in (
        "/start",
        "/queue",
        "/next",
        f"/take {conversation_id}",
        "/start WRONGCODE",
        "привет",
    ):
        admin.client_message(
            STRANGER, text, sender=admin.user(STRANGER, first_name="Eve", language_code="en")
        )
    admin.client_press(STRANGER, f"take:{conversation_id}", message_id=1)
    await eventually(lambda: len(admin.texts_to(STRANGER)) >= 6 and bool(admin.callback_answers))
    seen = admin.texts_to(STRANGER)
    assert all("operators only" in t or "invite code is wrong" in t for t in seen), seen
    assert not any("Петров" in t or f"#{conversation_id}" in t or "Анна" in t for t in seen)
    assert admin.callback_answers[0]["show_alert"] is True
    assert "только для операторов" in admin.callback_answers[0]["text"]  # the press came in Russian
    conversation = await world.reload(conversation_id)
    assert (
        conversation.status is ConversationStatus.QUEUED
        and conversation.assigned_operator_id is None
    )


async def test_an_invite_code_links_the_telegram_account_once(world: World) -> None:
    gateway = world.gateway
    assert gateway.admin_bot is not None
    operator = await gateway.desk.operators.register("Вера", groups=("support",))
    code = await gateway.admin_bot.invites.issue(operator.id)
    world.admin.client_message(ANNA, f"/start {code}")
    await eventually(lambda: any("Вера" in t for t in world.admin_texts(ANNA)))
    async with gateway.sessions() as session:
        linked = await session.get(Operator, operator.id)
    assert linked is not None and linked.telegram_user_id == ANNA
    world.admin.client_message(BORIS, f"/start {code}")  # the code is used up
    await eventually(lambda: bool(world.admin_texts(BORIS)))
    assert "неверный или уже использован" in world.admin_texts(BORIS)[0]
    # the linked operator now gets cards for new requests, and the queue
    conversation_id = await handed_off_in_telegram(world)
    await eventually(lambda: bool(world.cards(ANNA)))
    world.admin.client_message(ANNA, "/queue")
    await eventually(lambda: any(t.startswith("Очередь") for t in world.admin_texts(ANNA)))
    queue_text = next(t for t in world.admin_texts(ANNA) if t.startswith("Очередь"))
    assert f"#{conversation_id}" in queue_text


async def test_two_operators_press_take_on_one_card_one_wins(world: World) -> None:
    anna = await world.operator("Анна", ANNA)
    boris = await world.operator("Борис", BORIS)
    conversation_id = await handed_off_in_telegram(world)
    await eventually(lambda: bool(world.cards(ANNA)) and bool(world.cards(BORIS)))
    anna_card, boris_card = world.cards(ANNA)[0], world.cards(BORIS)[0]
    assert f"#{conversation_id}" in anna_card["text"] and "Позовите оператора" in anna_card["text"]
    world.press(ANNA, anna_card, "take:")
    world.press(BORIS, boris_card, "take:")
    await eventually(lambda: len(world.admin.callback_answers) == 2)
    conversation = await world.reload(conversation_id)
    assert conversation.status is ConversationStatus.ASSIGNED
    winner, loser = (ANNA, BORIS) if conversation.assigned_operator_id == anna.id else (BORIS, ANNA)
    winner_name = "Анна" if winner == ANNA else "Борис"
    assert conversation.assigned_operator_id in (anna.id, boris.id)
    await eventually(
        lambda: any(t.startswith("💬 Активный разговор") for t in world.admin_texts(winner))
    )
    assert not any(t.startswith("💬 Активный разговор") for t in world.admin_texts(loser))
    refusal = next(a for a in world.admin.callback_answers if a.get("show_alert"))
    assert f"уже взял(а) {winner_name}" in refusal["text"]
    await eventually(lambda: any("уже взял(а)" in t for t in world.admin_texts(loser)))
    # both copies of the card now say who took it, without buttons
    await eventually(
        lambda: all(f"Взял(а) {winner_name}" in c["text"] for c in (anna_card, boris_card))
    )
    assert "reply_markup" not in anna_card or not anna_card["reply_markup"].get("inline_keyboard")
    assert boris.id != anna.id


async def test_reply_reaches_a_vk_client_and_close_asks_for_a_rating(world: World) -> None:
    await world.operator("Анна", ANNA)
    world.vk.client_message(VK_USER, "Хочу поговорить с оператором")
    await eventually(lambda: bool(world.cards(ANNA)))
    world.admin.client_message(ANNA, "/next")
    await eventually(
        lambda: any(t.startswith("💬 Активный разговор") for t in world.admin_texts(ANNA))
    )
    world.admin.client_message(ANNA, "Здравствуйте! Я Анна, смотрю ваш вопрос.")
    await eventually(
        lambda: "Здравствуйте! Я Анна, смотрю ваш вопрос." in world.vk.texts_to(VK_USER)
    )
    # the client's next message reaches the operator's chat
    world.vk.client_message(VK_USER, "Спасибо, жду ответа про перевод")
    await eventually(
        lambda: any("Спасибо, жду ответа про перевод" in t for t in world.admin_texts(ANNA))
    )
    relayed = next(t for t in world.admin_texts(ANNA) if "Спасибо, жду" in t)
    assert "(vk)" in relayed
    # who the client is, and everything said in every channel
    world.admin.client_message(ANNA, "/client")
    world.admin.client_message(ANNA, "/history")
    await eventually(lambda: any(t.startswith("История клиента") for t in world.admin_texts(ANNA)))
    card = next(t for t in world.admin_texts(ANNA) if t.startswith("👤 Клиент"))
    assert "vk:" in card
    history = next(t for t in world.admin_texts(ANNA) if t.startswith("История клиента"))
    assert "Хочу поговорить с оператором" in history and "Я Анна" in history and " vk] " in history
    # close: the rating request goes to VK with buttons; the client's press is stored
    conversation = await world.conversation(ChannelKind.VK)
    world.admin.client_message(ANNA, "/close")
    await eventually(
        lambda: any(
            m["keyboard"]
            for m in world.vk.sent
            if m["peer_id"] == VK_USER and "Оцените" in m["message"]
        )
    )
    ask = next(m for m in world.vk.sent if m["peer_id"] == VK_USER and "Оцените" in m["message"])
    buttons = [b for row in ask["keyboard"]["buttons"] for b in row]
    assert len(buttons) == 5
    world.vk.client_press(
        VK_USER,
        json.loads(buttons[3]["action"]["payload"]),
        conversation_message_id=ask["conversation_message_id"],
    )

    async def rated() -> bool:
        return (await world.reload(conversation.id)).rating == 4

    await eventually(rated)
    assert (await world.reload(conversation.id)).status is ConversationStatus.CLOSED
    await eventually(
        lambda: any(
            t.startswith(f"Разговор #{conversation.id} закрыт") for t in world.admin_texts(ANNA)
        )
    )


async def test_transfer_to_a_colleague_then_to_a_group(world: World) -> None:
    anna = await world.operator("Анна", ANNA)
    boris = await world.operator("Борис", BORIS, groups=("support", "fraud"))
    conversation_id = await handed_off_in_telegram(world)
    await eventually(lambda: bool(world.cards(ANNA)))
    world.admin.client_message(ANNA, f"/take {conversation_id}")
    await eventually(lambda: any(t.startswith("💬 Активный") for t in world.admin_texts(ANNA)))
    await eventually(lambda: "Вам отвечает оператор Анна." in world.telegram.texts_to(TG_USER))
    world.admin.client_message(ANNA, "/transfer Борис клиент спрашивает про кредит")
    await eventually(lambda: any(t.startswith("📨") for t in world.admin_texts(BORIS)))
    told = next(t for t in world.admin_texts(BORIS) if t.startswith("📨"))
    assert (
        "Анна" in told and "клиент спрашивает про кредит" in told and f"#{conversation_id}" in told
    )
    conversation = await world.reload(conversation_id)
    assert conversation.assigned_operator_id == boris.id
    async with world.gateway.sessions() as session:
        notes = list(
            await session.scalars(
                select(Message.text).where(
                    Message.conversation_id == conversation_id, Message.private.is_(True)
                )
            )
        )
    assert notes == ["клиент спрашивает про кредит"]
    await eventually(lambda: "Вам отвечает оператор Борис." in world.telegram.texts_to(TG_USER))
    # Boris's plain message goes to the client: the transferred conversation is his active one
    world.admin.client_message(BORIS, "Здравствуйте, это Борис")
    await eventually(lambda: "Здравствуйте, это Борис" in world.telegram.texts_to(TG_USER))
    cards_before = len(world.cards(BORIS))
    world.admin.client_message(BORIS, "/transfer fraud проверьте операцию")
    await eventually(lambda: any("передан в группу fraud" in t for t in world.admin_texts(BORIS)))
    conversation = await world.reload(conversation_id)
    assert conversation.status is ConversationStatus.QUEUED and conversation.group == "fraud"
    assert [e.conversation_id for e in await world.gateway.queue.waiting("fraud")] == [
        conversation_id
    ]
    await eventually(lambda: len(world.cards(BORIS)) == cards_before + 1)  # he serves fraud
    assert anna.id != boris.id and not any("fraud" in c["text"] for c in world.cards(ANNA))


async def test_the_holder_sets_the_category_from_the_ones_the_desk_defines(world: World) -> None:
    await world.operator("Анна", ANNA)
    conversation_id = await handed_off_in_telegram(world, "Почему мой кот боится пылесоса?")
    await eventually(lambda: bool(world.cards(ANNA)))
    assert (await world.reload(conversation_id)).category == "general"  # the desk's default
    assert "Категория: Общие вопросы ·" in world.cards(ANNA)[0]["text"]  # its title, not name
    world.admin.client_message(ANNA, f"/take {conversation_id}")
    await eventually(lambda: any(t.startswith("💬 Активный") for t in world.admin_texts(ANNA)))
    world.admin.client_message(ANNA, "/category")
    await eventually(lambda: any(t.startswith("Так: /category") for t in world.admin_texts(ANNA)))
    usage = next(t for t in world.admin_texts(ANNA) if t.startswith("Так: /category"))
    assert usage.splitlines()[1:] == [
        f"{name} — {world.gateway.levels.title(name, 'ru')}"
        for name in sorted(world.gateway.levels.categories)
    ]
    assert "fraud — Мошенничество" in usage
    world.admin.client_message(ANNA, "/category коты")
    await eventually(lambda: "Нет такой категории: коты." in world.admin_texts(ANNA))
    world.admin.client_message(ANNA, "/category fraud")
    await eventually(
        lambda: f"Категория #{conversation_id}: Мошенничество." in world.admin_texts(ANNA)
    )
    conversation = await world.reload(conversation_id)
    assert (conversation.category, conversation.group) == ("fraud", "support")
    assert conversation.assigned_operator_id is not None  # still hers, where it was


async def test_a_note_naming_a_colleague_reaches_their_admin_chat(world: World) -> None:
    await world.operator("Анна", ANNA)
    await world.operator("Борис", BORIS, online=False)  # told all the same: it is for him
    conversation_id = await handed_off_in_telegram(world)
    world.admin.client_message(ANNA, f"/take {conversation_id}")
    await eventually(lambda: any(t.startswith("💬 Активный") for t in world.admin_texts(ANNA)))
    world.admin.client_message(ANNA, "/note @Борис клиент просит перезвонить")
    told = f"💬 Анна упоминает вас в разговоре #{conversation_id}: @Борис клиент просит перезвонить"
    await eventually(lambda: told in world.admin_texts(BORIS))
    assert not any("упоминает" in t for t in world.admin_texts(ANNA))  # not the writer


async def test_photo_reply_kb_article_button_and_saving_a_reply(world: World) -> None:
    await world.operator("Анна", ANNA)
    await handed_off_in_telegram(world, "Позовите оператора, карту не могу найти")
    await eventually(lambda: bool(world.cards(ANNA)))
    world.admin.client_message(ANNA, "/next")
    await eventually(lambda: any(t.startswith("💬 Активный") for t in world.admin_texts(ANNA)))
    # the conversation comes with the KB's suggestions, as buttons that send an article
    opened = next(
        m
        for m in world.admin.sent
        if m["chat"]["id"] == ANNA and m.get("text", "").startswith("💬 Активный")
    )
    offered = [b["callback_data"] for row in opened["reply_markup"]["inline_keyboard"] for b in row]
    assert offered and offered[0].endswith(":card-lost")
    # a photo from the operator reaches the client's bot as an upload of the same bytes
    world.admin.client_photo(
        ANNA, caption="Вот где это в приложении", content=b"\xff\xd8" + b"x" * 500
    )
    await eventually(lambda: bool(world.telegram.calls_of("sendPhoto")))
    assert any(content == b"\xff\xd8" + b"x" * 500 for _, content in world.telegram.files.values())
    async with world.gateway.sessions() as session:  # kept as a client's file is: private
        [kept] = [
            Path(a["stored_path"])
            for m in await session.scalars(select(Message).where(Message.operator_id.is_not(None)))
            for a in m.attachments or ()
        ]
    assert kept.read_bytes() == b"\xff\xd8" + b"x" * 500 and kept.stat().st_mode & 0o777 == 0o600
    assert any(
        m.get("caption") == "Вот где это в приложении"
        or m.get("text") == "Вот где это в приложении"
        for m in world.telegram.sent
    )
    # KB search; the button sends the article to the client
    world.admin.client_message(ANNA, "/kb потерял карту")
    await eventually(lambda: any(t.startswith("Нашлось") for t in world.admin_texts(ANNA)))
    found = next(
        m
        for m in world.admin.sent
        if m["chat"]["id"] == ANNA and m.get("text", "").startswith("Нашлось")
    )
    before = len(world.telegram.texts_to(TG_USER))
    world.press(ANNA, found, "article:")
    await eventually(lambda: len(world.telegram.texts_to(TG_USER)) > before)
    assert "заблокируйте карту" in world.telegram.texts_to(TG_USER)[-1].lower()
    # the operator's own reply is kept in the KB as a new article answering the question
    world.admin.client_message(ANNA, "Перевыпустить карту можно в приложении: Карты → Перевыпуск.")
    await eventually(lambda: any("Перевыпуск" in t for t in world.telegram.texts_to(TG_USER)))
    world.admin.client_message(ANNA, "/save")
    await eventually(lambda: any("сохранён в базе знаний" in t for t in world.admin_texts(ANNA)))
    async with world.gateway.sessions() as session:
        article = await session.scalar(select(KbArticle).where(KbArticle.id.like("operator-%")))
        assert article is not None
        assert article.answer.startswith("Перевыпустить карту")
        assert [v.text for v in article.variants] == ["Позовите оператора, карту не могу найти"]


async def test_a_clients_files_follow_to_the_holder_past_one_not_kept_here(world: World) -> None:
    await world.operator("Анна", ANNA)
    conversation_id = await handed_off_in_telegram(world)
    await eventually(lambda: bool(world.cards(ANNA)))
    world.admin.client_message(ANNA, "/next")
    await eventually(lambda: any(t.startswith("💬 Активный") for t in world.admin_texts(ANNA)))
    statement = b"%PDF-1.4 statement"
    sent = world.telegram.client_document(TG_USER, "выписка.pdf", statement, "application/pdf")

    def documents_to_anna() -> list[bytes]:
        return [
            world.admin.files[m["document"]["file_id"]][1]
            for m in world.admin.sent
            if m["chat"]["id"] == ANNA and "document" in m
        ]

    await eventually(lambda: documents_to_anna() == [statement])
    assert any("выписка.pdf" in t for t in world.admin_texts(ANNA))  # named with the message
    # Before it, a file this process cannot read (erased since, or kept in another
    # machine's VAR_DIR): the client's edit passes the message on again, naming both.
    async with world.gateway.sessions() as session:
        [message] = [
            m
            for m in await session.scalars(
                select(Message).where(Message.conversation_id == conversation_id)
            )
            if m.attachments
        ]
        lost = {"kind": "document", "name": "договор.pdf", "stored_path": "/nowhere/договор"}
        message.attachments = [lost, *message.attachments]
        await session.commit()
    world.telegram.client_edit(TG_USER, sent["message_id"], "выписка и договор")
    await eventually(lambda: documents_to_anna() == [statement, statement])
    edited = next(t for t in world.admin_texts(ANNA) if "выписка и договор" in t)
    assert "договор.pdf" in edited and "выписка.pdf" in edited


async def test_a_file_too_big_for_a_bot_is_refused_with_the_reason_and_nothing_sent(
    world: World,
) -> None:
    await world.operator("Анна", ANNA)
    await handed_off_in_telegram(world)
    await eventually(lambda: bool(world.cards(ANNA)))
    world.admin.client_message(ANNA, "/next")
    await eventually(
        lambda: any("Вам отвечает оператор" in t for t in world.telegram.texts_to(TG_USER))
    )
    to_client = len(world.telegram.sent)
    video = b"v" * (20 * 1024 * 1024 + 1)  # over the Bot API's 20 MB download limit
    world.admin.client_document(ANNA, "запись экрана.mp4", video, "video/mp4")
    await eventually(
        lambda: any("«запись экрана.mp4» больше 20 МБ" in t for t in world.admin_texts(ANNA))
    )
    world.admin.client_message(ANNA, "Пришлю ссылкой")  # the chat goes on
    await eventually(lambda: "Пришлю ссылкой" in world.telegram.texts_to(TG_USER))
    assert len(world.telegram.sent) == to_client + 1  # the file sent nothing


async def test_an_undelivered_reply_is_reported_with_why_and_sent_again_on_a_press(
    world: World,
) -> None:
    await world.operator("Анна", ANNA)
    conversation_id = await handed_off_in_telegram(world)
    await eventually(lambda: bool(world.cards(ANNA)))
    world.admin.client_message(ANNA, "/next")
    await eventually(
        lambda: any("Вам отвечает оператор" in t for t in world.telegram.texts_to(TG_USER))
    )
    world.telegram.blocked.add(TG_USER)  # the client blocked the bot meanwhile
    world.admin.client_message(ANNA, "Карта перевыпущена")
    why = "не доставлено — клиент не может его получить: бот заблокирован"
    await eventually(
        lambda: any(f"#{conversation_id}" in t and why in t for t in world.admin_texts(ANNA))
    )
    notice = next(m for m in world.admin.sent if why in m.get("text", ""))
    assert "Forbidden: bot was blocked by the user" in notice["text"]  # the platform's words
    assert "Карта перевыпущена" not in world.telegram.texts_to(TG_USER)
    # The client unblocks the bot: Send again delivers the same message, once.
    world.telegram.blocked.discard(TG_USER)
    [again] = [b["callback_data"] for row in notice["reply_markup"]["inline_keyboard"] for b in row]
    world.admin.client_press(ANNA, again, message_id=notice["message_id"])
    await eventually(lambda: "Карта перевыпущена" in world.telegram.texts_to(TG_USER))
    await eventually(
        lambda: any("отправлено ещё раз" in a.get("text", "") for a in world.admin.callback_answers)
    )

    async def reply_sent() -> bool:  # the client has it a moment before the row says so
        async with world.gateway.sessions() as session:
            [reply] = await session.scalars(
                select(Message).where(Message.text == "Карта перевыпущена")
            )
        return reply.delivery is Delivery.SENT and reply.delivery_fault is None

    await eventually(reply_sent, what="the resent reply stored as sent, with no fault")
    await eventually(lambda: not notice["reply_markup"]["inline_keyboard"])  # the button went
    assert "🔁 Сообщение в" in notice["text"]
    world.admin.client_press(ANNA, again, message_id=notice["message_id"])  # a double tap
    await eventually(
        lambda: any(
            "не ждёт повторной отправки" in a.get("text", "") for a in world.admin.callback_answers
        )
    )
    assert world.telegram.texts_to(TG_USER).count("Карта перевыпущена") == 1


async def test_admins_hear_once_that_a_channel_refuses_the_gateways_replies(
    world: World,
) -> None:
    """A revoked bot token fails every reply for the same reason: the admins, who fix it,
    hear it at the first failure (not at the replies' deadline) and once, not per reply;
    an operator is not told."""
    await world.operator("Анна", ANNA, role=OperatorRole.ADMIN)
    await world.operator("Борис", BORIS)
    world.telegram.fail("sendMessage", status=401, description="Unauthorized", times=2)
    for user in (TG_USER, TG_USER + 1):  # two clients: two replies fail
        world.telegram.client_message(user, "Как заблокировать карту?")

    async def both_wait_for_a_retry() -> bool:
        async with world.gateway.sessions() as session:
            waiting = await session.scalars(select(Message).where(Message.attempts == 1))
            return len(list(waiting)) == 2

    await eventually(both_wait_for_a_retry)
    alarm = "🛠 Канал «telegram» не принимает ответы клиентам"
    await eventually(lambda: any(alarm in t for t in world.admin_texts(ANNA)))
    await asyncio.sleep(0.5)  # the second failure's notice, handled by now
    assert [t for t in world.admin_texts(ANNA) if alarm in t][0].endswith("Unauthorized")
    assert sum(alarm in t for t in world.admin_texts(ANNA)) == 1
    assert not any(alarm in t for t in world.admin_texts(BORIS))


async def a_conversation_rated(world: World, stars: int) -> int:
    """The Telegram client asks for a person, Анна takes and closes the conversation, and
    the client presses `stars` under the rating request. Returns the conversation's id."""
    told = len(world.telegram.texts_to(TG_USER))
    world.telegram.client_message(TG_USER, "Позовите оператора, пожалуйста")
    await eventually(lambda: len(world.telegram.texts_to(TG_USER)) > told)
    conversation_id = (await world.conversation(ChannelKind.TELEGRAM)).id
    world.admin.client_message(ANNA, f"/take {conversation_id}")
    await eventually(
        lambda: "Вам отвечает оператор" in " ".join(world.telegram.texts_to(TG_USER)[-1:])
    )
    world.admin.client_message(ANNA, "/close")
    ask = await eventually(
        lambda: next(
            (
                m
                for m in world.telegram.sent
                if "Оцените" in m.get("text", "") and f"{conversation_id}:" in json.dumps(m)
            ),
            None,
        )
    )
    assert ask is not None  # the first truthy result
    buttons = ask["reply_markup"]["inline_keyboard"][0]
    world.telegram.client_press(
        TG_USER, buttons[stars - 1]["callback_data"], message_id=ask["message_id"]
    )
    await eventually(lambda: "Спасибо за оценку!" in world.telegram.texts_to(TG_USER)[-1:])
    return conversation_id


async def test_the_operator_hears_each_rating_and_the_admins_a_low_one(world: World) -> None:
    await world.operator("Анна", ANNA)
    await world.operator("Борис", BORIS, role=OperatorRole.ADMIN, online=False)
    good = await a_conversation_rated(world, 5)
    bad = await a_conversation_rated(world, 1)
    await eventually(lambda: any(t.startswith("⚠️ Низкая оценка") for t in world.admin_texts(BORIS)))
    low = (
        f"⚠️ Низкая оценка: клиент оценил разговор #{bad} на 1/5 (оператор Анна). "
        "Возможно, стоит связаться с клиентом."
    )
    ratings = {
        reader: [t for t in world.admin_texts(reader) if t.startswith(("⭐", "⚠️"))]
        for reader in (ANNA, BORIS)
    }
    assert ratings[ANNA] == [f"⭐ Клиент оценил разговор #{good}: 5/5.", low]
    assert ratings[BORIS] == [low]  # the admin: the low one only


async def test_sla_warning_and_an_expired_lease_are_posted(world: World) -> None:
    gateway = world.gateway
    assert gateway.admin_bot is not None
    await world.operator("Анна", ANNA)
    conversation_id = await handed_off_in_telegram(world)
    await eventually(lambda: len(world.cards(ANNA)) == 1)
    conversation = await world.reload(conversation_id)
    assert conversation.sla_deadline is not None
    watcher = SlaWatcher(gateway.queue, gateway.sessions, gateway.admin_bot.notifier)
    await watcher.run_once(now=conversation.sla_deadline - dt.timedelta(minutes=5))
    await eventually(
        lambda: any(t.startswith(f"⏰ #{conversation_id}") for t in world.admin_texts(ANNA))
    )
    world.admin.client_message(ANNA, f"/take {conversation_id}")
    await eventually(lambda: any(t.startswith("💬 Активный") for t in world.admin_texts(ANNA)))
    later = gateway.queue.clock() + gateway.queue.lease * 2
    await watcher.run_once(now=later)
    await eventually(
        lambda: any(t.startswith(f"↩️ #{conversation_id}") for t in world.admin_texts(ANNA))
    )
    await eventually(lambda: len(world.cards(ANNA)) == 2)  # a fresh card to take it again
    assert (await world.reload(conversation_id)).status is ConversationStatus.QUEUED


async def test_away_stops_new_cards_and_online_resumes_them(world: World) -> None:
    await world.operator("Анна", ANNA)
    world.admin.client_message(ANNA, "/away")
    await eventually(lambda: any(t.startswith("Статус: отош") for t in world.admin_texts(ANNA)))
    await handed_off_in_telegram(world)
    world.vk.client_message(VK_USER, "оператора позовите")
    await eventually(lambda: bool(world.vk.texts_to(VK_USER)))
    await world.gateway.outbox.drain()
    assert world.cards(ANNA) == []
    world.admin.client_message(ANNA, "/online")
    await eventually(lambda: any(t.startswith("Статус: в сети") for t in world.admin_texts(ANNA)))
    world.admin.client_message(ANNA, "/queue")
    await eventually(
        lambda: any(t.startswith("Очередь — ждут: 2") for t in world.admin_texts(ANNA))
    )


async def test_closing_the_console_leaves_online_an_operator_who_uses_the_admin_bot(
    world: World,
) -> None:
    anna = await world.operator("Анна", ANNA, online=False)
    boris = await world.operator("Борис", BORIS, online=False)
    world.admin.client_message(ANNA, "/queue")  # Anna works from the bot too
    await eventually(lambda: any(t.startswith("Очередь") for t in world.admin_texts(ANNA)))
    presence = world.gateway.desk.presence
    for operator in (anna, boris):
        await presence.arrived(operator.id, f"console-{operator.id}", ttl=dt.timedelta(seconds=90))
        await presence.left(operator.id, f"console-{operator.id}")
    assert (await presence.get(anna.id)).state is PresenceState.ONLINE
    assert (await presence.get(boris.id)).state is PresenceState.OFFLINE
    await handed_off_in_telegram(world)
    await eventually(lambda: len(world.cards(ANNA)) == 1)  # the bot still brings her work
    await world.gateway.outbox.drain()
    assert world.cards(BORIS) == []


async def test_switch_between_conversations_in_english(world: World) -> None:
    await world.operator("Anna", ANNA, language="en")
    telegram_id = await handed_off_in_telegram(world)
    world.vk.client_message(VK_USER, "I want to talk to a person")
    await eventually(lambda: len(world.cards(ANNA)) == 2)
    assert world.cards(ANNA)[0]["text"].startswith(f"🆕 #{telegram_id}")
    assert "Answer by:" in world.cards(ANNA)[0]["text"]
    world.admin.client_message(ANNA, "/next")
    world.admin.client_message(ANNA, "/next")
    await eventually(
        lambda: sum(t.startswith("💬 Active conversation") for t in world.admin_texts(ANNA)) == 2
    )
    vk_id = (await world.conversation(ChannelKind.VK)).id
    # the last one taken is active; /switch picks the other
    world.admin.client_message(ANNA, "/switch")
    await eventually(
        lambda: any(t.startswith("Your conversations") for t in world.admin_texts(ANNA))
    )
    listing = next(t for t in world.admin_texts(ANNA) if t.startswith("Your conversations"))
    assert f"#{telegram_id}" in listing and f"#{vk_id}" in listing
    world.admin.client_message(ANNA, f"/switch {telegram_id}")
    await eventually(
        lambda: sum(t.startswith("💬 Active conversation") for t in world.admin_texts(ANNA)) == 3
    )
    world.admin.client_message(ANNA, "Hello from Anna")
    await eventually(lambda: "Hello from Anna" in world.telegram.texts_to(TG_USER))
    assert "Hello from Anna" not in world.vk.texts_to(VK_USER)
    world.admin.client_message(ANNA, "/bogus")
    await eventually(lambda: any("don't know that command" in t for t in world.admin_texts(ANNA)))


async def test_report_comes_as_text_and_chart(world: World) -> None:
    await world.operator("Анна", ANNA)
    await handed_off_in_telegram(world)
    world.admin.client_message(ANNA, "/report today")
    await eventually(lambda: bool(world.admin.calls_of("sendPhoto")), timeout=30)
    photo = world.admin.calls_of("sendPhoto")[0]
    assert photo.params["chat_id"] == ANNA
    world.admin.client_message(ANNA, "/report someday-never")
    await eventually(lambda: any("Не понимаю период" in t for t in world.admin_texts(ANNA)))


async def test_an_operator_who_blocked_the_bot_does_not_stop_the_others_cards(world: World) -> None:
    await world.operator("Анна", ANNA)
    await world.operator("Борис", BORIS)
    world.admin.blocked.add(BORIS)
    await handed_off_in_telegram(world)
    await eventually(lambda: bool(world.cards(ANNA)))
    assert world.cards(BORIS) == []


async def test_merge_then_answer_through_the_other_channel_and_unmerge(world: World) -> None:
    anna = await world.operator("Анна", ANNA, role=OperatorRole.ADMIN)
    conversation_id = await handed_off_in_telegram(world)
    world.vk.client_message(VK_USER, "Здравствуйте")
    await eventually(lambda: bool(world.vk.texts_to(VK_USER)))
    vk_client = (await world.conversation(ChannelKind.VK)).client_id
    world.admin.client_message(ANNA, f"/take {conversation_id}")
    await eventually(lambda: any(t.startswith("💬 Активный") for t in world.admin_texts(ANNA)))
    world.admin.client_message(ANNA, "/via vk не получится")  # not this client's channel yet
    await eventually(lambda: any("не писал через канал vk" in t for t in world.admin_texts(ANNA)))
    world.admin.client_message(ANNA, f"/merge {vk_client} клиент назвал код из ВК")
    await eventually(
        lambda: any(t.startswith("Клиенты объединены") for t in world.admin_texts(ANNA))
    )
    world.admin.client_message(ANNA, "/via vk Ответ во ВКонтакте")
    await eventually(lambda: "Ответ во ВКонтакте" in world.vk.texts_to(VK_USER))
    assert "Ответ во ВКонтакте" not in world.telegram.texts_to(TG_USER)
    world.admin.client_message(ANNA, "/history")
    await eventually(lambda: any(t.startswith("История клиента") for t in world.admin_texts(ANNA)))
    history = next(t for t in world.admin_texts(ANNA) if t.startswith("История клиента"))
    assert " vk] клиент: Здравствуйте" in history and " telegram] клиент: Позовите" in history
    merged = next(t for t in world.admin_texts(ANNA) if t.startswith("Клиенты объединены"))
    record = merged.split("/unmerge ")[1].strip()
    world.admin.client_message(ANNA, f"/unmerge {record}")
    await eventually(
        lambda: any(t.startswith(f"Объединение {record} отменено") for t in world.admin_texts(ANNA))
    )
    async with world.gateway.sessions() as session:
        logged = list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    assert [(e.action, e.actor_id, e.detail["record"]) for e in logged] == [
        ("clients_merged", anna.id, int(record)),
        ("merge_undone", anna.id, int(record)),
    ]


async def test_login_sends_a_one_time_console_link(world: World) -> None:
    await world.operator("Анна", ANNA)
    world.admin.client_message(ANNA, "/login")
    await eventually(lambda: any("веб-консоль" in t for t in world.admin_texts(ANNA)))
    text = next(t for t in world.admin_texts(ANNA) if "веб-консоль" in t)
    path = "/operator/link/" + text.split("/operator/link/")[1].split()[0]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.post(world.url + path, allow_redirects=False) as signed:
            assert signed.status == 303 and "sb_operator" in signed.cookies
        async with http.ws_connect(world.url + "/operator/ws") as ws:
            hello = await ws.receive_json(timeout=5)
            assert hello["type"] == "hello" and hello["operator"]["name"] == "Анна"
        async with http.post(world.url + path, allow_redirects=False) as again:
            assert again.status == 410  # it worked once
