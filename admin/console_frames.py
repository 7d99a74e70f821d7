"""What travels over the console's socket: a command's fields read and checked (each
refusal a `BadCommand` with its code, which the page shows in the operator's language),
and desk views written as JSON frames."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from core.contracts import ChannelKind

__all__ = [
    "DISABLED",
    "UNAUTHORIZED",
    "BadCommand",
    "conversation_id",
    "integer",
    "parse",
    "plain",
    "push",
    "refuse",
    "text",
    "via",
]


UNAUTHORIZED, DISABLED = 4401, 4403  # close codes: sign in again / this operator is disabled


class BadCommand(Exception):
    def __init__(self, code: str, error: str) -> None:
        super().__init__(error)
        self.code = code


def parse(data: str) -> dict[str, Any]:
    try:
        request = json.loads(data)
    except ValueError:
        raise BadCommand("bad_json", "the frame is not valid JSON") from None
    if not isinstance(request, dict) or not isinstance(request.get("cmd"), str):
        raise BadCommand("bad_request", 'a command is a JSON object with a "cmd" string')
    return request


def conversation_id(request: Mapping[str, Any]) -> int:
    return identifier(request, "conversation_id")


def identifier(request: Mapping[str, Any], name: str) -> int:
    """A required row id: a positive whole number."""
    found = integer(request, name)
    if found is None or found <= 0:
        raise BadCommand("bad_request", f"{name} must be a positive integer")
    return found


def integer(request: Mapping[str, Any], name: str) -> int | None:
    """An optional whole number (JSON's true and false are not numbers here)."""
    found = request.get(name)
    if found is not None and (isinstance(found, bool) or not isinstance(found, int)):
        raise BadCommand("bad_request", f"{name} must be an integer")
    return found


def text(request: Mapping[str, Any], name: str, limit: int, default: str | None = None) -> str:
    """A string field of at most `limit` characters (`default` when it may be left out)."""
    found = request.get(name, default)
    if not isinstance(found, str) or len(found) > limit:
        raise BadCommand("bad_request", f"{name} must be a string of at most {limit} characters")
    return found


def via(request: Mapping[str, Any]) -> ChannelKind | None:
    """Another channel of the client's to answer in; none: the one they wrote from last."""
    asked = request.get("via")
    if asked is None:
        return None
    try:
        return ChannelKind(asked)
    except ValueError:
        channels = ", ".join(kind.value for kind in ChannelKind)
        raise BadCommand("bad_request", f"via must be one of {channels}") from None


def plain(view: Any) -> dict[str, Any]:
    """A desk view as JSON-ready values: times in ISO 8601, durations in seconds."""
    return {k: _value(v) for k, v in dataclasses.asdict(view).items()}


def _value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return round(value.total_seconds())
    if isinstance(value, dict):
        return {k: _value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_value(v) for v in value]
    return value


_dumps = functools.partial(json.dumps, default=_value, ensure_ascii=False)


async def push(ws: web.WebSocketResponse, frame: Mapping[str, Any]) -> None:
    if ws.closed:
        return
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.send_json(frame, dumps=_dumps)


async def refuse(ws: web.WebSocketResponse, close_code: int, code: str, error: str) -> None:
    await push(ws, {"type": "error", "code": code, "error": error})
    await ws.close(code=close_code, message=error.encode()[:120])
