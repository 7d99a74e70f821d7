"""The console's sign-in over HTTP: the password form's POST, one-time sign-in links,
invites (set a password), sign-out, and the session cookie they all set.

The cookie is HttpOnly, SameSite=Strict, limited to /operator, and Secure whenever the
request came over TLS (directly or through a trusted proxy: see channels/http_guard.py).
Every POST must come from our own origin; with SameSite=Strict that makes the forms and
the socket safe from cross-site requests. A one-time link's GET only shows a button: link
previews and mail scanners fetch links, and must not spend them.
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from admin.accounts import Accounts, LinkPurpose, PasswordRejected
from admin.accounts.passwords import MAX_PASSWORD
from channels.web import same_origin

__all__ = [
    "CONSOLE_HEADERS",
    "SESSION_COOKIE",
    "SignInRoutes",
    "address",
    "language",
    "session_token",
]

log = logging.getLogger(__name__)

SESSION_COOKIE = "sb_operator"
COOKIE_PATH = "/operator"
MAX_FORM = 4096
CONSOLE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # same-origin, not no-referrer: under no-referrer a browser posts a form with
    # `Origin: null`, and the one-time link's own button would be refused as cross-site
    "Referrer-Policy": "same-origin",
}
TEXTS = {
    "ru": {
        "link_title": "Вход в консоль",
        "link_button": "Войти как {name}",
        "invite_title": "Приглашение в консоль",
        "invite_intro": "{name}, задайте пароль для входа.",
        "login": "Логин: {login}",
        "password": "Пароль",
        "repeat": "Пароль ещё раз",
        "invite_button": "Сохранить и войти",
        "gone": "Ссылка недействительна: она устарела или "
        "уже использована. Попросите новую у администратора или командой /login в боте.",
        "mismatch": "Пароли не совпадают.",
        "password_short": "Пароль короче 10 символов.",
        "password_long": "Пароль длиннее 256 символов.",
        "password_weak": "Пароль слишком простой.",
        "refused": "Запрос с чужого сайта отклонён.",
    },
    "en": {
        "link_title": "Console sign-in",
        "link_button": "Sign in as {name}",
        "invite_title": "Console invitation",
        "invite_intro": "{name}, choose a password.",
        "login": "Login: {login}",
        "password": "Password",
        "repeat": "Password again",
        "invite_button": "Save and sign in",
        "gone": "This link is no longer valid: it expired "
        "or was used. Ask an admin for a new one, or send /login to the admin bot.",
        "mismatch": "The passwords differ.",
        "password_short": "The password is shorter than 10 characters.",
        "password_long": "The password is longer than 256 characters.",
        "password_weak": "The password is too simple.",
        "refused": "A request from another site was refused.",
    },
}


def session_token(request: web.Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE)


def address(request: web.Request) -> str:
    return request.remote or "unknown"


def language(request: web.Request) -> str:
    """ru when the browser lists Russian at all (or says nothing), else en: the console
    page's own rule."""
    header = request.headers.get("Accept-Language", "")
    tags = [part.split(";")[0].strip().lower() for part in header.split(",") if part.strip()]
    return "ru" if not tags or any(tag.startswith("ru") for tag in tags) else "en"


