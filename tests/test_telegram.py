"""The Telegram channel with the real aiogram client over HTTP against a local Bot API server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from channel_harness import ListSink, receiving, until
from fake_telegram import FakeTelegram
from redis.asyncio import Redis

from channels.attachment_store import AttachmentStore
from channels.delivery import RetryPolicy, SendRateLimiter
from channels.telegram import TelegramChannel
from core.contracts import (
    Action,
    Attachment,
    AttachmentKind,
    Button,
    ChannelKind,
    DeliveryError,
    DeliveryFault,
    OutboundMessage,
)
from core.send_ledger import RedisSendLedger

FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.05, max_delay=0.2)
USER = 1001


@pytest.fixture
async def channel(telegram: FakeTelegram) -> AsyncIterator[TelegramChannel]:
    adapter = TelegramChannel(
        telegram.token,
        api_base=telegram.base_url,
        poll_timeout=1,
        request_timeout=2,
        retry=FAST_RETRY,
    )
    yield adapter
    await adapter.aclose()


def outbound(text: str, **fields: object) -> OutboundMessage:
    return OutboundMessage(
        channel=ChannelKind.TELEGRAM,
        chat_id=str(USER),
        text=text,
        outbound_id=1,
        **fields,  # type: ignore[arg-type]
    )


async def test_text_message_is_stored_then_confirmed(
    telegram: FakeTelegram, channel: TelegramChannel
) -> None:
    sink = ListSink()
    sent = telegram.client_message(USER, "Как заблокировать карту?")
    async with receiving(channel, sink):
        await until(lambda: telegram.pending == 0)
    [message] = sink.stored
    assert message.channel is ChannelKind.TELEGRAM
    assert message.text == "Как заблокировать карту?"
    assert message.external_user_id == str(USER) and message.chat_id == str(USER)
    assert message.platform_message_id == f"{USER}:{sent['message_id']}"
    assert message.display_name == "Иван" and message.locale == "ru"
    assert message.sent_at is not None and message.sent_at.tzinfo is not None
    # the webhook was removed first, as getUpdates requires
    assert telegram.calls[0].method == "deleteWebhook"


async def test_a_message_with_a_card_number_is_deleted_from_the_chat_once_stored(
    telegram: FakeTelegram, channel: TelegramChannel
) -> None:
    """The thread keeps it masked; Telegram's copy goes, so the number stays nowhere."""
    sink = ListSink()
    carded = telegram.client_message(USER, "карта 4111 1111 1111 1111 не работает")
    plain = telegram.client_message(USER, "номер договора 4111")
    async with receiving(channel, sink):
        await until(
            lambda: telegram.pending == 0 and not telegram.holds(USER, carded["message_id"])
        )
    assert telegram.holds(USER, plain["message_id"])
    assert len(sink.stored) == 2


async def test_update_is_not_confirmed_until_the_sink_stored_it(
    telegram: FakeTelegram, channel: TelegramChannel
) -> None:
    sink = ListSink(failures=2)
    telegram.client_message(USER, "первое")
    telegram.client_message(USER, "второе")
    async with receiving(channel, sink):
        await until(lambda: sink.failures == 0)
        assert telegram.pending == 2  # failed store: nothing confirmed
        await until(lambda: telegram.pending == 0)
    assert [m.text for m in sink.stored] == ["первое", "второе"]


async def test_clients_files_are_fetched_and_kept_within_the_limit(
    telegram: FakeTelegram, tmp_path: Path
) -> None:
    """A screenshot and a statement travel on as bytes for the desk; a file over the limit,
    one Telegram will not serve and a sticker keep their metadata; every message arrives."""
    store = AttachmentStore(tmp_path / "files", max_bytes=4000)
    channel = TelegramChannel(
        telegram.token, api_base=telegram.base_url, poll_timeout=1, request_timeout=2, files=store
    )
    screenshot = b"\xff\xd8" + b"s" * 3000
    statement = b"%PDF-1.4 statement"
    telegram.client_photo(USER, caption="ошибка", content=screenshot)
    telegram.client_document(USER, "выписка.pdf", statement, "application/pdf")
    telegram.client_document(USER, "видео.mp4", b"v" * 5000, "video/mp4")  # over the limit
    telegram.client_message(
        USER,
        None,
        voice={"file_id": "GONE", "file_unique_id": "g1", "duration": 2, "file_size": 10},
    )
    sink = ListSink()
    try:
        async with receiving(channel, sink):
            await until(lambda: len(sink.stored) == 4)
    finally:
        await channel.aclose()
    photo, document, video, voice = (m.attachments[0] for m in sink.stored)
    assert photo.content == screenshot and document.content == statement
    for kept in (photo, document):
        assert kept.stored_path is not None
        assert Path(kept.stored_path).parent.parent == tmp_path / "files"
        assert kept.file_id in telegram.files  # the id stays, for the bot that has it
    assert (document.name, document.mime) == ("выписка.pdf", "application/pdf")
    assert video.stored_path is None and video.content is None and video.size == 5000
    assert voice.stored_path is None and voice.file_id == "GONE"  # getFile refused it


