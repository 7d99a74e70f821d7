"""HTTP hardening of the web chat and the console: no framing, Origin compared by scheme,
host and port, a Host allow-list, and cookies `Secure` behind a TLS proxy the gateway
trusts (and only then)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis
from sqlalchemy import select

from admin.accounts import Accounts, LinkPurpose, link_path
from admin.signin import SignInRoutes
from channels.http_guard import http_guard, parse_networks
from channels.web import WebChat
from core.db import SessionFactory
from core.history import HistoryItem
from core.models import AuditEntry
from switchboard.app import Gateway
from switchboard.settings import load_settings

PASSWORD = "correct horse battery"
Serve = Callable[..., Awaitable[str]]


@pytest.fixture
async def guarded(sessions: SessionFactory, redis: Redis) -> AsyncIterator[Serve]:
    """The web chat and the console's sign-in behind the real guard, with the given
    trusted proxies and allowed hosts: its base URL."""
    servers: list[TestServer] = []

    async def serve(*, trusted: Sequence[str] = (), allowed: Sequence[str] = ()) -> str:
        app = web.Application(
            middlewares=[http_guard(trusted_proxies=parse_networks(trusted), allowed_hosts=allowed)]
        )
        app.add_routes(WebChat(history=_no_history).routes())

        async def nothing(_token: str, _operator_id: int | None) -> None:
            return None

        app.add_routes(SignInRoutes(Accounts(sessions, redis), on_sign_out=nothing).routes())
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return str(server.make_url("")).rstrip("/")

    await Accounts(sessions, redis).save("Анна", login="anna")
    await Accounts(sessions, redis).set_password("anna", PASSWORD)
    yield serve
    for server in servers:
        await server.close()


async def _no_history(_visitor: str) -> list[HistoryItem]:
    return []


async def test_console_pages_cannot_be_framed_or_cached(gateway: Gateway, served: str) -> None:
    operator = await gateway.accounts.save("Анна", login="anna")
    link = link_path(
        LinkPurpose.SIGN_IN, await gateway.accounts.issue_link(operator.id, LinkPurpose.SIGN_IN)
    )
    async with aiohttp.ClientSession() as http:
        for path in ("/operator", "/operator/login", link, "/operator/link/unknown"):
            async with http.get(served + path) as page:
                assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"], path
                assert page.headers["X-Frame-Options"] == "DENY", path
                assert page.headers["Cache-Control"] == "no-store", path


async def test_an_origin_of_another_scheme_host_or_port_is_refused(
    gateway: Gateway, served: str
) -> None:
    port = int(served.rsplit(":", 1)[1])
    foreign = [
        f"https://127.0.0.1:{port}",
        f"http://127.0.0.1:{port + 1}",
        f"http://evil.example:{port}",
        "null",
    ]
    async with aiohttp.ClientSession() as http:
        for path in ("/ws", "/operator/ws"):
            for origin in foreign:
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await http.ws_connect(served + path, headers={"Origin": origin})
                assert refused.value.status == 403, (path, origin)
            async with http.ws_connect(served + path, headers={"Origin": served}) as ws:
                assert (await ws.receive_json(timeout=5))["type"] in ("history", "error")
        async with http.post(
            served + "/operator/login",
            json={"login": "a", "password": "b"},
            headers={"Origin": f"https://127.0.0.1:{port}"},
        ) as forged:
            assert forged.status == 403


@pytest.mark.parametrize("settings", [{"allowed_hosts": ["support.example.com"]}], indirect=True)
async def test_an_unknown_host_is_refused_when_allowed_hosts_is_set(
    gateway: Gateway, served: str
) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(served + "/", headers={"Host": "evil.example"}) as refused:
            assert refused.status == 400 and "ALLOWED_HOSTS" in await refused.text()
        async with http.get(
            served + "/operator", headers={"Host": "Support.Example.com:443"}
        ) as ok:
            assert ok.status == 200


async def test_a_loopback_gateway_answers_only_loopback_host_names(guarded: Serve) -> None:
    """Without ALLOWED_HOSTS on loopback: a DNS-rebound name is refused."""
    url = await guarded(allowed=load_settings(_env_file=None).hosts_served)
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "/", headers={"Host": "rebound.attacker.example"}) as refused:
            assert refused.status == 400
        for host in ("localhost:8080", "127.0.0.1", "[::1]:8080"):
            async with http.get(url + "/", headers={"Host": host}) as ok:
                assert ok.status == 200, host


async def test_cookies_are_secure_behind_a_trusted_tls_proxy(
    guarded: Serve, sessions: SessionFactory
) -> None:
    url = await guarded(trusted=["127.0.0.1"])
    host = url.split("://", 1)[1]
    proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7, 127.0.0.1"}
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "/", headers=proxied) as page:
            assert "Secure" in page.headers["Set-Cookie"]  # the visitor cookie
        async with http.post(
            url + "/operator/login",
            json={"login": "anna", "password": PASSWORD},
            headers={**proxied, "Origin": f"https://{host}"},
        ) as signed:
            assert signed.status == 200
            cookie = signed.headers["Set-Cookie"]
            assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        async with http.post(
            url + "/operator/login",
            json={"login": "anna", "password": PASSWORD},
            headers={**proxied, "Origin": f"http://{host}"},
        ) as downgraded:
            assert downgraded.status == 403  # the page was https: http is another origin
    async with sessions() as session:
        [entry] = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "signed_in"))
        )
    assert entry.address == "198.51.100.7"  # the client, not the proxy


async def test_forwarded_headers_from_an_untrusted_peer_are_ignored(
    guarded: Serve, sessions: SessionFactory
) -> None:
    url = await guarded(trusted=["10.0.0.0/8"])
    host = url.split("://", 1)[1]
    forged = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"}
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "/", headers=forged) as page:
            assert "Secure" not in page.headers["Set-Cookie"]
        async with http.post(
            url + "/operator/login",
            json={"login": "anna", "password": "wrong one!"},
            headers={**forged, "Origin": f"http://{host}"},
        ) as wrong:
            assert wrong.status == 401
        async with http.post(
            url + "/operator/login",
            json={"login": "anna", "password": PASSWORD},
            headers={**forged, "Origin": f"http://{host}"},
        ) as signed:
            assert "Secure" not in signed.headers["Set-Cookie"]
    async with sessions() as session:
        addresses = set(
            await session.scalars(
                select(AuditEntry.address).where(
                    AuditEntry.action.in_(["sign_in_failed", "signed_in"])
                )
            )
        )
    assert addresses == {"127.0.0.1"}  # a forged address earns no fresh start
