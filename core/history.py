"""A message as a web visitor's page shows it: the history the page replays on connect
and the frames it receives live. The engine builds the history, the web channel sends it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from core.contracts import Attachment, Button, ChannelKind

__all__ = ["SHOWN_ATTACHMENT_FIELDS", "HistoryItem", "history_item_id"]

SHOWN_ATTACHMENT_FIELDS = ("kind", "name", "size", "mime")
"""What a page is told of a file: never the server's path or a platform URL."""


@dataclass(frozen=True, slots=True)
class HistoryItem:
    """One message as the visitor's page shows it. `channel` is where it was said: a client
    recognised across channels sees their Telegram or email messages too."""

    id: str
    author: str  # client | bot | operator | system
    text: str
    at: dt.datetime
    buttons: tuple[Button, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    action: str | None = None  # what a client's button press meant
    channel: str = ChannelKind.WEB.value
    conversation_id: int | None = None  # the page marks where one conversation ends
    payload: str | None = None  # a rating press: "<conversation>:<score>"
    stored_id: int | None = None  # the stored message: its files open at /files/<n>/<k>

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "author": self.author,
            "text": self.text,
            "at": self.at.isoformat(),
            "buttons": [b.as_json() for b in self.buttons],
            # never the server's file path or a platform URL that may embed a token
            "attachments": [
                {k: v for k, v in a.as_json().items() if k in SHOWN_ATTACHMENT_FIELDS}
                | {"opens": a.stored_path is not None}  # the page links it (channels/web.py)
                for a in self.attachments
            ],
            "action": self.action,
            "channel": self.channel,
            "conversation_id": self.conversation_id,
            "payload": self.payload,
            "stored_id": self.stored_id,
        }


def history_item_id(
    *, message_id: int, channel_message_id: str | None = None, inbound_web: bool = False
) -> str:
    """The id the page knows a message by: its own uuid for what it sent (so the echo of a
    pending message replaces it), otherwise the stored message id."""
    if inbound_web and channel_message_id and ":" in channel_message_id:
        return channel_message_id.split(":", 1)[1]
    return f"m{message_id}"