async def test_media_becomes_attachment_metadata(
    telegram: FakeTelegram, channel: TelegramChannel
) -> None:
    sink = ListSink()
    telegram.client_photo(USER, caption="вот чек", content=b"\xff\xd8" + b"x" * 5000)
    telegram.client_document(USER, "выписка.pdf", b"%PDF-1.4 ...", "application/pdf")
    telegram.client_message(
        USER,
        None,
        voice={
            "file_id": "VOICE1",
            "file_unique_id": "v1",
            "duration": 3,
            "mime_type": "audio/ogg",
            "file_size": 900,
        },
    )
    telegram.client_message(
        USER,
        None,
        video_note={"file_id": "ROUND1", "file_unique_id": "r1", "length": 240, "duration": 5},
    )
    telegram.client_message(
        USER,
        None,
        sticker={
            "file_id": "STK1",
            "file_unique_id": "s1",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "👍",
        },
    )
    async with receiving(channel, sink):
        await until(lambda: len(sink.stored) == 5)
    photo, document, voice, round_video, sticker = sink.stored
    assert photo.text == "вот чек"
    [image] = photo.attachments
    assert image.kind is AttachmentKind.PHOTO and image.size == 5002  # the largest size
    assert image.file_id in telegram.files
    [pdf] = document.attachments
    assert (pdf.kind, pdf.name, pdf.mime, pdf.size) == (
        AttachmentKind.DOCUMENT,
        "выписка.pdf",
        "application/pdf",
        12,
    )
    [note] = voice.attachments
    assert (note.kind, note.name, note.mime, note.size) == (
        AttachmentKind.VOICE,
        None,
        "audio/ogg",
        900,
    )
    [round_file] = round_video.attachments  # Telegram gives a round video no MIME type
    assert (round_file.kind, round_file.file_id, round_file.mime) == (
        AttachmentKind.VIDEO,
        "ROUND1",
        "video/mp4",
    )
    assert sticker.attachments[0].kind is AttachmentKind.STICKER
    assert sticker.meta["sticker_emoji"] == "👍" and sticker.text == ""


async def test_edit_start_contact_and_group_messages(
    telegram: FakeTelegram, channel: TelegramChannel
) -> None:
    sink = ListSink()
    original = telegram.client_message(USER, "карта заблокированна")
    telegram.client_edit(USER, original["message_id"], "карта заблокирована")
    telegram.client_message(USER, "/start ref-abc123")
    telegram.client_contact(USER, "7 (916) 123-45-67", owner_id=USER)
    telegram.client_contact(USER, "+79990001122", owner_id=555)  # someone else's number
    telegram.push(
        "message",
        {
            "message_id": 1,
            "date": 0,
            "text": "hi all",
            "chat": {"id": -100, "type": "group", "title": "g"},
            "from": telegram.user(USER),
        },
    )
    async with receiving(channel, sink):
        await until(lambda: telegram.pending == 0)
    first, edit, start, own, foreign = sink.stored
    assert edit.edited and edit.platform_message_id == first.platform_message_id
    assert edit.text == "карта заблокирована"
    assert (start.action, start.payload, start.text) == (Action.START, "ref-abc123", "")
    assert (own.action, own.payload) == (Action.CONTACT, "+79161234567")
    assert foreign.action is None and foreign.meta["contact_of_someone_else"] == "true"


async def test_callback_press_is_an_action_and_gets_answered(
    telegram: FakeTelegram, channel: TelegramChannel
) -> None:
    sink = ListSink()
    receipt = await channel.send(
        outbound(
            "Оцените ответ",
            buttons=tuple(Button(str(n), Action.RATE, str(n)) for n in range(1, 6))
            + (Button("Оператор", Action.HANDOFF),),
        )
    )
    message_id = int(str(receipt.platform_message_id).split(":")[1])
    [keyboard] = [m["reply_markup"] for m in telegram.sent]
    rows = keyboard["inline_keyboard"]
    assert [b["callback_data"] for b in rows[0]] == [f"rate:{n}" for n in range(1, 6)]
    assert rows[1] == [{"text": "Оператор", "callback_data": "handoff:"}]
    query = telegram.client_press(USER, "rate:5", message_id=message_id)
    telegram.client_press(USER, "not-ours", message_id=message_id)
    async with receiving(channel, sink):
        await until(lambda: telegram.pending == 0 and len(telegram.callback_answers) == 2)
    [press] = sink.stored
    assert (press.action, press.payload) == (Action.RATE, "5")
    assert press.platform_message_id == f"cb:{query['id']}"
    assert press.reply_to == (f"{USER}:{message_id}",)


