"""The Telegram channel: aiogram's Bot as the HTTP client, our own confirmation order.

aiogram's dispatcher confirms an update (the next `getUpdates` offset) before or
regardless of its handler, so the poll loop here calls `Bot.get_updates` itself and moves
the offset past a batch only after the sink stored every message in it. Webhook mode
answers 200 only after the sink stored the update; any other status makes Telegram
deliver it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal, TypeVar

from aiogram import Bot
from aiogram.client.telegram import PRODUCTION, TelegramAPIServer
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import (
    AnswerCallbackQuery,
    DeleteWebhook,
    GetUpdates,
    SendDocument,
    SendMessage,
    SendPhoto,
    SetWebhook,
)
from aiogram.methods.base import Response
from aiogram.types import BufferedInputFile, CallbackQuery, Message, Update
from aiohttp import web
from pydantic import ValidationError

from channels.attachment_store import AttachmentStore
from channels.delivery import (
    Failure,
    RetryPolicy,
    SendLedger,
    SendRateLimiter,
    nothing_to_send,
    send_with_retries,
)
from channels.kept_files import read_kept_file
from channels.polling import PollerLease, UnsharedLease, read_each, store_all
from channels.telegram.client_files import telegram_client_files
from channels.telegram.inbound import ALLOWED_UPDATES, to_inbound
from channels.telegram.outbound import reply_markup
from channels.telegram.session import JsonBodySession
from channels.text import split_text
from core.card_numbers import mask_card_numbers
from core.contracts import (
    Attachment,
    AttachmentKind,
    ChannelKind,
    DeliveryError,
    DeliveryFault,
    DeliveryReceipt,
    InboundMessage,
    InboundSink,
    OutboundMessage,
)
from core.retry import until_done

__all__ = [
    "API_ERRORS",
    "IN_FLIGHT",
    "SECRET_HEADER",
    "TEXT_LIMIT",
    "TelegramChannel",
    "poller_name",
    "retry_after_of",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

TEXT_LIMIT = 4096
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
IN_FLIGHT = 8
"""Sends awaiting Telegram's answer at once. Telegram has no idempotency key: a send whose
answer a crash cut off is sent again at the restart, so this bounds the replies a crash
can repeat. Even at a 0.2 s round trip, 8 at once carry more than the bot-wide 30
messages a second that Telegram allows."""


def poller_name(token: str) -> str:
    """The lease name of this bot's poller: the bot id, never the secret part of the token."""
    return f"telegram:{token.partition(':')[0]}"


