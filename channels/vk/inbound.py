"""VK Bots Long Poll events as `InboundMessage`: `message_new`, `message_edit` and
`message_event` (callback buttons). Only private dialogs with the community count;
chats (peer ids from 2e9) and the community's own messages are ignored."""

from __future__ import annotations

import datetime as dt
import json
import logging
import mimetypes
from collections.abc import Mapping
from typing import Any

from channels.buttons import decode_button
from core.contracts import Action, Attachment, AttachmentKind, ChannelKind, InboundMessage

__all__ = ["BUTTON_KEY", "attachment_reference", "sender_of", "to_inbound"]

BUTTON_KEY = "sb"  # our buttons' payload: {"sb": "<action>:<payload>"}
_CHAT_PEER_BASE = 2_000_000_000

log = logging.getLogger(__name__)
_LANGUAGES = {0: "ru", 1: "uk", 2: "be", 3: "en", 4: "es", 6: "de", 12: "fr", 97: "kk"}

Event = Mapping[str, Any]


def to_inbound(event: Event, names: Mapping[int, str]) -> InboundMessage | None:
    kind, body = event.get("type"), event.get("object")
    if not isinstance(body, Mapping):
        return None
    if kind == "message_new":
        return _from_message(
            body.get("message") or {}, body.get("client_info") or {}, names, edited=False
        )
    if kind == "message_edit":
        return _from_message(body, {}, names, edited=True)
    if kind == "message_event":
        return _from_press(body, names)
    return None


def sender_of(event: Event) -> int | None:
    """The user id behind an event, to look up names for a batch at once."""
    body = event.get("object") or {}
    if event.get("type") == "message_new":
        body = body.get("message") or {}
    user = body.get("from_id", body.get("user_id"))
    return user if isinstance(user, int) and user > 0 else None


def _from_message(
    message: Mapping[str, Any],
    client_info: Mapping[str, Any],
    names: Mapping[int, str],
    *,
    edited: bool,
) -> InboundMessage | None:
    peer_id, from_id = message.get("peer_id"), message.get("from_id")
    if (
        not isinstance(peer_id, int)
        or not isinstance(from_id, int)
        or from_id <= 0
        or peer_id >= _CHAT_PEER_BASE
    ):
        return None
    action, payload = _button_payload(message.get("payload"))
    meta: dict[str, str] = {}
    if message.get("ref"):
        meta["ref"] = str(message["ref"])
        if action is Action.START:
            payload = str(message["ref"])
    if message.get("fwd_messages"):
        meta["forwarded"] = "true"
    reply = message.get("reply_message") or {}
    return InboundMessage(
        channel=ChannelKind.VK,
        external_user_id=str(from_id),
        platform_message_id=f"{peer_id}:{message.get('conversation_message_id')}",
        text=str(message.get("text") or ""),
        display_name=names.get(from_id),
        chat_id=str(peer_id),
        attachments=_attachments(message),
        sent_at=dt.datetime.fromtimestamp(int(message.get("date") or 0), dt.UTC),
        locale=_LANGUAGES.get(client_info.get("lang_id", -1)),
        action=action,
        payload=payload,
        edited=edited,
        reply_to=(f"{peer_id}:{reply['conversation_message_id']}",)
        if reply.get("conversation_message_id")
        else (),
        meta=meta,
    )


def _from_press(body: Mapping[str, Any], names: Mapping[int, str]) -> InboundMessage | None:
    user_id, peer_id, event_id = body.get("user_id"), body.get("peer_id"), body.get("event_id")
    data = body.get("payload")
    pressed = decode_button(data.get(BUTTON_KEY)) if isinstance(data, Mapping) else None
    if (
        pressed is None
        or not isinstance(user_id, int)
        or not isinstance(peer_id, int)
        or peer_id >= _CHAT_PEER_BASE
    ):
        return None
    action, payload = pressed
    cmid = body.get("conversation_message_id")
    return InboundMessage(
        channel=ChannelKind.VK,
        external_user_id=str(user_id),
        platform_message_id=f"ev:{event_id}",
        display_name=names.get(user_id),
        chat_id=str(peer_id),
        action=action,
        payload=payload,
        reply_to=(f"{peer_id}:{cmid}",) if cmid else (),
    )


def _button_payload(raw: Any) -> tuple[Action | None, str | None]:
    """A text button's payload: our own buttons, or VK's "Начать" (`{"command":"start"}`)."""
    if not raw:
        return None, None
    try:
        data = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return None, None
    if not isinstance(data, Mapping):
        return None, None
    if data.get("command") == "start":
        return Action.START, None
    pressed = decode_button(data.get(BUTTON_KEY))
    return pressed if pressed is not None else (None, None)


def _attachments(message: Mapping[str, Any]) -> tuple[Attachment, ...]:
    found = [
        _readable_attachment(item)
        for item in message.get("attachments") or ()
        if isinstance(item, Mapping)
    ]
    geo = message.get("geo")
    if isinstance(geo, Mapping) and isinstance(geo.get("coordinates"), Mapping):
        where = geo["coordinates"]
        found.append(
            Attachment(
                AttachmentKind.LOCATION, url=f"geo:{where.get('latitude')},{where.get('longitude')}"
            )
        )
    return tuple(found)


def _readable_attachment(item: Mapping[str, Any]) -> Attachment:
    """An attachment we cannot read is kept as an unknown one: the message still counts."""
    try:
        return _attachment(item)
    except (TypeError, ValueError, AttributeError, KeyError):
        log.warning("unreadable VK attachment kept as unknown: %r", item)
        return Attachment(AttachmentKind.OTHER, name=str(item.get("type"))[:100])


def _attachment(item: Mapping[str, Any]) -> Attachment:
    kind = str(item.get("type"))
    body = item.get(kind) or {}
    file_id = attachment_reference(kind, body)
    if kind == "photo":
        sizes = body.get("sizes") or []
        largest: Mapping[str, Any] = max(
            sizes, key=lambda s: s.get("width", 0) * s.get("height", 0), default={}
        )
        return Attachment(
            AttachmentKind.PHOTO, file_id=file_id, url=largest.get("url"), mime="image/jpeg"
        )
    if kind == "doc":
        name = body.get("title")
        return Attachment(
            AttachmentKind.DOCUMENT,
            file_id=file_id,
            name=name,
            size=body.get("size"),
            url=body.get("url"),
            mime=mimetypes.guess_type(name or "")[0],
        )
    if kind == "audio_message":
        return Attachment(
            AttachmentKind.VOICE, file_id=file_id, url=body.get("link_ogg"), mime="audio/ogg"
        )
    if kind == "audio":
        return Attachment(
            AttachmentKind.AUDIO,
            file_id=file_id,
            name=" — ".join(x for x in (body.get("artist"), body.get("title")) if x),
        )
    if kind == "video":
        return Attachment(AttachmentKind.VIDEO, file_id=file_id, name=body.get("title"))
    if kind == "sticker":
        return Attachment(AttachmentKind.STICKER, file_id=str(body.get("sticker_id", "")) or None)
    return Attachment(AttachmentKind.OTHER, file_id=file_id, name=kind)


def attachment_reference(kind: str, body: Mapping[str, Any]) -> str | None:
    """VK's own reference (`photo-1_2_key`), which `messages.send` accepts back."""
    if "owner_id" not in body or "id" not in body:
        return None
    reference = f"{kind}{body['owner_id']}_{body['id']}"
    return f"{reference}_{body['access_key']}" if body.get("access_key") else reference
