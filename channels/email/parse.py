"""One raw letter → one `InboundMessage`. Never raises on bad mail: what cannot be read
is left empty, and the raw bytes' hash stands in for a missing Message-ID.

The sender is `From`, and replies go to it (`chat_id`): a `Reply-To` is reported in
`meta["reply_to"]` for the operator, never taken as the client's address. `meta["dmarc"]`
is what the receiving server vouched for (`channels/email/authentication.py`)."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Collection
from dataclasses import replace
from email import message_from_bytes, policy
from email.message import Message
from email.utils import parsedate_to_datetime

from channels.attachment_store import AttachmentStore
from channels.email.attachments import extract_attachments
from channels.email.authentication import dmarc_verdict
from channels.email.body import read_body
from channels.email.headers import header, normalise_address, reply_address, sender
from channels.email.quotes import read_reply
from channels.email.robots import classify
from channels.email.threading import (
    clean_subject,
    forwarded_subject,
    parse_ids,
    reply_chain,
    subject_tag,
)
from core.contracts import ChannelKind, InboundMessage

__all__ = ["MailParser", "synthetic_id"]

log = logging.getLogger(__name__)

MAX_TEXT_CHARS = 20_000
MAX_ORIGINAL_CHARS = 500_000
_TRUNCATED = "\n[…]"


class MailParser:
    """Parses letters arriving at the support mailbox `address`."""

    def __init__(
        self, address: str, store: AttachmentStore, trusted_authserv_ids: Collection[str] = ()
    ) -> None:
        self.own = frozenset({normalise_address(address)})
        self.store = store
        self.trusted_authserv_ids = tuple(trusted_authserv_ids)

    def parse(self, raw: bytes) -> InboundMessage:
        try:
            return self._parse(raw)
        except Exception as exc:  # bad mail must be stored, not crash the inbox
            log.exception("unreadable letter of %d bytes, storing it raw", len(raw))
            return _unreadable(raw, exc)

    def _parse(self, raw: bytes) -> InboundMessage:
        message = message_from_bytes(raw, policy=policy.default)
        message_id = (parse_ids(header(message, "Message-ID")) or [synthetic_id(raw)])[0]
        address, display_name = sender(message)
        answer_to = reply_address(message)
        if answer_to in self.own:
            answer_to = None
        automation = classify(message, address, self.own)
        subject = header(message, "Subject")
        reply_to = reply_chain(header(message, "In-Reply-To"), header(message, "References"))
        if automation.bounce:
            reply_to = tuple(dict.fromkeys(reply_to + automation.bounced_ids))
        body = read_body(message)
        reply = read_reply(body, forwarded_subject=forwarded_subject(subject))
        fresh = reply.fresh
        thread_hint = subject_tag(subject)
        if not fresh and not reply_to and thread_hint is None:
            fresh = clean_subject(subject)  # a question asked in the subject line only
        text, text_cut = _limit(fresh, MAX_TEXT_CHARS)
        original, original_cut = _limit(body, MAX_ORIGINAL_CHARS)
        meta: dict[str, object] = {
            "to": header(message, "To"),
            "dmarc": dmarc_verdict(message, self.trusted_authserv_ids, address),
        }
        if answer_to and answer_to != address:
            meta["reply_to"] = answer_to
        if reply.signature:
            meta["signature"] = _limit(reply.signature, MAX_TEXT_CHARS)[0]
        if reply.forwarded:
            meta["forwarded"] = [letter.as_json() for letter in reply.forwarded]
        if automation.reason:
            meta["automation"] = automation.reason
        if not address:
            automation = replace(automation, automated=True, reason="no sender address")
            meta["automation"] = automation.reason
        if automation.failed_recipients:
            meta["failed_recipients"] = list(automation.failed_recipients)
        if text_cut or original_cut:
            meta["truncated"] = True
        if message.defects:
            meta["defects"] = [type(defect).__name__ for defect in message.defects][:10]
        return InboundMessage(
            channel=ChannelKind.EMAIL,
            external_user_id=address or f"unknown-sender:{message_id}",
            platform_message_id=message_id,
            text=text,
            display_name=display_name,
            chat_id=address or None,
            attachments=extract_attachments(message, self.store),
            sent_at=_date(message),
            reply_to=reply_to,
            thread_hint=thread_hint,
            automated=automation.automated,
            bounce=automation.bounce,
            subject=subject or None,
            original_text=original,
            meta=meta,
        )


def synthetic_id(raw: bytes) -> str:
    """A stable Message-ID for a letter without one: the same bytes, the same id."""
    return f"<sha256.{hashlib.sha256(raw).hexdigest()[:32]}@switchboard.invalid>"


def _unreadable(raw: bytes, exc: Exception) -> InboundMessage:
    text, _ = _limit(raw.decode("utf-8", "replace"), MAX_ORIGINAL_CHARS)
    message_id = synthetic_id(raw)
    return InboundMessage(
        channel=ChannelKind.EMAIL,
        external_user_id=f"unknown-sender:{message_id}",
        platform_message_id=message_id,
        text="",
        original_text=text,
        automated=True,
        meta={"automation": f"unreadable: {type(exc).__name__}"},
    )


def _limit(text: str, limit: int) -> tuple[str, bool]:
    text = text.replace("\x00", "")  # PostgreSQL text cannot hold NUL
    if len(text) <= limit:
        return text, False
    return text[:limit] + _TRUNCATED, True


def _date(message: Message) -> dt.datetime | None:
    value = header(message, "Date")
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (ValueError, TypeError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)