class TelegramChannel:
    """A Telegram bot. Polling (`run` holds `lease` while it polls) or webhook (`run`
    registers `webhook_url`; mount `webhook_route(path)` on the gateway's web app)."""

    kind = ChannelKind.TELEGRAM

    def __init__(
        self,
        token: str,
        *,
        api_base: str | None = None,
        mode: Literal["polling", "webhook"] = "polling",
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        lease: PollerLease | None = None,
        poll_timeout: int = 25,
        request_timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        limiter: SendRateLimiter | None = None,
        ledger: SendLedger | None = None,
        files: AttachmentStore | None = None,
    ) -> None:
        """`files`: where the bytes of clients' files are kept (channels/client_files.py);
        None keeps their metadata and Telegram ids only."""
        if mode == "webhook" and not (webhook_url and webhook_secret):
            raise ValueError("Telegram webhook mode needs webhook_url and webhook_secret")
        server = TelegramAPIServer.from_base(api_base) if api_base else PRODUCTION
        self._bot = Bot(token, session=JsonBodySession(api=server, timeout=request_timeout))
        self._mode = mode
        self._webhook_url = webhook_url
        self._webhook_secret = webhook_secret
        self._lease = lease or UnsharedLease()
        self._poll_timeout = poll_timeout
        self._request_timeout = request_timeout
        self._retry = retry or RetryPolicy()
        self._limiter = limiter or SendRateLimiter(
            per_chat_rate=1.0, per_chat_burst=3, global_rate=30.0, global_burst=30
        )
        self._ledger = ledger
        self._in_flight = asyncio.Semaphore(IN_FLIGHT)
        self._answer_models = _answer_models()
        self._sink: InboundSink | None = None
        self._files = (
            telegram_client_files(self._bot, files, timeout=request_timeout) if files else None
        )

    async def run(self, sink: InboundSink) -> None:
        if self._mode == "webhook":
            await self._serve_webhook(sink)
        else:
            await self._lease.hold(functools.partial(self._poll, sink))

    async def send(self, message: OutboundMessage) -> DeliveryReceipt:
        chat = _chat_id(message.chat_id)
        pieces = split_text(message.text, TEXT_LIMIT)
        if not pieces and not message.attachments:
            raise nothing_to_send()
        markup = reply_markup(message)
        calls: list[Callable[[], Awaitable[Message]]] = [
            functools.partial(
                self._bot.send_message,
                chat_id=chat,
                text=piece,
                reply_markup=markup if index == len(pieces) - 1 else None,
            )
            for index, piece in enumerate(pieces)
        ]
        calls += [
            await self._attachment_call(chat, attachment) for attachment in message.attachments
        ]
        first: int | None = None
        for index, call in enumerate(calls):
            key = f"telegram:{message.chat_id}:{message.outbound_id}:{index}"
            message_id = await self._send_piece(key, message.chat_id, call, recall=message.resent)
            first = message_id if first is None else first
        return DeliveryReceipt(f"{message.chat_id}:{first}")

    async def typing(self, chat_id: str) -> None:
        """ "typing…" at the top of the client's chat, for about five seconds."""
        await self._bot.send_chat_action(chat_id=_chat_id(chat_id), action="typing")

    async def _send_piece(
        self, key: str, chat_id: str, call: Callable[[], Awaitable[Message]], *, recall: bool
    ) -> int:
        """Send one piece, unless (`recall`: a resend) the ledger says an earlier run already
        got it through. The ledger is written while the send still counts as in flight
        (see IN_FLIGHT)."""
        ledger = self._ledger
        if recall and ledger is not None and (known := await ledger.recall(key)) is not None:
            return int(known)

        async def send_and_remember() -> Message:
            sent = await call()
            if ledger is not None:
                await ledger.remember(key, str(sent.message_id))
            return sent

        return (await self._deliver(chat_id, send_and_remember)).message_id

    async def aclose(self) -> None:
        await self._bot.session.close()

    def webhook_route(self, path: str) -> web.RouteDef:
        return web.post(path, self.handle_webhook)

    async def handle_webhook(self, request: web.Request) -> web.Response:
        """One update from Telegram: 401 on a wrong secret, 503 until `run` started,
        500 when it could not be stored (Telegram retries), 200 once stored."""
        expected, given = self._webhook_secret, request.headers.get(SECRET_HEADER, "")
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            return web.Response(status=401, text="wrong secret token")
        sink = self._sink
        if sink is None:
            return web.Response(status=503, text="not ready")
        body = await request.read()
        try:
            update = Update.model_validate_json(body, context={"bot": self._bot})
        except ValidationError:
            # Telegram would resend a malformed update forever; keep it in the log instead.
            log.error("malformed Telegram update dropped: %r", body[:2000])
            return web.Response(text="malformed update")
        messages = await self._read([update])
        if messages:
            try:
                await sink(messages)
            except Exception:
                log.exception("storing Telegram update %s failed", update.update_id)
                return web.Response(status=500, text="not stored")
            await self._delete_card_numbers(messages)
        if update.callback_query is not None:
            await self._answer_callback(update.callback_query)
        return web.Response(text="ok")

    async def _serve_webhook(self, sink: InboundSink) -> None:
        await self._until_done(
            "setWebhook",
            functools.partial(
                self._bot.set_webhook,
                url=self._webhook_url or "",
                secret_token=self._webhook_secret,
                allowed_updates=ALLOWED_UPDATES,
                drop_pending_updates=False,
            ),
        )
        self._sink = sink
        try:
            await asyncio.Event().wait()
        finally:
            self._sink = None

    async def _poll(self, sink: InboundSink) -> None:
        # getUpdates answers 409 while a webhook is set.
        await self._until_done(
            "deleteWebhook", functools.partial(self._bot.delete_webhook, drop_pending_updates=False)
        )
        offset: int | None = None
        while True:
            updates = await until_done(
                functools.partial(
                    self._bot.get_updates,
                    offset=offset,
                    timeout=self._poll_timeout,
                    allowed_updates=ALLOWED_UPDATES,
                    request_timeout=int(self._poll_timeout + self._request_timeout),
                ),
                retry_on=API_ERRORS,
                hint=retry_after_of,
                what="Telegram getUpdates",
            )
            if not updates:
                continue
            messages = await self._read(updates)
            await store_all(sink, messages)
            await self._delete_card_numbers(messages)
            await asyncio.gather(
                *(
                    self._answer_callback(u.callback_query)
                    for u in updates
                    if u.callback_query is not None
                )
            )
            offset = updates[-1].update_id + 1

    async def _read(self, updates: list[Update]) -> list[InboundMessage]:
        messages = read_each(updates, to_inbound, channel="telegram")
        return await self._files.fetch(messages) if self._files else messages

    async def _delete_card_numbers(self, messages: Sequence[InboundMessage]) -> None:
        """A client's message with a card number, stored masked, is deleted from the chat
        too (a bot may delete a user's message in their private chat within 48 hours), so
        the number does not stay on Telegram's side either; one that cannot be is left."""
        for message in messages:
            if message.action is None and mask_card_numbers(message.text) != message.text:
                chat_id, _, message_id = message.platform_message_id.rpartition(":")
                try:
                    await self._bot.delete_message(_chat_id(chat_id), int(message_id))
                except (TelegramAPIError, ClientDecodeError) as exc:
                    log.warning("Telegram message %s with a card number stays: %s", message_id, exc)

    async def _answer_callback(self, query: CallbackQuery) -> None:
        """Stop the button's spinner; a failure here costs nothing but the spinner."""
        with contextlib.suppress(TelegramAPIError, ClientDecodeError):
            await self._bot.answer_callback_query(query.id)

    async def _deliver(self, chat_id: str, call: Callable[[], Awaitable[T]]) -> T:
        async def limited() -> T:
            await self._limiter.acquire(chat_id)
            async with self._in_flight:
                return await call()

        return await send_with_retries(
            limited, classify_failure, self._retry, what=f"Telegram send to {chat_id}"
        )

    async def _attachment_call(
        self, chat: int | str, attachment: Attachment
    ) -> Callable[[], Awaitable[Message]]:
        """The call that sends one attachment; a kept file is read now, before any piece of
        the message goes out (`read_kept_file`)."""
        source: str | BufferedInputFile
        if attachment.stored_path:
            kept = await read_kept_file(attachment)
            source = BufferedInputFile(kept.content, filename=kept.name)
        elif attachment.file_id or attachment.url:
            source = attachment.file_id or attachment.url or ""
        else:
            raise DeliveryError(
                f"attachment {attachment.name!r} has no source",
                permanent=True,
                fault=DeliveryFault.FILE,
            )
        if attachment.kind is AttachmentKind.PHOTO:
            return functools.partial(self._bot.send_photo, chat_id=chat, photo=source)
        return functools.partial(self._bot.send_document, chat_id=chat, document=source)

    async def _until_done(self, what: str, call: Callable[[], Awaitable[object]]) -> None:
        """A setup call that the channel cannot work without: retried until it succeeds."""
        await until_done(call, retry_on=API_ERRORS, hint=retry_after_of, what=f"Telegram {what}")


