"""The VK channel with the real vkbottle API client over HTTP against a local VK API server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from channel_harness import ListSink, receiving, until
from fake_vk import FakeVk
from redis.asyncio import Redis

from channels.attachment_store import AttachmentStore
from channels.delivery import RetryPolicy
from channels.vk import VkChannel, poller_name, random_id
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
from core.leases import RedisPollerLease

FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.05, max_delay=0.2)
USER = 5005


@pytest.fixture
async def channel(vk: FakeVk) -> AsyncIterator[VkChannel]:
    adapter = VkChannel(
        vk.token, vk.group_id, api_base=vk.base_url, wait=1, request_timeout=2, retry=FAST_RETRY
    )
    yield adapter
    await adapter.aclose()


def outbound(text: str, outbound_id: int = 7, **fields: object) -> OutboundMessage:
    return OutboundMessage(
        channel=ChannelKind.VK,
        chat_id=str(USER),
        text=text,
        outbound_id=outbound_id,
        **fields,  # type: ignore[arg-type]
    )


async def started(vk: FakeVk) -> None:
    await until(lambda: vk.lp_requests > 0)


async def test_message_with_name_attachments_and_language(vk: FakeVk, channel: VkChannel) -> None:
    sink = ListSink()
    vk.names[USER] = ("Анна", "Смирнова")
    async with receiving(channel, sink):
        await started(vk)
        sent = vk.client_message(
            USER,
            "Не проходит платёж",
            lang_id=3,
            attachments=[
                {
                    "type": "photo",
                    "photo": {
                        "id": 11,
                        "owner_id": USER,
                        "access_key": "ab12",
                        "sizes": [
                            {
                                "type": "s",
                                "url": "https://vk.example/s.jpg",
                                "width": 75,
                                "height": 50,
                            },
                            {
                                "type": "x",
                                "url": "https://vk.example/x.jpg",
                                "width": 604,
                                "height": 403,
                            },
                        ],
                    },
                },
                {
                    "type": "doc",
                    "doc": {
                        "id": 12,
                        "owner_id": USER,
                        "title": "чек.pdf",
                        "size": 2048,
                        "ext": "pdf",
                        "url": "https://vk.example/doc",
                    },
                },
                {
                    "type": "audio_message",
                    "audio_message": {
                        "id": 13,
                        "owner_id": USER,
                        "duration": 4,
                        "link_ogg": "https://vk.example/a.ogg",
                    },
                },
            ],
        )
        vk.client_message(USER, "и ещё")
        await until(lambda: len(sink.stored) == 2)
    message = sink.stored[0]
    assert message.channel is ChannelKind.VK and message.text == "Не проходит платёж"
    assert message.platform_message_id == f"{USER}:{sent['conversation_message_id']}"
    assert message.external_user_id == message.chat_id == str(USER)
    assert message.display_name == "Анна Смирнова" and message.locale == "en"
    photo, doc, voice = message.attachments
    assert (photo.kind, photo.file_id, photo.url) == (
        AttachmentKind.PHOTO,
        f"photo{USER}_11_ab12",
        "https://vk.example/x.jpg",
    )
    assert (doc.kind, doc.name, doc.size, doc.mime) == (
        AttachmentKind.DOCUMENT,
        "чек.pdf",
        2048,
        "application/pdf",
    )
    assert voice.kind is AttachmentKind.VOICE
    # the name was looked up once and then cached
    assert len(vk.calls_of("users.get")) == 1


def photo_of(url: str, photo_id: int) -> dict[str, object]:
    sizes = [{"type": "x", "url": url, "width": 604, "height": 403}]
    return {"type": "photo", "photo": {"id": photo_id, "owner_id": USER, "sizes": sizes}}


def doc_of(url: str, doc_id: int, title: str, size: int) -> dict[str, object]:
    doc = {"id": doc_id, "owner_id": USER, "title": title, "size": size, "url": url}
    return {"type": "doc", "doc": doc}


async def test_clients_files_are_fetched_by_their_links_and_kept(
    vk: FakeVk, tmp_path: Path
) -> None:
    """VK's links expire, so a client's screenshot, statement and voice note travel on as
    bytes for the desk. A file over the limit (said or found while reading), an expired
    link and a plain-HTTP link elsewhere keep their name and link; every message arrives."""
    store = AttachmentStore(tmp_path / "files", max_bytes=4000)
    channel = VkChannel(
        vk.token, vk.group_id, api_base=vk.base_url, wait=1, request_timeout=2, files=store
    )
    screenshot, statement, voice = b"\xff\xd8" + b"s" * 3000, b"%PDF-1.4 statement", b"OggS v"
    lost = f"{vk.base_url}/files/expired/lost.jpg"  # a link VK no longer serves
    big = vk.host_file("big.jpg", b"\xff\xd8" + b"b" * 5000)  # no size said: found reading
    voice_note = {
        "id": 4,
        "owner_id": USER,
        "duration": 2,
        "link_ogg": vk.host_file("a.ogg", voice),
    }
    sink = ListSink()
    try:
        async with receiving(channel, sink):
            await started(vk)
            vk.client_message(USER, "не грузится", attachments=[photo_of(lost, 1)])
            vk.client_message(
                USER,
                "ошибка и выписка",
                attachments=[
                    photo_of(vk.host_file("x.jpg", screenshot), 2),
                    doc_of(
                        vk.host_file("выписка.pdf", statement), 3, "выписка.pdf", len(statement)
                    ),
                ],
            )
            vk.client_message(
                USER, attachments=[{"type": "audio_message", "audio_message": voice_note}]
            )
            vk.client_message(
                USER,
                attachments=[
                    photo_of(big, 5),
                    doc_of(vk.host_file("видео.mp4", b"v" * 5000), 6, "видео.mp4", 5000),
                    photo_of("http://vk.example/elsewhere.jpg", 7),
                ],
            )
            await until(lambda: len(sink.stored) == 4)
    finally:
        await channel.aclose()
    failed, (photo, document), (voice_message,), refused = (m.attachments for m in sink.stored)
    assert [(a.stored_path, a.content, a.url) for a in failed] == [(None, None, lost)]
    for kept, content in ((photo, screenshot), (document, statement), (voice_message, voice)):
        assert kept.content == content and kept.size == len(content)
        assert kept.stored_path is not None
        assert Path(kept.stored_path).parent.parent == tmp_path / "files"
        assert kept.file_id is not None and kept.url is not None  # VK's own references stay
    assert (document.name, document.mime) == ("выписка.pdf", "application/pdf")
    assert all(a.content is None and a.stored_path is None for a in refused)
    assert [a.url for a in refused][2] == "http://vk.example/elsewhere.jpg"
    # the video's said size is over the limit: never asked for; the photo's read was cut
    assert not any(path.endswith("видео.mp4") for path in vk.file_fetches)
    assert {"lost.jpg", "big.jpg"} <= {path.rpartition("/")[2] for path in vk.file_fetches}


async def test_ts_advances_only_after_the_sink_stored(vk: FakeVk, channel: VkChannel) -> None:
    sink = ListSink(failures=3)
    async with receiving(channel, sink):
        await started(vk)
        vk.client_message(USER, "раз")
        vk.client_message(USER, "два")
        await until(lambda: len(sink.stored) == 2, timeout=10)
        polls = vk.lp_requests  # the next long poll goes out after ts is saved
        await until(lambda: vk.lp_requests > polls)
    assert [m.text for m in sink.stored] == ["раз", "два"]
    # a restarted channel with the same cursor does not see them again
    cursor = await channel._lease.load_cursor()
    assert cursor == "2"


async def test_edit_start_button_and_callback_press(vk: FakeVk, channel: VkChannel) -> None:
    sink = ListSink()
    receipt = await channel.send(
        outbound(
            "Выберите",
            buttons=(
                Button("Карта потеряна", Action.CHOOSE, "card-lost"),
                Button("Оператор", Action.HANDOFF),
            ),
        )
    )
    cmid = int(str(receipt.platform_message_id).split(":")[1])
    keyboard = vk.sent[0]["keyboard"]
    assert keyboard["inline"] is True
    assert [row[0]["action"]["type"] for row in keyboard["buttons"]] == ["callback", "callback"]
    async with receiving(channel, sink):
        await started(vk)
        original = vk.client_message(USER, "карта потерена")
        vk.client_edit(original, "карта потеряна")
        vk.client_message(USER, "Начать", payload={"command": "start"}, ref="promo42")
        event_id = vk.client_press(USER, {"sb": "choose:card-lost"}, conversation_message_id=cmid)
        vk.client_press(USER, {"other": "bot"}, conversation_message_id=cmid)
        vk.push("message_edit", dict(vk.sent[0], from_id=-vk.group_id, text="edited by us"))
        await until(lambda: len(vk.event_answers) == 2)
    first, edit, start, press = sink.stored
    assert edit.edited and edit.platform_message_id == first.platform_message_id
    assert edit.text == "карта потеряна"
    assert (start.action, start.payload) == (Action.START, "promo42")
    assert (press.action, press.payload) == (Action.CHOOSE, "card-lost")
    assert press.platform_message_id == f"ev:{event_id}"


async def test_long_poll_failures_are_handled(vk: FakeVk, channel: VkChannel) -> None:
    sink = ListSink()
    async with receiving(channel, sink):
        await started(vk)
        vk.fail_long_poll(2)  # key expired: new key, same ts
        vk.client_message(USER, "после смены ключа")
        await until(lambda: len(sink.stored) == 1)
        vk.fail("lp", status=502)
        vk.client_message(USER, "после 502")
        await until(lambda: len(sink.stored) == 2)
        vk.fail_long_poll(3)  # information lost: new key and ts
        await until(lambda: len(vk.calls_of("groups.getLongPollServer")) == 3)
        vk.client_message(USER, "после failed 3")
        await until(lambda: len(sink.stored) == 3)
    assert [m.text for m in sink.stored] == ["после смены ключа", "после 502", "после failed 3"]


async def test_long_answer_split_with_deterministic_random_ids(
    vk: FakeVk, channel: VkChannel
) -> None:
    text = "\n\n".join((f"Раздел {i}. " + "подробности " * 70).strip() for i in range(8))
    assert len(text) > 4096
    handoff = Button("Оператор", Action.HANDOFF)
    await channel.send(outbound(text, outbound_id=41, buttons=(handoff,)))
    pieces = vk.texts_to(USER)
    assert len(pieces) == 2 and all(len(p) <= 4096 for p in pieces)
    assert "\n\n".join(pieces) == text.strip()
    assert [m["random_id"] for m in vk.sent] == [random_id(41, 0), random_id(41, 1)]
    assert vk.sent[0]["keyboard"] is None and vk.sent[1]["keyboard"] is not None
    # sending the same outbound message again (a resend after a crash) delivers nothing new
    await channel.send(outbound(text, outbound_id=41))
    assert len(vk.sent) == 2


async def test_errors_6_and_9_and_5xx_are_retried_once_delivered(
    vk: FakeVk, channel: VkChannel
) -> None:
    vk.fail("messages.send", code=6)
    vk.fail("messages.send", code=9)
    vk.fail("messages.send", status=502)
    await channel.send(outbound("ответ после ошибок"))
    assert len(vk.calls_of("messages.send")) == 4
    assert vk.texts_to(USER) == ["ответ после ошибок"]
    # a timed-out send that VK did process is not delivered twice on retry
    vk.stall("messages.send", 3.0)
    await channel.send(outbound("после таймаута", outbound_id=8))
    await until(lambda: len(vk.calls_of("messages.send")) >= 6)
    await until(
        lambda: vk.finished.count("messages.send") == len(vk.calls_of("messages.send")),
        what="the stalled send handled by VK after all",
    )
    assert vk.texts_to(USER) == ["ответ после ошибок", "после таймаута"]


async def test_permanent_and_exhausted_failures(vk: FakeVk, channel: VkChannel) -> None:
    vk.blocked.add(USER)
    with pytest.raises(DeliveryError) as blocked:
        await channel.send(outbound("вы здесь?"))
    assert blocked.value.permanent and len(vk.calls_of("messages.send")) == 1
    assert blocked.value.fault is DeliveryFault.RECIPIENT
    vk.blocked.clear()
    vk.fail("messages.send", code=914)  # the message itself refused
    with pytest.raises(DeliveryError) as refused:
        await channel.send(outbound("длинный ответ", outbound_id=11))
    assert refused.value.permanent and refused.value.fault is DeliveryFault.CONTENT
    vk.fail("messages.send", code=5)  # the token: the desk's to fix, retried later
    with pytest.raises(DeliveryError) as token:
        await channel.send(outbound("токен", outbound_id=12))
    assert not token.value.permanent and token.value.fault is DeliveryFault.CONFIGURATION
    vk.fail("messages.send", code=10, times=10)
    with pytest.raises(DeliveryError) as exhausted:
        await channel.send(outbound("сервер лежит", outbound_id=9))
    assert not exhausted.value.permanent
    with pytest.raises(DeliveryError):
        await channel.send(OutboundMessage(ChannelKind.VK, "not-a-peer", "x", 10))


async def test_attachments_are_sent_by_reference_or_link(vk: FakeVk, channel: VkChannel) -> None:
    await channel.send(
        outbound(
            "Файлы:",
            attachments=(
                Attachment(AttachmentKind.PHOTO, file_id="photo-777_456239017"),
                Attachment(
                    AttachmentKind.DOCUMENT, name="тарифы.pdf", url="https://bank.example/t.pdf"
                ),
            ),
        )
    )
    [sent] = vk.sent
    assert sent["attachment"] == "photo-777_456239017"
    assert sent["message"] == "Файлы:\nhttps://bank.example/t.pdf"


JPEG = b"\xff\xd8\xff\xe0" + b"operator screenshot" * 20


async def test_files_from_disk_are_uploaded_and_sent_with_the_message(
    vk: FakeVk, channel: VkChannel, tmp_path: Path
) -> None:
    photo_file, receipt_file = tmp_path / "photo.jpg", tmp_path / "квитанция.pdf"
    photo_file.write_bytes(JPEG)
    receipt_file.write_bytes(b"%PDF-1.4 receipt")
    await channel.send(
        outbound(
            "Вот где это в приложении",
            attachments=(
                Attachment(
                    AttachmentKind.PHOTO,
                    name="photo.jpg",
                    mime="image/jpeg",
                    stored_path=str(photo_file),
                ),
                Attachment(
                    AttachmentKind.DOCUMENT, name="квитанция.pdf", stored_path=str(receipt_file)
                ),
            ),
        )
    )
    photo, document = vk.uploads
    assert (photo.server, photo.field, photo.peer_id) == ("photo", "photo", USER)
    assert photo.content == JPEG
    assert (document.server, document.field, document.filename, document.content) == (
        "doc",
        "file",
        "квитанция.pdf",
        b"%PDF-1.4 receipt",
    )
    [sent] = vk.sent
    references = sent["attachment"].split(",")
    assert references[0].startswith(f"photo-{vk.group_id}_") and references[0].count("_") == 2
    assert references[1].startswith(f"doc-{vk.group_id}_")
    assert [vk.saved[r] for r in references] == [JPEG, b"%PDF-1.4 receipt"]
    assert sent["message"] == "Вот где это в приложении"
    # a file without text goes alone; an image VK cannot show as a photo goes as a document
    bitmap = tmp_path / "scan.bmp"
    bitmap.write_bytes(b"BM not a photo for VK")
    scan = outbound(
        "",
        outbound_id=8,
        attachments=(Attachment(AttachmentKind.PHOTO, name="scan.bmp", stored_path=str(bitmap)),),
    )
    await channel.send(scan)
    assert vk.uploads[-1].server == "doc"
    assert vk.sent[-1]["message"] == ""
    assert vk.saved[vk.sent[-1]["attachment"]] == bitmap.read_bytes()
    # a resend after a crash uploads again, but the same random_id delivers nothing new
    await channel.send(scan)
    assert len(vk.sent) == 2


async def test_an_unreadable_or_rejected_file_fails_permanently(
    vk: FakeVk, channel: VkChannel, tmp_path: Path
) -> None:
    for path in (tmp_path / "gone.pdf", tmp_path):
        with pytest.raises(DeliveryError, match="cannot be read") as unreadable:
            await channel.send(
                outbound(
                    "Документ",
                    attachments=(
                        Attachment(AttachmentKind.DOCUMENT, name="gone.pdf", stored_path=str(path)),
                    ),
                )
            )
        assert unreadable.value.permanent and unreadable.value.fault is DeliveryFault.FILE
    fake_photo = tmp_path / "photo.jpg"
    fake_photo.write_bytes(b"not really a jpeg")
    with pytest.raises(DeliveryError, match="as a photo") as rejected:
        await channel.send(
            outbound(
                "Фото",
                attachments=(
                    Attachment(
                        AttachmentKind.PHOTO, mime="image/jpeg", stored_path=str(fake_photo)
                    ),
                ),
            )
        )
    assert rejected.value.permanent and len(vk.uploads) == 1
    assert rejected.value.fault is DeliveryFault.FILE
    assert vk.sent == [] and not vk.calls_of("photos.saveMessagesPhoto")


async def test_a_5xx_from_the_upload_server_is_retried(
    vk: FakeVk, channel: VkChannel, tmp_path: Path
) -> None:
    receipt_file = tmp_path / "receipt.pdf"
    receipt_file.write_bytes(b"%PDF-1.4 receipt")
    vk.fail("upload", status=502)
    vk.fail("docs.save", code=10)
    await channel.send(
        outbound(
            "Квитанция",
            attachments=(
                Attachment(
                    AttachmentKind.DOCUMENT, name="receipt.pdf", stored_path=str(receipt_file)
                ),
            ),
        )
    )
    assert len(vk.calls_of("docs.getMessagesUploadServer")) == 3
    assert [u.content for u in vk.uploads] == [b"%PDF-1.4 receipt"] * 2
    [sent] = vk.sent
    assert vk.saved[sent["attachment"]] == b"%PDF-1.4 receipt"


async def test_a_restarted_poller_resumes_from_the_stored_ts(vk: FakeVk, redis: Redis) -> None:
    """What arrives while no process polls is read after the restart, and nothing twice."""
    sink = ListSink()

    def fresh_channel() -> VkChannel:
        lease = RedisPollerLease(redis, poller_name(vk.group_id), ttl=2)
        return VkChannel(vk.token, vk.group_id, api_base=vk.base_url, wait=1, lease=lease)

    first = fresh_channel()
    async with receiving(first, sink):
        await started(vk)
        vk.client_message(USER, "до перезапуска")
        await until(lambda: len(sink.stored) == 1)
    await first.aclose()
    vk.client_message(USER, "пока никто не слушал")
    second = fresh_channel()
    async with receiving(second, sink):
        await until(lambda: len(sink.stored) == 2)
        vk.client_message(USER, "после перезапуска")
        await until(lambda: len(sink.stored) == 3)
    await second.aclose()
    assert [m.text for m in sink.stored] == [
        "до перезапуска",
        "пока никто не слушал",
        "после перезапуска",
    ]
