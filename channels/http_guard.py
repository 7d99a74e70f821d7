"""Who an HTTP request is really from, and whether it is for us.

Behind a TLS proxy the gateway sees plain HTTP from the proxy's address. The proxy's
`X-Forwarded-Proto` and `X-Forwarded-For` are believed only when the connection comes from
an address in TRUSTED_PROXIES; from anyone else they are ignored, since anyone can send
them. The request then carries the client's scheme and address (`request.secure`,
`request.remote`), which the cookies' `Secure` flag, the Origin check and the sign-in
back-off rely on.

A request whose Host is not in the allow-list is refused before any handler runs: it
defeats DNS rebinding and poisoned links built from the Host header.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from aiohttp.typedefs import Middleware

from core.addresses import Network, parse_networks

__all__ = ["host_name", "http_guard", "parse_networks"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def host_name(host: str) -> str:
    """The name part of a Host header, lower case: `Example.com:8080` → `example.com`,
    `[::1]:8080` → `::1`."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def http_guard(*, trusted_proxies: Sequence[Network], allowed_hosts: Sequence[str]) -> Middleware:
    """The middleware: the proxy's view of the request, then the Host allow-list (empty:
    any Host)."""
    allowed = frozenset(host.strip().lower().strip("[]") for host in allowed_hosts)

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if trusted_proxies and _trusted(request.remote, trusted_proxies):
            request = _as_forwarded(request, trusted_proxies)
        if allowed and host_name(request.host) not in allowed:
            raise web.HTTPBadRequest(text="unknown Host: add it to ALLOWED_HOSTS")
        return await handler(request)

    return guard


def _trusted(address: str | None, networks: Sequence[Network]) -> bool:
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _as_forwarded(request: web.Request, trusted: Sequence[Network]) -> web.Request:
    changes: dict[str, str] = {}
    proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    if proto in ("http", "https"):
        changes["scheme"] = proto
    hops = [
        hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",") if hop.strip()
    ]
    for hop in reversed(hops):  # the nearest untrusted hop is the client
        if not _trusted(hop, trusted):
            changes["remote"] = hop[:64]
            break
    return request.clone(**changes) if changes else request  # type: ignore[arg-type]