def _answer_models() -> tuple[object, ...]:
    """aiogram validates every answer as `Response[<the method's result>]`, a pydantic
    generic model that pydantic keeps only while something refers to it. Held here, it is
    built once; unreferenced, each call built it anew (a tenth of a busy gateway's CPU)."""
    return tuple(
        Response[method.__returning__]  # type: ignore[name-defined]
        for method in (
            GetUpdates,
            SendMessage,
            SendPhoto,
            SendDocument,
            AnswerCallbackQuery,
            SetWebhook,
            DeleteWebhook,
        )
    )


def _chat_id(chat_id: str) -> int | str:
    try:
        return int(chat_id)
    except ValueError:
        return chat_id


API_ERRORS = (TelegramAPIError, ClientDecodeError)
"""What a failed Bot API call raises (a poller retries these)."""


def retry_after_of(exc: BaseException) -> float | None:
    """The wait Telegram asked for (429), if it did."""
    return float(exc.retry_after) if isinstance(exc, TelegramRetryAfter) else None


def classify_failure(exc: Exception) -> Failure | None:
    """How a failed Bot API call is handled: retried, permanent, or a configuration fault."""
    if isinstance(exc, TelegramRetryAfter):
        return Failure(retryable=True, retry_after=float(exc.retry_after))
    if isinstance(exc, (TelegramForbiddenError, TelegramNotFound, TelegramMigrateToChat)):
        return Failure(retryable=False, permanent=True, fault=DeliveryFault.RECIPIENT)
    if isinstance(exc, TelegramEntityTooLarge):
        return Failure(retryable=False, permanent=True, fault=DeliveryFault.FILE)
    if isinstance(exc, TelegramBadRequest):
        return Failure(retryable=False, permanent=True, fault=_bad_request_fault(exc.message))
    if isinstance(exc, (TelegramUnauthorizedError, TelegramConflictError)):
        # configuration: fixable, not by retrying now
        return Failure(retryable=False, fault=DeliveryFault.CONFIGURATION)
    if isinstance(exc, ClientDecodeError):
        # Unparsable text (a proxy's error page) is retried; an `ok` answer we could not
        # read means the message went out, and sending it again would duplicate it.
        delivered = isinstance(exc.data, dict) and exc.data.get("ok") is True
        return Failure(retryable=not delivered)
    if isinstance(exc, (TelegramServerError, TelegramNetworkError, TelegramAPIError)):
        return Failure(retryable=True)
    return None


_RECIPIENT_GONE = ("chat not found", "user not found", "peer_id_invalid", "rights")
_FILE_REFUSED = ("file", "photo", "document", "http url content", "web page content")


def _bad_request_fault(description: str) -> DeliveryFault:
    """A 400 names the chat ("chat not found"), a file ("wrong file identifier") or the
    message itself ("message is too long")."""
    text = description.lower()
    if any(words in text for words in _RECIPIENT_GONE):
        return DeliveryFault.RECIPIENT
    if any(words in text for words in _FILE_REFUSED):
        return DeliveryFault.FILE
    return DeliveryFault.CONTENT