async def test_long_answer_is_split_on_paragraphs_with_buttons_on_the_last(
    telegram: FakeTelegram, channel: TelegramChannel
) -> None:
    paragraphs = [f"Пункт {i}: " + "текст ответа " * 60 for i in range(10)]
    text = "\n\n".join(p.strip() for p in paragraphs)
    assert len(text) > 4096
    await channel.send(outbound(text, buttons=(Button("Оператор", Action.HANDOFF),)))
    texts = telegram.texts_to(USER)
    assert len(texts) == 2 and "\n\n".join(texts) == text
    assert all(t.startswith("Пункт") for t in texts)
    assert "reply_markup" not in telegram.sent[0] and "reply_markup" in telegram.sent[1]


async def test_markup_characters_arrive_literally(
    telegram: FakeTelegram, channel: TelegramChannel
) -> None:
    text = "Комиссия *0%* для <b>VIP</b> & [ссылка](x) _курсив_"
    await channel.send(outbound(text))
    assert telegram.texts_to(USER) == [text]
    assert "parse_mode" not in telegram.calls_of("sendMessage")[0].params


async def test_contact_request_is_a_reply_keyboard(
    telegram: FakeTelegram, channel: TelegramChannel
) -> None:
    await channel.send(
        outbound(
            "Поделитесь номером",
            request_contact=True,
            buttons=(Button("📱 Отправить номер", Action.CONTACT),),
        )
    )
    markup = telegram.calls_of("sendMessage")[0].params["reply_markup"]
    assert markup["keyboard"] == [[{"text": "📱 Отправить номер", "request_contact": True}]]
    assert markup["one_time_keyboard"] is True


async def test_429_is_retried_after_the_given_delay_and_delivered_once(
    telegram: FakeTelegram, channel: TelegramChannel
) -> None:
    telegram.fail("sendMessage", status=429, retry_after=1)
    await channel.send(outbound("ответ"))
    first, second = telegram.calls_of("sendMessage")
    assert first.status == 429 and second.status == 200
    assert second.at - first.at >= 1.0
    assert telegram.texts_to(USER) == ["ответ"]


async def test_server_errors_and_timeouts_are_retried(
    telegram: FakeTelegram, channel: TelegramChannel
) -> None:
    telegram.fail("sendMessage", status=502, times=2)
    telegram.fail("sendMessage", status=500, raw_body="<html>Internal Server Error</html>")
    await channel.send(outbound("после сбоев"))
    telegram.stall("sendMessage", 3.0)  # longer than the 2 s request timeout
    await channel.send(outbound("после таймаута"))
    # the stalled request completes on the server after all: Telegram has no idempotency key
    await until(lambda: len(telegram.texts_to(USER)) >= 2)
    assert "после сбоев" in telegram.texts_to(USER)
    assert "после таймаута" in telegram.texts_to(USER)


async def test_blocked_user_is_a_permanent_failure_and_retries_run_out(
    telegram: FakeTelegram, channel: TelegramChannel
) -> None:
    telegram.blocked.add(USER)
    with pytest.raises(DeliveryError) as blocked:
        await channel.send(outbound("вы здесь?"))
    assert blocked.value.permanent and blocked.value.fault is DeliveryFault.RECIPIENT
    assert len(telegram.calls_of("sendMessage")) == 1
    telegram.blocked.clear()
    telegram.fail("sendMessage", status=502, times=10)
    with pytest.raises(DeliveryError) as exhausted:
        await channel.send(outbound("сервер лежит"))
    assert not exhausted.value.permanent
    assert exhausted.value.fault is DeliveryFault.UNREACHABLE
    assert len(telegram.calls_of("sendMessage")) == 1 + FAST_RETRY.attempts


