"""Telegram webhook mode: the secret token is checked, and an update is acknowledged only
after it was stored, so Telegram delivers it again when storing failed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from channel_harness import ListSink, until
from fake_telegram import FakeTelegram
from test_telegram import USER

from channels.telegram import SECRET_HEADER, TelegramChannel
from core.contracts import Action

SECRET = "s3cret-Token_1"


@contextlib.asynccontextmanager
async def webhook_gateway(telegram: FakeTelegram, sink: ListSink) -> AsyncIterator[str]:
    """A web app with the channel's route mounted, and the channel running in webhook mode."""
    app = web.Application()
    runner = web.AppRunner(app)
    holder: dict[str, TelegramChannel] = {}

    async def route(request: web.Request) -> web.StreamResponse:
        return await holder["channel"].handle_webhook(request)

    app.router.add_post("/telegram/webhook", route)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    url = f"http://127.0.0.1:{port}/telegram/webhook"
    channel = TelegramChannel(
        telegram.token,
        api_base=telegram.base_url,
        mode="webhook",
        webhook_url=url,
        webhook_secret=SECRET,
    )
    holder["channel"] = channel
    task = asyncio.create_task(channel.run(sink))
    try:
        yield url
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await channel.aclose()
        await runner.cleanup()


async def test_webhook_registers_and_stores_updates(telegram: FakeTelegram) -> None:
    sink = ListSink()
    async with webhook_gateway(telegram, sink) as url:
        await until(lambda: bool(telegram.calls_of("setWebhook")))
        params = telegram.calls_of("setWebhook")[0].params
        assert params["url"] == url and params["secret_token"] == SECRET
        assert set(params["allowed_updates"]) == {"message", "edited_message", "callback_query"}
        telegram.client_message(USER, "Здравствуйте, вопрос по кредиту")
        telegram.client_press(USER, "handoff:", message_id=1)
        await until(lambda: telegram.pending == 0)
    assert [m.text for m in sink.stored][0] == "Здравствуйте, вопрос по кредиту"
    assert sink.stored[1].action == Action.HANDOFF
    assert len(telegram.callback_answers) == 1


async def test_wrong_secret_is_refused(telegram: FakeTelegram) -> None:
    sink = ListSink()
    async with webhook_gateway(telegram, sink) as url, aiohttp.ClientSession() as http:
        update = {
            "update_id": 1,
            "message": {
                "message_id": 1,
                "date": 0,
                "text": "forged",
                "chat": {"id": 7, "type": "private"},
                "from": {"id": 7, "is_bot": False, "first_name": "X"},
            },
        }
        for headers in ({}, {SECRET_HEADER: "wrong"}):
            async with http.post(url, json=update, headers=headers) as response:
                assert response.status == 401
        async with http.post(url, data=b"{not json", headers={SECRET_HEADER: SECRET}) as response:
            assert response.status == 200  # malformed: logged, not retried forever
    assert sink.stored == []


async def test_update_is_redelivered_until_stored(telegram: FakeTelegram) -> None:
    sink = ListSink(failures=2)
    async with webhook_gateway(telegram, sink):
        telegram.client_message(USER, "не потеряйте меня")
        await until(lambda: telegram.pending == 0)
    assert [m.text for m in sink.stored] == ["не потеряйте меня"]
    assert telegram.webhook_statuses[:3] == [500, 500, 200]
