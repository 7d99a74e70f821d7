"""Our buttons as a VK inline keyboard of callback buttons (pressing one sends a
`message_event`, not a message). VK has no "share my phone" button, so contact requests
are left to the text."""

from __future__ import annotations

import json
import logging

from channels.buttons import encode_button
from channels.vk.inbound import BUTTON_KEY
from core.contracts import Action, Button, OutboundMessage

__all__ = ["keyboard_json"]

log = logging.getLogger(__name__)

_LABEL_LIMIT = 40  # VK truncates longer labels
_ROWS_LIMIT = 6  # inline keyboards: at most 6 rows
_ROW_WIDTH = 5


def keyboard_json(message: OutboundMessage) -> str | None:
    rows: list[list[dict[str, object]]] = []
    rating: list[dict[str, object]] = []
    for button in message.buttons:
        if button.action is Action.CONTACT:
            continue
        vk_button = _callback(button)
        if vk_button is None:
            continue
        if button.action is Action.RATE:
            if not rating:
                rows.append(rating)
            if len(rating) < _ROW_WIDTH:
                rating.append(vk_button)
        else:
            rows.append([vk_button])
    if len(rows) > _ROWS_LIMIT:
        log.warning("VK keyboard cut to %d rows (had %d)", _ROWS_LIMIT, len(rows))
        rows = rows[:_ROWS_LIMIT]
    if not rows:
        return None
    return json.dumps({"inline": True, "buttons": rows}, ensure_ascii=False)


def _callback(button: Button) -> dict[str, object] | None:
    data = encode_button(button)
    if data is None:
        log.warning("button %r dropped: its payload is too long", button.label)
        return None
    label = button.label
    if len(label) > _LABEL_LIMIT:
        label = label[: _LABEL_LIMIT - 1] + "…"
    return {
        "action": {
            "type": "callback",
            "label": label,
            "payload": json.dumps({BUTTON_KEY: data}, ensure_ascii=False),
        },
        "color": "primary" if button.action is Action.HANDOFF else "secondary",
    }
