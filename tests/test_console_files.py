"""Files between the console and clients: a kept picture opens in the browser, any other
file downloads under its own name and is never rendered as a page of the console's origin,
a platform's file with no bytes here has no link, and nothing opens without a session; an
operator's file reaches the web visitor, who alone can open it."""

from __future__ import annotations

import itertools
from pathlib import Path

import aiohttp
import pytest
from browser import PNG, chromium
from console_session import sign_in
from playwright.async_api import FilePayload, expect
from sqlalchemy import select
from web_client import Visitor, signed_in

from admin.signin import SESSION_COOKIE
from core.contracts import Attachment, AttachmentKind, ChannelKind, InboundMessage
from core.models import Author, Direction, Message
from switchboard.app import Gateway

PAGE = b"<html><script>alert(document.cookie)</script></html>"
_ids = itertools.count(1)


def with_files(gateway: Gateway, who: str) -> InboundMessage:
    """A letter with a screenshot, an HTML "invoice" and a file the gateway did not keep."""
    folder = gateway.settings.var_dir / "attachments" / "test"
    return InboundMessage(
        channel=ChannelKind.EMAIL,
        external_user_id=who,
        chat_id=who,
        platform_message_id=f"files-{next(_ids)}",
        text="Не проходит платёж, скриншот и счёт во вложении",
        attachments=(
            Attachment(
                AttachmentKind.PHOTO,
                name="экран.png",
                mime="image/png",
                size=len(PNG),
                stored_path=str(folder / "screen"),
                content=PNG,
            ),
            Attachment(
                AttachmentKind.DOCUMENT,
                name="счёт «май».html",
                mime="text/html",
                size=len(PAGE),
                stored_path=str(folder / "invoice"),
                content=PAGE,
            ),
            Attachment(
                AttachmentKind.DOCUMENT, name="big.zip", mime="application/zip", size=90_000_000
            ),
        ),
    )


async def test_kept_files_open_for_operators_only_and_never_as_a_page(
    gateway: Gateway, served: str
) -> None:
    await gateway.engine.handle(with_files(gateway, "ivan@example.ru"))
    async with gateway.sessions() as session:
        letter = await session.scalar(select(Message).where(Message.direction == Direction.IN))
    assert letter is not None
    assert Path(letter.attachments[0]["stored_path"]).read_bytes() == PNG
    token = await signed_in(gateway, "Anna")
    files = f"{served}/operator/files/{letter.id}"
    signed = {"Cookie": f"{SESSION_COOKIE}={token}"}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{files}/1") as anonymous:
            assert anonymous.status == 401
        async with http.get(f"{files}/1", headers=signed) as picture:
            assert picture.status == 200
            assert await picture.read() == PNG
            assert picture.headers["Content-Type"] == "image/png"
            assert picture.headers["Content-Disposition"].startswith("inline;")
        async with http.get(f"{files}/2", headers=signed) as page:
            assert page.status == 200
            assert await page.read() == PAGE
            assert page.headers["Content-Type"] == "application/octet-stream"
            assert page.headers["X-Content-Type-Options"] == "nosniff"
            assert "sandbox" in page.headers["Content-Security-Policy"]
            disposition = page.headers["Content-Disposition"]
            assert disposition.startswith("attachment;")
            # the client's own name, percent-encoded
            assert (
                "filename*=UTF-8''%D1%81%D1%87%D1%91%D1%82%20%C2%AB%D0%BC%D0%B0%D0%B9%C2%BB.html"
                in (disposition)
            )
        for missing in ("3", "4", "0", "x", "99999999999999999999"):  # no bytes / no such file
            async with http.get(f"{files}/{missing}", headers=signed) as refused:
                assert refused.status == 404, missing
        async with http.get(f"{served}/operator/files/999999/1", headers=signed) as refused:
            assert refused.status == 404


async def test_the_thread_shows_the_picture_and_links_the_files_it_has(
    gateway: Gateway, served: str
) -> None:
    await gateway.engine.handle(with_files(gateway, "olga@example.ru"))
    assert len(await gateway.queue.waiting()) == 1
    async with chromium() as browser:
        page = await (await browser.new_context(locale="ru-RU")).new_page()
        page.on("pageerror", lambda error: pytest.fail(f"page error: {error}"))
        await sign_in(page, served, gateway, "Anna")
        await page.locator("#queue-rows tr").first.click()
        files = page.locator(".msg .files")
        await expect(files.locator("a.file")).to_have_count(2)
        picture = files.locator("img.picture")
        await expect(picture).to_have_attribute("alt", "экран.png")
        loaded = "img => img.decode().then(() => img.naturalWidth)"  # fetched with the cookie
        assert await picture.evaluate(loaded) == 1
        await expect(files.locator("span.file")).to_contain_text("big.zip")  # no bytes here
        hrefs = await files.locator("a.file").evaluate_all("links => links.map(a => a.href)")
        assert [h.rsplit("/", 1)[-1] for h in hrefs] == ["1", "2"]


async def test_an_operator_sends_a_picture_the_visitor_alone_opens(
    gateway: Gateway, served: str
) -> None:
    async with chromium() as browser:
        visitor = await (await browser.new_context(locale="ru-RU")).new_page()
        visitor.on("pageerror", lambda error: pytest.fail(f"page error: {error}"))
        await visitor.goto(served + "/")
        await visitor.click("#human")
        await expect(visitor.locator(".row.bot")).to_have_count(1)

        console = await (await browser.new_context(locale="ru-RU")).new_page()
        console.on("pageerror", lambda error: pytest.fail(f"page error: {error}"))
        await sign_in(console, served, gateway, "Anna")
        await console.keyboard.press("Alt+N")
        await expect(console.locator(".status-pill")).to_have_text("в работе")
        picture: FilePayload = {"name": "схема.png", "mimeType": "image/png", "buffer": PNG}
        await console.set_input_files("#attach-file", files=[picture])
        await expect(console.locator("#outgoing .file")).to_contain_text("схема.png")
        await console.click("#send-reply")  # no text: the file alone
        await expect(console.locator("#outgoing")).to_be_hidden()

        sent = visitor.locator(".row.operator .files a.file")
        await expect(sent).to_contain_text("схема.png")
        shown = sent.locator("img.picture")
        assert await shown.evaluate("img => img.decode().then(() => img.naturalWidth)") == 1
        href = await sent.get_attribute("href")
        assert href is not None and href.startswith("/files/")
        async with Visitor(served) as stranger:  # another browser: not theirs to open
            async with stranger.http.get(served + href) as refused:
                assert refused.status == 404
    async with gateway.sessions() as session:
        reply = await session.scalar(select(Message).where(Message.author == Author.OPERATOR))
    assert reply is not None and Path(reply.attachments[0]["stored_path"]).read_bytes() == PNG
