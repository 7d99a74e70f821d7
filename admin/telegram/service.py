"""The operators' admin bot: aiogram's Bot and Dispatcher, our own poll loop, the feed.

`AdminBot.run()` waits for the poller lease (one process per bot token polls it), then
polls Telegram and follows the desk feed until cancelled. Updates are handed to the
dispatcher chat by chat, in order within a chat, and confirmed (the next `getUpdates`
offset) only after their handlers ran; a handler that fails is logged and the operator
told, never retried forever.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Update
from redis.asyncio import Redis

from admin.accounts import Accounts
from admin.desk import Desk
from admin.reports import Report
from admin.telegram.audience import Audience
from admin.telegram.focus import Focus, OperatorFiles
from admin.telegram.forum import ForumTopics
from admin.telegram.middlewares import DeskErrors, OperatorAccess
from admin.telegram.notifier import AdminNotifier
from admin.telegram.routers import build_routers
from admin.telegram.routers.report import MakeReport
from admin.telegram.sender import AdminSender, ChatRef
from admin.telegram.state import ActiveConversations, Invites
from channels.delivery import RetryPolicy
from channels.polling import PollerLease
from channels.telegram import API_ERRORS, retry_after_of
from core.db import SessionFactory
from core.events import DeskFeed
from core.retry import until_done
from routing.presence import Presence

__all__ = ["AdminBot", "AdminBotOptions", "DailySummaries"]

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "callback_query"]

#: Runs the daily summaries until cancelled, handing each report to the given sender.
DailySummaries = Callable[[Callable[[Report], Awaitable[None]]], Coroutine[Any, Any, None]]


@dataclass(frozen=True, slots=True)
class AdminBotOptions:
    token: str
    api_base: str | None
    audience: Audience
    files_dir: Path
    poll_timeout: int = 25
    request_timeout: float = 30.0
    retry: RetryPolicy = RetryPolicy()


class AdminBot:
    def __init__(
        self,
        options: AdminBotOptions,
        *,
        desk: Desk,
        feed: DeskFeed,
        sessions: SessionFactory,
        redis: Redis,
        presence: Presence,
        lease: PollerLease,
        make_report: MakeReport,
        accounts: Accounts,
        console_url: str,
        daily_summaries: DailySummaries | None = None,
    ) -> None:
        server = TelegramAPIServer.from_base(options.api_base) if options.api_base else None
        session = (
            AiohttpSession(api=server, timeout=options.request_timeout)
            if server
            else AiohttpSession(timeout=options.request_timeout)
        )
        self.bot = Bot(options.token, session=session)
        self._options = options
        self._lease = lease
        self._daily_summaries = daily_summaries
        self.sender = AdminSender(self.bot, retry=options.retry)
        audience = options.audience
        topics = (
            ForumTopics(redis, self.sender, audience.chat_id)
            if audience.forum and audience.chat_id is not None
            else None
        )
        active = ActiveConversations(redis)
        self.invites = Invites(redis)
        self.notifier = AdminNotifier(
            desk=desk,
            feed=feed,
            sender=self.sender,
            sessions=sessions,
            redis=redis,
            presence=presence,
            active=active,
            audience=audience,
            topics=topics,
        )
        self.dispatcher = Dispatcher(
            desk=desk,
            sender=self.sender,
            active=active,
            invites=self.invites,
            zone=audience.zone,
            focus=Focus(desk, active, topics),
            files=OperatorFiles(self.bot, options.files_dir),
            make_report=make_report,
            accounts=accounts,
            console_url=console_url,
        )
        for observer in (self.dispatcher.message, self.dispatcher.callback_query):
            observer.outer_middleware(OperatorAccess())
            observer.middleware(DeskErrors())
        self.dispatcher.include_routers(*build_routers())

    async def run(self) -> None:
        """Poll and follow the feed while holding the lease; until cancelled."""
        await self._lease.hold(self._work)

    async def aclose(self) -> None:
        await self.bot.session.close()

    async def _work(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self._poll())
            group.create_task(self.notifier.follow())
            chat_id = self._options.audience.chat_id
            if self._daily_summaries is not None and chat_id is not None:
                group.create_task(
                    self._daily_summaries(
                        lambda report: self._post_report(ChatRef(chat_id), report)
                    )
                )

    async def _post_report(self, to: ChatRef, report: Report) -> None:
        await self.sender.text(to, report.text)
        await self.sender.photo(to, report.png, name="report.png")

    async def _poll(self) -> None:
        await self.bot.delete_webhook(drop_pending_updates=False)
        offset: int | None = None
        timeout = self._options.poll_timeout
        while True:
            updates = await until_done(
                functools.partial(
                    self.bot.get_updates,
                    offset=offset,
                    timeout=timeout,
                    allowed_updates=ALLOWED_UPDATES,
                    request_timeout=int(timeout + self._options.request_timeout),
                ),
                retry_on=API_ERRORS,
                hint=retry_after_of,
                what="admin bot getUpdates",
            )
            if updates:
                await self._handle(updates)
                offset = updates[-1].update_id + 1

    async def _handle(self, updates: list[Update]) -> None:
        """In order within each chat, chats side by side."""
        by_chat: dict[int, list[Update]] = {}
        for update in updates:
            by_chat.setdefault(_chat_of(update), []).append(update)
        await asyncio.gather(*(self._handle_chat(chat) for chat in by_chat.values()))

    async def _handle_chat(self, updates: list[Update]) -> None:
        for update in updates:
            try:
                await self.dispatcher.feed_update(self.bot, update)
            except Exception:
                log.exception("admin bot update %s failed", update.update_id)


def _chat_of(update: Update) -> int:
    if update.message is not None:
        return update.message.chat.id
    if update.callback_query is not None:
        return update.callback_query.from_user.id
    return 0
