"""What an operator's console asks of the desk: one small method a command, each answered
on the console's socket with a fresh read from the desk. admin/web.py runs the socket (who
is signed in, live updates, heartbeats); the frames are in admin/console_frames.py."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from admin import console_frames as frames
from admin.console_api import uploader
from admin.console_frames import DISABLED, BadCommand, plain, push, refuse
from admin.desk import ConversationView, Desk, DeskError, QueueView
from admin.macros import Macros
from admin.suggestions import look_up, suggest
from channels.file_response import opens_here
from channels.uploads import BadFile, Uploads
from core.history import SHOWN_ATTACHMENT_FIELDS
from core.models import Operator, OperatorRole
from routing.presence import PresenceState

__all__ = ["ConsoleCommands", "ConsoleSession"]

log = logging.getLogger(__name__)

MAX_TEXT = 20000
MAX_QUERY = 500
VIEWS: tuple[QueueView, ...] = ("waiting", "mine", "breaching")
CHOSEN_PRESENCE = {state.value: state for state in (PresenceState.ONLINE, PresenceState.AWAY)}


@dataclass(eq=False)
class ConsoleSession:
    """One open console: who it is, and what it shows."""

    operator: Operator
    language: str
    ws: web.WebSocketResponse
    token: str
    view: QueueView = "waiting"
    presence: str = PresenceState.OFFLINE.value  # as the page was last told
    console_id: str = field(default_factory=lambda: secrets.token_hex(8))
    open_id: int | None = None
    changed: set[int | None] = field(default_factory=set)
    wake: asyncio.Event = field(default_factory=asyncio.Event)


Command = Callable[[ConsoleSession, Mapping[str, Any]], Awaitable[None]]


class ConsoleCommands:
    def __init__(self, desk: Desk, *, macros: Macros, uploads: Uploads) -> None:
        self._desk = desk
        self._macros = macros
        self._uploads = uploads
        self._commands: dict[str, Command] = {
            "queue": self._queue,
            "next": self._next,
            "open": self._open_one,
            "take": self._take,
            "reply": self._reply,
            "resend": self._resend,
            "note": self._note,
            "close": self._close,
            "macros": self._macro,
            "macro_save": self._macro,
            "macro_delete": self._macro,
            "transfer_targets": self._transfer_targets,
            "transfer": self._transfer,
            "category": self._category,
            "presence": self._presence,
            "kb_search": self._kb_search,
            "kb_save": self._kb_save,
            "typing": self._typing,
        }

    async def run(self, state: ConsoleSession, request: Mapping[str, Any] | str) -> None:
        """Run one command (a frame, or a request made here); whatever goes wrong is
        answered, and the socket stays open."""
        cmd = None
        try:
            request = frames.parse(request) if isinstance(request, str) else request
            cmd = request["cmd"]
            await self._dispatch(state, request)
        except BadCommand as bad:
            await push(state.ws, {"type": "error", "code": bad.code, "error": str(bad), "cmd": cmd})
        except DeskError as refused:
            await push(
                state.ws,
                {
                    "type": "error",
                    "code": "desk",
                    "key": refused.key,
                    "error": refused.text(state.language),
                    "cmd": cmd,
                },
            )
        except PermissionError:
            await refuse(state.ws, DISABLED, "disabled", "this operator was disabled")
        except Exception:
            log.exception("console command %r of operator %s failed", cmd, state.operator.id)
            await push(
                state.ws,
                {
                    "type": "error",
                    "code": "failed",
                    "cmd": cmd,
                    "error": "the command failed on the server; it is logged",
                },
            )

    async def _dispatch(self, state: ConsoleSession, request: Mapping[str, Any]) -> None:
        command = self._commands.get(request["cmd"])
        if command is None:
            raise BadCommand("unknown_cmd", f"unknown command {request['cmd']!r}")
        await command(state, request)

    async def _queue(self, state: ConsoleSession, request: Mapping[str, Any]) -> None:
        view = request.get("view", state.view)
        if view not in VIEWS:
            raise BadCommand("bad_request", f"view must be one of {', '.join(VIEWS)}")
        state.view = view
        await self.send_queue(state)

    async def _next(self, state: ConsoleSession, request: Mapping[str, Any]) -> None:
        await self.show(state, await self._desk.actions.take_next(state.operator.id))
        await self.send_queue(state)

    async def _open_one(self, state: ConsoleSession, request: Mapping[str, Any]) -> None:
        await self._show_fresh(state, frames.conversation_id(request))

    async def _take(self, state: ConsoleSession, request: Mapping[str, Any]) -> None:
        taken = await self._desk.actions.take(state.operator.id, frames.conversation_id(request))
        await self.show(state, taken)
        await self.send_queue(state)

    async def _reply(self, state: ConsoleSession, request: Mapping[str, Any]) -> None:
        me, conversation_id = state.operator.id, frames.conversation_id(request)
        said = frames.text(request, "text", MAX_TEXT)
        try:
            files = self._uploads.attachments(uploader(me), request.get("files"))
        except BadFile as bad:
            raise BadCommand("bad_file", str(bad)) from None
        await self._desk.actions.reply(me, conversation_id, said, files, via=frames.via(request))
        await self._show_fresh(state, conversation_id)

    async def _resend(self, state: ConsoleSession, request: Mapping[str, Any]) -> None:
        message_id = frames.identifier(request, "message_id")
        conversation_id = await self._desk.resending.resend(state.operator.id, message_id)
        await self._show_fresh(state, conversation_id)

    async def _note(self, state: ConsoleSession, request: Mapping[str, Any]) -> None:
        conversation_id = frames.conversation_id(request)
        note = frames.text(request, "text", MAX_TEXT)
        await self._desk.actions.note(state.operator.id, conversation_id, note)
        await self._show_fresh(state, conversation_id)

    async def _close(self, state: ConsoleSession, request: Mapping[str, Any]) -> None:
        conversation_id = frames.conversation_id(request)
        await self._desk.actions.close(state.operator.id, conversation_id)
        await self._show_fresh(state, conversation_id)
        await self.send_queue(state)

    async def _transfer_targets(self, state: ConsoleSession, request: Mapping[str, Any]) -> None:
        targets = await self._desk.transfers.targets(state.operator.id)
        await push(state.ws, {"type": "transfer_targets", **plain(targets)})

    async def _transfer(self, state: ConsoleSession, request: Mapping[str, Any]) -> None:
        """Hand the conversation to a group's queue or to a colleague, with a note."""
        conversation_id = frames.conversation_id(request)
        note = frames.text(request, "note", MAX_TEXT, default="")
        group, colleague = request.get("group"), frames.integer(request, "operator_id")
        if (group is None) == (colleague is None):
            raise BadCommand("bad_request", "name either a group or an operator_id")
        if group is not None and not isinstance(group, str):
            raise BadCommand("bad_request", "group must be a string")
        moved = await self._desk.transfers.transfer(
            state.operator.id,
            conversation_id,
            group=group,
            to_operator=None if colleague is None else str(colleague),
            note=note,
        )
        await self.show(state, moved)
        await self.send_queue(state)

    async def _category(self, state: ConsoleSession, request: Mapping[str, Any]) -> None:
        conversation_id = frames.conversation_id(request)
        category = frames.text(request, "category", 64)
        changed = await self._desk.categories.set_category(
            state.operator.id, conversation_id, category
        )
        await self.show(state, changed)

    async def _presence(self, state: ConsoleSession, request: Mapping[str, Any]) -> None:
        asked = request.get("state")
        chosen = CHOSEN_PRESENCE.get(asked) if isinstance(asked, str) else None
        if chosen is None:
            raise BadCommand("bad_request", "state must be online or away")
        await self._desk.presence.set(state.operator.id, chosen)
        await self.send_presence(state, chosen.value)

    async def _kb_search(self, state: ConsoleSession, request: Mapping[str, Any]) -> None:
        """The KB's articles for the operator's own words, in the style of the channel."""
        conversation_id = frames.conversation_id(request)
        query = frames.text(request, "query", MAX_QUERY)
        opened = await self._desk.conversations.for_operator(state.operator.id, conversation_id)
        found = look_up(self._desk.teaching, query, opened.channel) if query.strip() else []
        await push(
            state.ws,
            {
                "type": "kb_results",
                "conversation_id": conversation_id,
                "query": query,
                "articles": [dataclasses.asdict(s) for s in found],
            },
        )

    async def _kb_save(self, state: ConsoleSession, request: Mapping[str, Any]) -> None:
        """Teach the KB from the operator's last reply (see `Teaching.save_reply`)."""
        conversation_id = frames.conversation_id(request)
        article_id = request.get("article_id")
        if article_id is not None and not isinstance(article_id, str):
            raise BadCommand("bad_request", "article_id must be a string")
        saved = await self._desk.teaching.save_reply(
            state.operator.id, conversation_id, article_id=article_id
        )
        await push(state.ws, {"type": "kb_saved", **dataclasses.asdict(saved)})

    async def _typing(self, state: ConsoleSession, request: Mapping[str, Any]) -> None:
        """The client sees the operator writing; nothing is answered."""
        await self._desk.typing.started(state.operator.id, frames.conversation_id(request))

    async def send_presence(self, state: ConsoleSession, presence: str) -> None:
        state.presence = presence
        await push(state.ws, {"type": "presence", "state": presence})

    async def _macro(self, state: ConsoleSession, request: Mapping[str, Any]) -> None:
        """List, save or remove saved replies; every answer is the fresh list."""
        me, cmd = state.operator.id, request["cmd"]
        if cmd == "macro_save":
            title, text = request.get("title"), request.get("text")
            if not isinstance(title, str) or not isinstance(text, str):
                raise BadCommand("bad_request", "title and text must be strings")
            await self._macros.save(
                me, title, text, shared=bool(request.get("shared")) and _is_admin(state)
            )
        elif cmd == "macro_delete":
            macro_id = frames.integer(request, "macro_id")
            if macro_id is None:
                raise BadCommand("bad_request", "macro_id must be an integer")
            await self._macros.remove(me, macro_id, admin=_is_admin(state))
        macros = await self._macros.visible(me)
        await push(
            state.ws,
            {
                "type": "macros",
                "macros": [dataclasses.asdict(m) for m in macros],
                "admin": _is_admin(state),
            },
        )

    async def show(
        self, state: ConsoleSession, conversation: ConversationView, *, live: bool = False
    ) -> None:
        state.open_id = conversation.id
        payload = plain(conversation)
        for message in payload["messages"]:
            message["attachments"] = [
                {k: v for k, v in a.items() if k in SHOWN_ATTACHMENT_FIELDS}
                | {"opens": opens_here(a)}
                for a in message["attachments"]
            ]
        payload["mine"] = conversation.operator_id == state.operator.id
        payload["suggestions"] = [
            dataclasses.asdict(s) for s in suggest(self._desk.teaching, conversation)
        ]
        await push(state.ws, {"type": "conversation", "conversation": payload, "live": live})

    async def _show_fresh(self, state: ConsoleSession, conversation_id: int) -> None:
        opened = await self._desk.conversations.for_operator(state.operator.id, conversation_id)
        await self.show(state, opened)

    async def send_queue(self, state: ConsoleSession, *, live: bool = False) -> None:
        rows = await self._desk.queue.rows(state.operator.id, state.view)
        await push(
            state.ws,
            {
                "type": "queue",
                "view": state.view,
                "now": self._desk.queue.now(),
                "rows": [plain(row) for row in rows],
                "live": live,
            },
        )


def _is_admin(state: ConsoleSession) -> bool:
    """Admins may save and remove the desk's shared replies."""
    return state.operator.role is OperatorRole.ADMIN
