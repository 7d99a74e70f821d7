"""The console's HTTP side beside its socket: the client card, the search box, and an
admin's merge, undo, export and forgetting of a client. Every route needs the console's
session cookie (401 without it); merging, undoing, exporting and forgetting are for admins
(403 for others), and they must come from the console's own origin.

    GET  /operator/clients/{id}                 the client card (admin/client_card.py)
    GET  /operator/search?q=…                   clients and messages (admin/search.py)
    POST /operator/clients/{id}/merge           {"other": N, "note": "…"}: N merges into id
    POST /operator/merges/{record_id}/undo      undo a merge
    GET  /operator/clients/{id}/export          all the desk keeps about a client (JSON file)
    POST /operator/clients/{id}/forget          erase a client who withdrew consent
    GET  /operator/files/{message_id}/{n}       a message's n-th file (channels/file_response.py)
    POST /operator/uploads                      a file for a reply: {"file": sha256, "size"}

Answers are JSON; a refusal is `{"error": "<text in ?lang=ru|en>", "key": …}`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

from aiohttp import web

from admin.accounts import Accounts
from admin.client_card import client_card
from admin.client_export import client_export, export_json
from admin.desk import DeskError, Forgetting, Merging
from admin.search import SearchError, search
from admin.signin import session_token
from channels.file_response import file_response
from channels.uploads import Uploads
from channels.web import same_origin
from core.db import SessionFactory
from core.models import Message, Operator, OperatorRole
from core.numbers import MAX_ROW_ID, row_id
from core.texts import say

__all__ = ["ConsoleApi", "uploader"]

MAX_BODY = 4096
MAX_NOTE = 500
NO_STORE = {"Cache-Control": "no-store"}


class ConsoleApi:
    def __init__(
        self,
        *,
        sessions: SessionFactory,
        accounts: Accounts,
        merging: Merging,
        forgetting: Forgetting,
        uploads: Uploads,
    ) -> None:
        self._sessions = sessions
        self._uploads = uploads
        self._accounts = accounts
        self._merging = merging
        self._forgetting = forgetting

    def routes(self) -> list[web.AbstractRouteDef]:
        return [
            web.get("/operator/clients/{client_id}", self._card),
            web.get("/operator/search", self._search),
            web.post("/operator/clients/{client_id}/merge", self._merge),
            web.post("/operator/merges/{record_id}/undo", self._undo),
            web.get("/operator/clients/{client_id}/export", self._export),
            web.post("/operator/clients/{client_id}/forget", self._forget),
            web.get("/operator/files/{message_id}/{index}", self._file),
            web.post("/operator/uploads", self._upload),
        ]

    async def _card(self, request: web.Request) -> web.Response:
        await self._operator(request)
        client_id = _id(request, "client_id")
        card = await client_card(self._sessions, client_id)
        if card is None:
            return _refused(404, "client_not_found", _language(request), client_id=client_id)
        return _json(card)

    async def _search(self, request: web.Request) -> web.Response:
        await self._operator(request)
        try:
            found = await search(self._sessions, request.query.get("q", ""))
        except SearchError as bad:
            return _refused(400, bad.key, _language(request))
        return _json(found)

    async def _merge(self, request: web.Request) -> web.Response:
        admin = await self._admin(request)
        survivor_id = _id(request, "client_id")
        body = await _body(request)
        other, note = body.get("other"), body.get("note")
        if isinstance(other, str):
            other = row_id(other.strip().lstrip("#"))
        if isinstance(other, bool) or not isinstance(other, int) or not 0 < other <= MAX_ROW_ID:
            raise web.HTTPBadRequest(text="`other` must be a client number")
        if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE):
            raise web.HTTPBadRequest(text=f"`note` must be text of at most {MAX_NOTE} characters")
        try:
            done = await self._merging.merge_clients(
                admin.id, survivor_id, other, (note or "").strip() or None
            )
        except DeskError as refused:
            return _refused(409, refused.key, _language(request), **refused.values)
        return _json(done)

    async def _undo(self, request: web.Request) -> web.Response:
        admin = await self._admin(request)
        try:
            done = await self._merging.unmerge(admin.id, _id(request, "record_id"))
        except DeskError as refused:
            return _refused(409, refused.key, _language(request), **refused.values)
        return _json(done)

    async def _export(self, request: web.Request) -> web.Response:
        admin = await self._admin(request)
        client_id = _id(request, "client_id")
        document = await client_export(self._sessions, client_id, by=admin.id)
        if document is None:
            return _refused(404, "client_not_found", _language(request), client_id=client_id)
        return web.Response(
            text=export_json(document),
            content_type="application/json",
            headers={
                **NO_STORE,
                "Content-Disposition": (
                    f'attachment; filename="client-{document.client.number}.json"'
                ),
            },
        )

    async def _forget(self, request: web.Request) -> web.Response:
        admin = await self._admin(request)
        try:
            done = await self._forgetting.forget(admin.id, _id(request, "client_id"))
        except DeskError as refused:
            return _refused(409, refused.key, _language(request), **refused.values)
        return web.json_response(
            {
                "clients": done.client_ids,
                "conversations": len(done.conversation_ids),
                "messages": done.messages,
            },
            headers=NO_STORE,
        )

    async def _file(self, request: web.Request) -> web.StreamResponse:
        await self._operator(request)
        message_id = _id(request, "message_id")
        index = row_id(request.match_info["index"])
        async with self._sessions() as session:
            message = await session.get(Message, message_id)
        if message is None or index is None:
            raise web.HTTPNotFound(text="no such file")
        return file_response(message.attachments or [], index - 1)

    async def _upload(self, request: web.Request) -> web.Response:
        if not same_origin(request):
            raise web.HTTPForbidden(text="cross-origin request refused")
        operator = await self._operator(request)
        return await self._uploads.receive(request, uploader(operator.id))

    async def _operator(self, request: web.Request) -> Operator:
        operator = await self._accounts.console.operator(session_token(request))
        if operator is None or not operator.active:
            raise web.HTTPUnauthorized(text="sign in first")
        return operator

    async def _admin(self, request: web.Request) -> Operator:
        """A request from the console's own origin by a signed-in admin."""
        if not same_origin(request):
            raise web.HTTPForbidden(text="cross-origin request refused")
        operator = await self._operator(request)
        if operator.role is not OperatorRole.ADMIN:
            raise web.HTTPForbidden(text="only admins merge, export and forget clients")
        return operator


def uploader(operator_id: int) -> str:
    """Whose uploads an operator's reply may name: their own only."""
    return f"operator:{operator_id}"


def _id(request: web.Request, name: str) -> int:
    value = row_id(request.match_info[name])
    if value is None:
        raise web.HTTPNotFound(text=f"no such {name.split('_')[0]}")
    return value


async def _body(request: web.Request) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY, actual_size=request.content_length)
    try:
        body = json.loads(await request.content.read(MAX_BODY + 1) or b"{}")
    except ValueError:
        raise web.HTTPBadRequest(text="the body must be JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="the body must be a JSON object")
    return body


def _language(request: web.Request) -> str:
    asked = request.query.get("lang")
    return asked if asked in ("ru", "en") else "ru"


def _refused(status: int, key: str, language: str, **values: object) -> web.Response:
    return web.json_response(
        {"error": say(key, language, **values), "key": key}, status=status, headers=NO_STORE
    )


def _json(view: Any) -> web.Response:
    return web.json_response(
        dataclasses.asdict(view),
        dumps=lambda data: json.dumps(data, default=_value, ensure_ascii=False),
        headers=NO_STORE,
    )


def _value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")
