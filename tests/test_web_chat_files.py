"""Files in the web chat over real HTTP and WebSocket: a visitor uploads a screenshot and
sends it with a message, the desk keeps it and the console opens it; every bad upload or
frame gets a clear refusal and stores nothing."""

from __future__ import annotations

import hashlib
import io
import os
import time
import uuid
from pathlib import Path

import aiohttp
from sqlalchemy import select
from web_client import Visitor, signed_in

from admin.signin import SESSION_COOKIE
from channels.uploads import UNSENT_KEPT
from core.models import Direction, Message
from switchboard.app import Gateway

SCREENSHOT = b"\x89PNG\r\n\x1a\n" + b"pixels" * 500


async def upload(visitor: Visitor, data: bytes, **headers: str) -> tuple[int, dict[str, object]]:
    async with visitor.http.post(
        visitor.base_url + "/upload",
        data=io.BytesIO(data),
        headers={"Origin": visitor.base_url, **headers},
    ) as answer:
        body = await answer.json() if answer.content_type == "application/json" else {}
        return answer.status, body


async def client_messages(gateway: Gateway) -> list[Message]:
    async with gateway.sessions() as session:
        return list(
            await session.scalars(
                select(Message).where(Message.direction == Direction.IN).order_by(Message.id)
            )
        )


async def assert_kept_and_opens_in_the_console(gateway: Gateway, served: str) -> None:
    """The one message sent holds the screenshot, 0600, and an operator opens it."""
    [stored] = await client_messages(gateway)
    [kept] = stored.attachments
    assert Path(kept["stored_path"]).read_bytes() == SCREENSHOT
    assert Path(kept["stored_path"]).stat().st_mode & 0o077 == 0
    token = await signed_in(gateway, "Anna")
    async with aiohttp.ClientSession() as http:
        async with http.get(
            f"{served}/operator/files/{stored.id}/1",
            headers={"Cookie": f"{SESSION_COOKIE}={token}"},
        ) as opened:
            assert opened.status == 200 and await opened.read() == SCREENSHOT
            assert opened.headers["Content-Type"] == "image/png"


async def test_a_visitors_file_is_kept_answered_and_opens_in_the_console(
    gateway: Gateway, served: str
) -> None:
    async with Visitor(served) as visitor:
        history = await visitor.connect()
        assert history["files"] == gateway.settings.web_attachment_max_bytes > 0
        status, answer = await upload(visitor, SCREENSHOT)
        assert (status, answer) == (
            200,
            {"file": hashlib.sha256(SCREENSHOT).hexdigest(), "size": len(SCREENSHOT)},
        )
        since = visitor.ws.mark()
        message_id = str(uuid.uuid4())
        await visitor.ws.send(
            {
                "type": "message",
                "id": message_id,
                "text": "",
                "files": [{"file": answer["file"], "name": "../ошибка.png", "mime": "image/png"}],
            }
        )
        await visitor.acked(message_id, since)
        reply = await visitor.reply(since=since, author="bot")
        assert "файл" in reply["text"].lower()  # the bot says it got a file
        # stored, the thread comes again at once: the file opens in the visitor's own bubble,
        # named without the path
        history = await visitor.ws.expect(lambda f: f["type"] == "history", since=since)
        [sent] = [m for m in history["messages"] if m["author"] == "client"]
        assert sent["attachments"] == [
            {
                "kind": "photo",
                "name": "ошибка.png",
                "size": len(SCREENSHOT),
                "mime": "image/png",
                "opens": True,
            }
        ]

    await assert_kept_and_opens_in_the_console(gateway, served)


async def test_bad_uploads_and_frames_are_refused_and_store_nothing(
    gateway: Gateway, served: str
) -> None:
    limit = gateway.settings.web_attachment_max_bytes
    async with Visitor(served) as visitor, Visitor(served) as stranger:
        assert (await upload(visitor, b""))[0] == 400
        assert (await upload(visitor, b"x" * (limit + 1)))[0] == 413
        big = os.urandom(limit)  # a whole file at the limit, in many chunks, kept whole
        status, answer = await upload(visitor, big)
        assert (status, answer) == (200, {"file": hashlib.sha256(big).hexdigest(), "size": limit})
        assert (await upload(visitor, b"data", Origin="https://evil.example"))[0] == 403
        async with aiohttp.ClientSession() as cookieless:
            async with cookieless.post(served + "/upload", data=b"data") as refused:
                assert refused.status == 401
        _, mine = await upload(visitor, SCREENSHOT)

        async def frame_error(who: Visitor, files: object) -> str:
            since, message_id = who.ws.mark(), str(uuid.uuid4())
            await who.ws.send({"type": "message", "id": message_id, "text": "", "files": files})
            frame = await who.ws.expect(lambda f: f["type"] in ("ack", "error"), since=since)
            assert frame["type"] == "error" and frame["id"] == message_id, frame
            return str(frame["code"])

        assert await frame_error(stranger, [{"file": mine["file"]}]) == "bad_file"  # not theirs
        assert await frame_error(visitor, [{"file": "0" * 64}]) == "bad_file"  # never uploaded
        assert await frame_error(visitor, [{"file": "../../secret.key"}]) == "bad_file"
        assert await frame_error(visitor, [{"file": mine["file"]}] * 6) == "bad_file"
        assert await frame_error(visitor, "not a list") == "bad_file"
        assert await frame_error(visitor, [42]) == "bad_file"
        assert await frame_error(visitor, [{"file": mine["file"], "name": 7}]) == "bad_file"
        # ten uploads in ten minutes a visitor (the refused ones above count, but for the
        # cross-origin one, refused before them): a script cannot fill the disk
        statuses = [(await upload(visitor, b"again %d" % n))[0] for n in range(7)]
        assert statuses == [200] * 6 + [429]
    assert await client_messages(gateway) == []


async def test_an_upload_never_sent_is_swept_and_a_sent_one_stays_with_its_message(
    gateway: Gateway, served: str
) -> None:
    """Files picked and never sent do not fill the disk: a day after their upload they are
    removed. A file a message named stays: the message keeps its own name for the bytes."""
    web_files = gateway.uploads[0]
    async with Visitor(served) as visitor:
        await visitor.connect()
        _, sent = await upload(visitor, SCREENSHOT)
        _, unsent = await upload(visitor, b"%PDF-1.4 never sent")
        since, message_id = visitor.ws.mark(), str(uuid.uuid4())
        await visitor.ws.send(
            {
                "type": "message",
                "id": message_id,
                "text": "вот",
                "files": [{"file": sent["file"], "mime": "image/png"}],
            }
        )
        await visitor.acked(message_id, since)
        uploads = [p for p in web_files.directory.rglob("*") if p.is_file()]
        assert len(uploads) == 2
        assert web_files.sweep() == 0  # both are fresh
        a_day_ago = time.time() - UNSENT_KEPT.total_seconds() - 60
        for path in uploads:
            os.utime(path, (a_day_ago, a_day_ago))
        assert web_files.sweep() == 2
        assert list(web_files.directory.iterdir()) == []  # the visitor's folder too

        since, message_id = visitor.ws.mark(), str(uuid.uuid4())
        await visitor.ws.send(
            {"type": "message", "id": message_id, "text": "", "files": [{"file": unsent["file"]}]}
        )
        frame = await visitor.ws.expect(lambda f: f["type"] in ("ack", "error"), since=since)
        assert (frame["type"], frame["code"]) == ("error", "bad_file")  # upload it again

    await assert_kept_and_opens_in_the_console(gateway, served)
