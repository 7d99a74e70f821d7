"""Operators sign in as themselves: a password with back-off, one-time links, invites, and
sign-out, over real HTTP against the served gateway. Each attack on the old shared-token
console is a test here or in test_web_console.py / test_http_security.py."""

from __future__ import annotations

import datetime as dt

import aiohttp
from redis.asyncio import Redis
from sqlalchemy import select

from admin.accounts import LinkPurpose, link_path
from admin.accounts.throttle import Backoff, SignInThrottle
from core.models import AuditEntry, Operator, OperatorSession, utcnow
from switchboard.app import Gateway

PASSWORD = "correct horse battery"


def browser() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def anna(gateway: Gateway) -> Operator:
    await gateway.accounts.save("Анна Петрова", login="anna")
    return await gateway.accounts.set_password("anna", PASSWORD)


async def actions(gateway: Gateway) -> list[str]:
    async with gateway.sessions() as session:
        return list(await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


async def hello(http: aiohttp.ClientSession, served: str) -> dict[str, object]:
    async with http.ws_connect(served + "/operator/ws") as ws:
        frame: dict[str, object] = await ws.receive_json(timeout=5)
        return frame


async def test_a_password_opens_a_strict_http_only_session_until_sign_out(
    gateway: Gateway, served: str
) -> None:
    await anna(gateway)
    async with browser() as http:
        async with http.post(
            served + "/operator/login", json={"login": "Anna", "password": PASSWORD}
        ) as signed:
            assert signed.status == 200
            cookie = signed.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/operator" in cookie
        assert "Secure" not in cookie  # plain http from no trusted proxy
        assert (await hello(http, served))["type"] == "hello"

        async with http.ws_connect(served + "/operator/ws") as ws:
            assert (await ws.receive_json(timeout=5))["type"] == "hello"
            async with http.post(served + "/operator/logout") as out:
                assert out.status == 200
            closing = await ws.receive(timeout=5)
            for _ in range(20):  # live queue frames may come first; the close follows them
                if closing.type is aiohttp.WSMsgType.CLOSE:
                    break
                closing = await ws.receive(timeout=5)
            assert closing.type is aiohttp.WSMsgType.CLOSE
            assert closing.data == 4401  # the open console closed at once
        http.cookie_jar.update_cookies({"sb_operator": cookie.split("=", 1)[1].split(";")[0]})
        refused = await hello(http, served)  # the old cookie no longer works
        assert refused["code"] == "unauthorized"
    assert await actions(gateway) == ["operator_added", "password_set", "signed_in", "signed_out"]


async def test_wrong_passwords_back_off_per_account_even_with_the_right_one(
    gateway: Gateway, served: str
) -> None:
    await anna(gateway)
    async with browser() as http:
        for _ in range(3):  # the free tries (typos)
            async with http.post(
                served + "/operator/login", json={"login": "anna", "password": "guess-guess-guess"}
            ) as wrong:
                assert wrong.status == 401
        async with http.post(
            served + "/operator/login", json={"login": "anna", "password": "guess-guess-guess"}
        ) as wrong:
            assert wrong.status == 429 and int(wrong.headers["Retry-After"]) >= 2
        async with http.post(
            served + "/operator/login", json={"login": "anna", "password": PASSWORD}
        ) as right:
            assert right.status == 429  # not even the right password now
            assert (await right.json())["error"] == "throttled"
    assert (await actions(gateway)).count("sign_in_failed") == 4


async def test_an_unknown_name_cannot_sign_in_or_register(gateway: Gateway, served: str) -> None:
    async with (
        browser() as http,
        http.post(
            served + "/operator/login", json={"login": "Eve", "password": PASSWORD}
        ) as refused,
    ):
        assert refused.status == 401
    async with gateway.sessions() as session:
        assert list(await session.scalars(select(Operator))) == []


async def test_back_off_grows_per_account_and_per_address(redis: Redis) -> None:
    throttle = SignInThrottle(
        redis, account=Backoff(free=2, first=1, cap=4), address=Backoff(free=5, first=1, cap=60)
    )
    delays = [await throttle.failed("anna", "10.0.0.1") for _ in range(6)]
    assert delays == [0, 0, 1, 2, 4, 4]  # doubling, up to the cap
    assert await throttle.wait("ANNA", "10.9.9.9") == 4  # the account, from anywhere
    assert await throttle.wait("boris", "10.0.0.2") == 0
    assert await throttle.wait("boris", "10.0.0.1") == 1  # the guessing address, for anyone
    await throttle.succeeded("anna")
    assert await throttle.wait("anna", "10.9.9.9") == 0


async def test_a_sign_in_link_shows_a_button_and_works_once(gateway: Gateway, served: str) -> None:
    operator = await anna(gateway)
    token = await gateway.accounts.issue_link(operator.id, LinkPurpose.SIGN_IN)
    url = served + link_path(LinkPurpose.SIGN_IN, token)
    async with browser() as http:
        for _ in range(2):  # link previews do not spend it
            async with http.get(url, headers={"Accept-Language": "en"}) as page:
                assert page.status == 200 and "Sign in as Анна Петрова" in await page.text()
        async with http.post(url, headers={"Origin": "http://evil.example"}) as forged:
            assert forged.status == 403  # another site cannot spend it
        async with http.post(url, allow_redirects=False) as signed:
            assert signed.status == 303 and signed.headers["Location"] == "/operator"
        assert (await hello(http, served))["type"] == "hello"
        async with http.post(url, allow_redirects=False) as again:
            assert again.status == 410
    stale = await gateway.accounts.issue_link(
        operator.id, LinkPurpose.SIGN_IN, ttl=dt.timedelta(seconds=-1)
    )
    async with (
        browser() as http,
        http.post(served + link_path(LinkPurpose.SIGN_IN, stale)) as expired,
    ):
        assert expired.status == 410


async def test_an_invite_sets_the_password_once(gateway: Gateway, served: str) -> None:
    invited = await gateway.accounts.save("Борис", login="boris")
    token = await gateway.accounts.issue_link(invited.id, LinkPurpose.INVITE)
    url = served + link_path(LinkPurpose.INVITE, token)
    async with browser() as http:
        async with http.get(url) as page:
            assert page.status == 200 and "задайте пароль" in await page.text()
        async with http.post(url, data={"password": "short", "repeat": "short"}) as weak:
            assert weak.status == 422 and "короче 10" in await weak.text()
        async with http.post(url, data={"password": PASSWORD, "repeat": PASSWORD + "!"}) as typo:
            assert typo.status == 422
        async with http.post(
            url, data={"password": PASSWORD, "repeat": PASSWORD}, allow_redirects=False
        ) as accepted:
            assert accepted.status == 303
        assert (await hello(http, served))["type"] == "hello"
        async with http.post(
            url, data={"password": "another password", "repeat": "another password"}
        ) as again:
            assert again.status == 410
    async with (
        browser() as http,
        http.post(
            served + "/operator/login", json={"login": "boris", "password": PASSWORD}
        ) as signed,
    ):
        assert signed.status == 200


async def test_a_session_ends_at_its_expiry(gateway: Gateway, served: str) -> None:
    operator = await anna(gateway)
    async with browser() as http:
        async with http.post(
            served + "/operator/login", json={"login": "anna", "password": PASSWORD}
        ) as signed:
            assert signed.status == 200
        async with gateway.sessions() as session:
            [row] = list(await session.scalars(select(OperatorSession)))
            assert row.operator_id == operator.id
            assert (
                dt.timedelta(hours=11) < row.expires_at - row.created_at <= dt.timedelta(hours=12)
            )
            assert len(row.token_hash) == 64 and row.token_hash not in signed.headers["Set-Cookie"]
            row.expires_at = utcnow() - dt.timedelta(seconds=1)  # twelve hours later
            await session.commit()
        assert (await hello(http, served))["code"] == "unauthorized"