class SignInRoutes:
    def __init__(
        self,
        accounts: Accounts,
        *,
        on_sign_out: Callable[[str, int | None], Awaitable[None]],
    ) -> None:
        self._accounts = accounts
        self._on_sign_out = on_sign_out

    def routes(self) -> list[web.AbstractRouteDef]:
        return [
            web.post("/operator/login", self._login),
            web.post("/operator/logout", self._logout),
            web.get("/operator/link/{token}", self._link_page),
            web.post("/operator/link/{token}", self._link),
            web.get("/operator/invite/{token}", self._invite_page),
            web.post("/operator/invite/{token}", self._invite),
        ]

    async def _login(self, request: web.Request) -> web.StreamResponse:
        """`{"login", "password"}` (JSON or a form) → 200 with the cookie, 401, or 429 with
        Retry-After."""
        _same_origin_only(request)
        fields = await _fields(request)
        login, password = fields.get("login", ""), fields.get("password", "")
        if not login or not password or len(password) > MAX_PASSWORD:
            return _json({"error": "bad_request"}, 400)
        outcome = await self._accounts.sign_ins.with_password(login, password, address(request))
        if outcome.operator is None or outcome.token is None:
            if outcome.retry_after:
                return _json(
                    {"error": "throttled", "retry_after": outcome.retry_after},
                    429,
                    {"Retry-After": str(outcome.retry_after)},
                )
            return _json({"error": "wrong_password"}, 401)
        response = _json({"operator": {"id": outcome.operator.id, "name": outcome.operator.name}})
        self._set_cookie(response, request, outcome.token)
        return response

    async def _logout(self, request: web.Request) -> web.StreamResponse:
        _same_origin_only(request)
        token = session_token(request)
        if token:
            operator_id = await self._accounts.sign_ins.sign_out(token, address(request))
            await self._on_sign_out(token, operator_id)
        response = _json({"signed_out": True})
        response.del_cookie(SESSION_COOKIE, path=COOKIE_PATH)
        return response

    async def _link_page(self, request: web.Request) -> web.StreamResponse:
        lang = language(request)
        operator = await self._accounts.links.peek(request.match_info["token"], LinkPurpose.SIGN_IN)
        if operator is None:
            return _page(lang, "link_title", f"<p>{_t(lang, 'gone')}</p>", status=410)
        return _page(
            lang,
            "link_title",
            '<form method="post" class="login-form">'
            f'<button type="submit" class="primary">'
            f"{_t(lang, 'link_button', name=operator.name)}</button></form>",
        )

    async def _link(self, request: web.Request) -> web.StreamResponse:
        _same_origin_only(request)
        outcome = await self._accounts.sign_ins.with_link(
            request.match_info["token"], address(request)
        )
        if outcome.token is None:
            lang = language(request)
            return _page(lang, "link_title", f"<p>{_t(lang, 'gone')}</p>", status=410)
        return self._signed_in(request, outcome.token)

    async def _invite_page(
        self, request: web.Request, error: str | None = None
    ) -> web.StreamResponse:
        lang = language(request)
        operator = await self._accounts.links.peek(request.match_info["token"], LinkPurpose.INVITE)
        if operator is None:
            return _page(lang, "invite_title", f"<p>{_t(lang, 'gone')}</p>", status=410)
        problem = f'<p class="login-error">{_t(lang, error)}</p>' if error else ""
        return _page(
            lang,
            "invite_title",
            (
                f'<form method="post" class="login-form"><p>{_t(lang, "invite_intro", name=operator.name)}'
                f"</p><p>{_t(lang, 'login', login=operator.login or '')}</p>"
                f'<input type="hidden" name="login" value="{html.escape(operator.login or "")}" '
                'autocomplete="username">'
                f'<label><span>{_t(lang, "password")}</span><input name="password" type="password" '
                f'required minlength="10" maxlength="{MAX_PASSWORD}" autocomplete="new-password"></label>'
                f'<label><span>{_t(lang, "repeat")}</span><input name="repeat" type="password" required '
                f'maxlength="{MAX_PASSWORD}" autocomplete="new-password"></label>{problem}'
                f'<button type="submit" class="primary">{_t(lang, "invite_button")}</button></form>'
            ),
            status=422 if error else 200,
        )

    async def _invite(self, request: web.Request) -> web.StreamResponse:
        _same_origin_only(request)
        fields = await _fields(request)
        password = fields.get("password", "")
        if password != fields.get("repeat", ""):
            return await self._invite_page(request, "mismatch")
        try:
            outcome = await self._accounts.sign_ins.accept_invite(
                request.match_info["token"], password, address(request)
            )
        except PasswordRejected as rejected:
            return await self._invite_page(request, rejected.key)
        if outcome.token is None:
            lang = language(request)
            return _page(lang, "invite_title", f"<p>{_t(lang, 'gone')}</p>", status=410)
        return self._signed_in(request, outcome.token)

    def _signed_in(self, request: web.Request, token: str) -> web.StreamResponse:
        response = web.Response(status=303, headers={**CONSOLE_HEADERS, "Location": "/operator"})
        self._set_cookie(response, request, token)
        return response

    def _set_cookie(self, response: web.StreamResponse, request: web.Request, token: str) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            token,
            path=COOKIE_PATH,
            httponly=True,
            samesite="Strict",
            secure=request.secure,
            max_age=int(self._accounts.console.ttl.total_seconds()),
        )


def _same_origin_only(request: web.Request) -> None:
    if not same_origin(request):
        raise web.HTTPForbidden(text=_t(language(request), "refused"), headers=CONSOLE_HEADERS)


async def _fields(request: web.Request) -> dict[str, str]:
    """The request's string fields, from JSON or a form; anything else is empty."""
    if request.content_length is not None and request.content_length > MAX_FORM:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_FORM, actual_size=request.content_length)
    try:
        if request.content_type == "application/json":
            data = json.loads((await request.content.read(MAX_FORM + 1))[: MAX_FORM + 1] or b"{}")
            if not isinstance(data, dict):
                return {}
            return {k: v for k, v in data.items() if isinstance(v, str)}
        form = await request.post()
        return {k: v for k, v in form.items() if isinstance(v, str)}
    except (ValueError, UnicodeDecodeError):
        return {}


def _json(body: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers={**CONSOLE_HEADERS, **(headers or {})})


def _t(lang: str, key: str, **values: str) -> str:
    return TEXTS[lang][key].format(**{k: html.escape(v) for k, v in values.items()})


def _page(lang: str, title_key: str, body: str, *, status: int = 200) -> web.Response:
    title = _t(lang, title_key)
    return web.Response(
        status=status,
        content_type="text/html",
        headers=CONSOLE_HEADERS,
        text=(
            f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>Switchboard · {title}</title>"
            '<link rel="stylesheet" href="/static/operator/console.css">'
            '<link rel="icon" href="/static/operator/icon.svg"></head>'
            f'<body><div class="login"><h1>Switchboard</h1><p>{title}</p>{body}</div></body></html>'
        ),
    )
