"""The team page for admins: `/operator/team` lists the operators (with whether each is at
the desk now and how many conversations they hold) and the audit log, and
lets an admin invite, send a sign-in link, disable, enable, and change role, groups and
capacity, each change audited with the admin as its actor.

The page is the console's static `team.html`; it reads `/operator/team/data` and posts
JSON to `/operator/team/invite` and `/operator/team/{id}/{link|disable|enable|change}`,
with the console's session cookie and from our own origin only. Signed out: 401; signed
in but not an admin: 403; bad input: 400 with `{"code", "error"}` in the page's language
(`?lang=ru|en`, else the browser's).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from redis.asyncio import Redis

from admin.accounts import AccountError, Accounts, LinkPurpose, link_path, recent_audit, roster
from admin.signin import CONSOLE_HEADERS, language, session_token
from admin.telegram.state import Invites
from channels.web import same_origin
from core.db import SessionFactory
from core.models import AuditEntry, Operator, OperatorRole
from routing.presence import Presence, PresenceState
from routing.queue import OperatorQueue

__all__ = ["TeamPage"]

STATIC = Path(__file__).with_name("console_static")
MAX_BODY = 8192
AUDIT_ROWS = 100
MAX_CAPACITY = 50
INVITE_TTL = dt.timedelta(hours=48)
LANGUAGES = ("ru", "en")
TEXTS = {
    "ru": {
        "signed_out": "Войдите в консоль.",
        "not_admin": "Управлять командой могут только администраторы.",
        "cross_site": "Запрос с чужого сайта отклонён.",
        "bad_body": "Ожидался JSON-объект не длиннее 8 КБ.",
        "name_length": "Укажите имя (до 200 символов).",
        "login_length": "Логин — от 1 до 100 символов.",
        "login_taken": "Такой логин уже занят.",
        "unknown_role": "Роль — operator или admin.",
        "unknown_group": "Неизвестная группа: {value}. Есть: {known}.",
        "no_groups": "Выберите хотя бы одну группу.",
        "capacity_range": "Одновременных разговоров — от 1 до 50.",
        "unknown_language": "Язык — ru или en.",
        "unknown_operator": "Такого оператора нет или он отключён.",
        "self": "Нельзя отключить или лишить прав администратора самого себя.",
        "last_admin": "Это последний активный администратор: его нельзя отключить "
        "или сделать оператором. Сначала назначьте другого администратора.",
        "refused": "Не получилось: {value}",
    },
    "en": {
        "signed_out": "Sign in to the console.",
        "not_admin": "Only admins manage the team.",
        "cross_site": "A request from another site was refused.",
        "bad_body": "Expected a JSON object of at most 8 KB.",
        "name_length": "Give a name (up to 200 characters).",
        "login_length": "A login has 1 to 100 characters.",
        "login_taken": "That login is taken.",
        "unknown_role": "The role is operator or admin.",
        "unknown_group": "Unknown group: {value}. There are: {known}.",
        "no_groups": "Choose at least one group.",
        "capacity_range": "Conversations at once: 1 to 50.",
        "unknown_language": "The language is ru or en.",
        "unknown_operator": "There is no such operator, or they are disabled.",
        "self": "You cannot disable yourself or take away your own admin rights.",
        "last_admin": "This is the last active admin: they cannot be disabled or made an "
        "operator. Make someone else an admin first.",
        "refused": "Could not do it: {value}",
    },
}


class _Refused(Exception):
    """Bad input: a 400 with the text for `key`."""

    def __init__(self, key: str, **values: str) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


@dataclass(frozen=True, slots=True)
class _Request:
    admin: Operator
    lang: str
    fields: dict[str, Any]


Action = Callable[[_Request, int], Awaitable[dict[str, Any]]]


class TeamPage:
    def __init__(
        self,
        sessions: SessionFactory,
        accounts: Accounts,
        redis: Redis,
        *,
        groups: Collection[str],
        base_url: str,
        presence: Presence,
        queue: OperatorQueue,
    ) -> None:
        self._sessions = sessions
        self._presence = presence
        self._queue = queue
        self._accounts = accounts
        self._invites = Invites(redis)
        self._groups = sorted(groups)
        self._base_url = base_url
        self._actions: dict[str, Action] = {
            "link": self._link,
            "disable": self._disable,
            "enable": self._enable,
            "change": self._change,
        }

    def routes(self) -> list[web.AbstractRouteDef]:
        return [
            web.get("/operator/team", self._page),
            web.get("/operator/team/data", self._data),
            web.post("/operator/team/invite", self._invite),
            web.post(r"/operator/team/{operator_id:\d{1,9}}/{action}", self._act),
        ]

    async def _page(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "team.html", headers=CONSOLE_HEADERS)

    # -- reading ---------------------------------------------------------------------------

    async def _data(self, request: web.Request) -> web.Response:
        lang = _language(request)
        admin = await self._admin(request, lang)
        members = await roster(self._sessions)
        names = {member.operator.id: member.operator.name for member in members}
        states = {p.operator_id: p.state for p in await self._presence.all()}
        holds = await self._queue.holdings()
        return _json(
            {
                "me": admin.id,
                "groups": self._groups,
                "operators": [
                    {
                        **_operator(member.operator),
                        "last_sign_in": _time(member.last_sign_in),
                        "presence": states.get(member.operator.id, PresenceState.OFFLINE).value,
                        "holds": holds.get(member.operator.id, 0),
                    }
                    for member in members
                ],
                "audit": [
                    _entry(row, names) for row in await recent_audit(self._sessions, AUDIT_ROWS)
                ],
            }
        )

    # -- changing --------------------------------------------------------------------------

    async def _invite(self, request: web.Request) -> web.Response:
        return await self._handle(request, self._invited)

    async def _act(self, request: web.Request) -> web.Response:
        action = self._actions.get(request.match_info["action"])
        if action is None:
            raise web.HTTPNotFound(headers=CONSOLE_HEADERS)
        operator_id = int(request.match_info["operator_id"])
        return await self._handle(request, lambda asked: action(asked, operator_id))

    async def _handle(
        self, request: web.Request, work: Callable[[_Request], Awaitable[dict[str, Any]]]
    ) -> web.Response:
        """Same origin, an admin's session, a JSON object: then `work`, whose refusals
        become a 400 in the page's language."""
        lang = _language(request)
        if not same_origin(request):
            raise web.HTTPForbidden(**_refusal(lang, "cross_site"))
        admin = await self._admin(request, lang)
        try:
            return _json(await work(_Request(admin, lang, await _body(request))))
        except _Refused as refused:
            return _error(lang, refused.key, status=400, **refused.values)
        except AccountError as refused:
            return _error(lang, refused.key, status=400, value=str(refused))

    async def _invited(self, asked: _Request) -> dict[str, Any]:
        fields = asked.fields
        login = _text(fields, "login")
        operator = await self._accounts.save(
            _text(fields, "name"),
            login=login or None,
            role=_role(fields) or OperatorRole.OPERATOR,
            groups=self._valid_groups(fields) or [self._default_group()],
            capacity=_capacity(fields) or 3,
            language=_lang_field(fields),
            actor_id=asked.admin.id,
            only_new=True,
        )
        token = await self._accounts.issue_link(
            operator.id, LinkPurpose.INVITE, ttl=INVITE_TTL, actor_id=asked.admin.id, via="console"
        )
        code = await self._invites.issue(operator.id, INVITE_TTL)
        return {
            "operator": _operator(operator),
            "link": self._base_url + link_path(LinkPurpose.INVITE, token),
            "bot_code": code,
            "hours": int(INVITE_TTL.total_seconds() // 3600),
        }

    async def _link(self, asked: _Request, operator_id: int) -> dict[str, Any]:
        token = await self._accounts.issue_link(
            operator_id, LinkPurpose.SIGN_IN, actor_id=asked.admin.id, via="console"
        )
        return {"link": self._base_url + link_path(LinkPurpose.SIGN_IN, token)}

    async def _disable(self, asked: _Request, operator_id: int) -> dict[str, Any]:
        operator = await self._accounts.team.set_active(operator_id, False, actor_id=asked.admin.id)
        return {"operator": _operator(operator)}

    async def _enable(self, asked: _Request, operator_id: int) -> dict[str, Any]:
        operator = await self._accounts.team.set_active(operator_id, True, actor_id=asked.admin.id)
        return {"operator": _operator(operator)}

    async def _change(self, asked: _Request, operator_id: int) -> dict[str, Any]:
        groups = self._valid_groups(asked.fields)
        if groups is not None and not groups:
            raise _Refused("no_groups")
        operator = await self._accounts.team.change(
            operator_id,
            actor_id=asked.admin.id,
            role=_role(asked.fields),
            groups=groups,
            capacity=_capacity(asked.fields),
        )
        return {"operator": _operator(operator)}

    # -- checks ----------------------------------------------------------------------------

    async def _admin(self, request: web.Request, lang: str) -> Operator:
        operator = await self._accounts.console.operator(session_token(request))
        if operator is None:
            raise web.HTTPUnauthorized(**_refusal(lang, "signed_out"))
        if operator.role is not OperatorRole.ADMIN:
            raise web.HTTPForbidden(**_refusal(lang, "not_admin"))
        return operator

    def _valid_groups(self, fields: dict[str, Any]) -> list[str] | None:
        """The groups asked for (None: not asked), each one the desk serves."""
        groups = fields.get("groups")
        if groups is None:
            return None
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise _Refused("no_groups")
        for group in groups:
            if group not in self._groups:
                raise _Refused("unknown_group", value=group[:64], known=", ".join(self._groups))
        return sorted(set(groups))

    def _default_group(self) -> str:
        return "support" if "support" in self._groups or not self._groups else self._groups[0]


async def _body(request: web.Request) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise _Refused("bad_body")
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise _Refused("bad_body")
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise _Refused("bad_body") from None
    if not isinstance(data, dict):
        raise _Refused("bad_body")
    return data


def _text(fields: dict[str, Any], name: str) -> str:
    value = fields.get(name) or ""
    if not isinstance(value, str):
        raise _Refused(f"{name}_length")
    return value.strip()


def _role(fields: dict[str, Any]) -> OperatorRole | None:
    value = fields.get("role")
    if value is None:
        return None
    if value not in {role.value for role in OperatorRole}:
        raise _Refused("unknown_role")
    return OperatorRole(value)


def _capacity(fields: dict[str, Any]) -> int | None:
    value = fields.get("capacity")
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CAPACITY:
        raise _Refused("capacity_range")
    return value


def _lang_field(fields: dict[str, Any]) -> str:
    value = fields.get("language") or "ru"
    if value not in LANGUAGES:
        raise _Refused("unknown_language")
    return str(value)


def _operator(operator: Operator) -> dict[str, Any]:
    return {
        "id": operator.id,
        "name": operator.name,
        "login": operator.login,
        "role": operator.role.value,
        "groups": operator.group_names,
        "capacity": operator.capacity,
        "language": operator.language,
        "active": operator.active,
        "password_set": operator.password_hash is not None,
        "telegram": operator.telegram_user_id is not None,
    }


def _entry(row: AuditEntry, names: dict[int, str]) -> dict[str, Any]:
    return {
        "at": _time(row.at),
        "action": row.action,
        "operator": names.get(row.operator_id) if row.operator_id else None,
        "actor": names.get(row.actor_id) if row.actor_id else None,
        "address": row.address,
        "detail": row.detail,
    }


def _time(at: dt.datetime | None) -> str | None:
    if at is None:
        return None
    return (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).isoformat(timespec="seconds")


def _language(request: web.Request) -> str:
    asked = request.query.get("lang")
    return asked if asked in LANGUAGES else language(request)


def _say(lang: str, key: str, **values: str) -> str:
    text = TEXTS[lang].get(key) or TEXTS[lang]["refused"]
    return text.format(**{"value": "", "known": "", **values})


def _error(lang: str, key: str, *, status: int, **values: str) -> web.Response:
    return _json({"code": key, "error": _say(lang, key, **values)}, status=status)


def _refusal(lang: str, key: str) -> dict[str, Any]:
    """An HTTP error's arguments: the same JSON body as a 400's."""
    return {
        "text": json.dumps({"code": key, "error": _say(lang, key)}, ensure_ascii=False),
        "content_type": "application/json",
        "headers": CONSOLE_HEADERS,
    }


def _json(body: object, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, headers=CONSOLE_HEADERS)