@pytest.mark.parametrize(
    ("status", "description", "fault"),
    [
        (400, "Bad Request: chat not found", DeliveryFault.RECIPIENT),
        (400, "Bad Request: message is too long", DeliveryFault.CONTENT),
        (400, "Bad Request: wrong file identifier/HTTP URL specified", DeliveryFault.FILE),
        (401, "Unauthorized", DeliveryFault.CONFIGURATION),
    ],
)
async def test_a_refusal_says_why_in_the_desks_terms(
    telegram: FakeTelegram,
    channel: TelegramChannel,
    status: int,
    description: str,
    fault: DeliveryFault,
) -> None:
    """The operator hears why (the client is gone, the message or a file was refused, the
    bot's token): each is a different thing to do next."""
    telegram.fail("sendMessage", status=status, description=description)
    with pytest.raises(DeliveryError) as refused:
        await channel.send(outbound("ответ"))
    assert refused.value.fault is fault
    assert refused.value.permanent is (fault is not DeliveryFault.CONFIGURATION)
    assert telegram.texts_to(USER) == []


async def test_per_chat_rate_limit_spaces_sends(telegram: FakeTelegram) -> None:
    adapter = TelegramChannel(
        telegram.token,
        api_base=telegram.base_url,
        retry=FAST_RETRY,
        limiter=SendRateLimiter(
            per_chat_rate=10, per_chat_burst=1, global_rate=1000, global_burst=1000
        ),
    )
    try:
        await asyncio.gather(
            *(adapter.send(outbound(f"m{i}")) for i in range(5)),
            adapter.send(OutboundMessage(ChannelKind.TELEGRAM, "2002", "x", 2)),
        )
    finally:
        await adapter.aclose()
    times = [c.at for c in telegram.calls_of("sendMessage") if c.params["chat_id"] == USER]
    assert len(times) == 5 and times[-1] - times[0] >= 0.35
    # another chat is not held back by the first one's limit
    other = next(c.at for c in telegram.calls_of("sendMessage") if c.params["chat_id"] == 2002)
    assert other - times[0] < 0.1


async def test_photo_and_document_are_sent(
    telegram: FakeTelegram, channel: TelegramChannel, tmp_path: Path
) -> None:
    receipt_file = tmp_path / "квитанция.pdf"
    receipt_file.write_bytes(b"%PDF-1.4 receipt")
    await channel.send(
        outbound(
            "Документы:",
            attachments=(
                Attachment(AttachmentKind.PHOTO, url="https://example.com/p.jpg"),
                Attachment(
                    AttachmentKind.DOCUMENT, name="квитанция.pdf", stored_path=str(receipt_file)
                ),
            ),
        )
    )
    text, photo, document = telegram.sent
    assert text["text"] == "Документы:" and "photo" in photo
    assert document["document"]["file_name"] == "квитанция.pdf"
    assert telegram.files[document["document"]["file_id"]][1] == b"%PDF-1.4 receipt"


async def test_a_kept_file_that_is_gone_fails_the_message_before_any_piece_is_sent(
    telegram: FakeTelegram, channel: TelegramChannel, tmp_path: Path
) -> None:
    """Retrying cannot bring back an erased file (or one kept on another machine): the
    send fails once, as permanent, with neither the text nor the file sent."""
    gone = Attachment(AttachmentKind.DOCUMENT, name="a.pdf", stored_path=str(tmp_path / "a"))
    with pytest.raises(DeliveryError, match="cannot be read") as failure:
        await channel.send(outbound("Документ:", attachments=(gone,)))
    assert failure.value.permanent and failure.value.fault is DeliveryFault.FILE
    assert telegram.sent == [] and telegram.calls_of("sendDocument") == []


async def test_a_resent_message_skips_the_pieces_telegram_already_accepted(
    telegram: FakeTelegram, redis: Redis
) -> None:
    adapter = TelegramChannel(
        telegram.token, api_base=telegram.base_url, retry=FAST_RETRY, ledger=RedisSendLedger(redis)
    )
    try:
        first = await adapter.send(outbound("короткий"))
        again = await adapter.send(replace(outbound("короткий"), resent=True))  # after a crash
        assert first == again and telegram.texts_to(USER) == ["короткий"]
        text = "\n\n".join((f"Часть {i}. " + "текст " * 300).strip() for i in range(3))
        telegram.serve("sendMessage")  # the first piece goes through,
        telegram.fail("sendMessage", status=502, times=FAST_RETRY.attempts)  # the second fails
        with pytest.raises(DeliveryError):
            await adapter.send(OutboundMessage(ChannelKind.TELEGRAM, str(USER), text, 51))
        await adapter.send(OutboundMessage(ChannelKind.TELEGRAM, str(USER), text, 51, resent=True))
        assert "\n\n".join(telegram.texts_to(USER)[1:]) == text  # every piece exactly once
    finally:
        await adapter.aclose()
