"""The compact form of a button press that travels through the platform and back:
`"<action>:<payload>"`, at most 64 bytes (Telegram's limit for callback data)."""

from __future__ import annotations

from core.contracts import Action, Button

__all__ = ["MAX_BUTTON_DATA", "decode_button", "encode_button"]

MAX_BUTTON_DATA = 64


def encode_button(button: Button) -> str | None:
    """The button's data, or None when its payload is too long to travel."""
    data = f"{button.action.value}:{button.payload or ''}"
    return data if len(data.encode()) <= MAX_BUTTON_DATA else None


def decode_button(data: str | None) -> tuple[Action, str | None] | None:
    """The action and payload of a press, or None for data we did not make."""
    if not data or not isinstance(data, str):
        return None
    name, _, payload = data.partition(":")
    try:
        action = Action(name)
    except ValueError:
        return None
    return action, payload or None
