"""Abuse limits of the web chat: who a visitor is on the network, and how fast they may go.

Cookies cost nothing, so every limit is kept twice: per visitor (one browser) and per
network address (an IPv4 address, or the /64 an IPv6 host gets), both in shared Redis
token buckets (`core.buckets`). Sockets are capped per address in each process. Behind a
reverse proxy the address is the last `X-Forwarded-For` hop the trusted proxy added;
anyone else's header is ignored.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from core.buckets import Buckets, Rate

__all__ = ["Frame", "WebLimits", "network_address"]


_MESSAGES_PER_VISITOR = Rate(10, dt.timedelta(seconds=3))
_MESSAGES_PER_ADDRESS = Rate(60, dt.timedelta(seconds=1))
_HANDOFFS_PER_VISITOR = Rate(3, dt.timedelta(minutes=10))
_HANDOFFS_PER_ADDRESS = Rate(20, dt.timedelta(minutes=1))
_UPLOADS_PER_VISITOR = Rate(10, dt.timedelta(minutes=10))
_UPLOADS_PER_ADDRESS = Rate(30, dt.timedelta(minutes=10))

Frame = Literal["message", "handoff", "upload"]
"""What a visitor does: a hand-off press is a message too; an upload is not."""


@dataclass(frozen=True)
class WebLimits:
    """How much one visitor and one address may do. A person types a message every few
    seconds at most; a script sends dozens a second."""

    messages_per_visitor: Rate = _MESSAGES_PER_VISITOR
    messages_per_address: Rate = _MESSAGES_PER_ADDRESS
    handoffs_per_visitor: Rate = _HANDOFFS_PER_VISITOR
    handoffs_per_address: Rate = _HANDOFFS_PER_ADDRESS
    uploads_per_visitor: Rate = _UPLOADS_PER_VISITOR
    uploads_per_address: Rate = _UPLOADS_PER_ADDRESS
    sockets_per_address: int = 20

    async def wait(
        self, buckets: Buckets, visitor: str, address: str, *, kind: Frame
    ) -> dt.timedelta:
        """Zero when the visitor may do this now, else how long until they may."""
        if kind == "upload":
            return await buckets.take(
                ("web:upload", visitor, self.uploads_per_visitor),
                ("web:upload", address, self.uploads_per_address),
            )
        limits = [
            ("web:message", visitor, self.messages_per_visitor),
            ("web:message", address, self.messages_per_address),
        ]
        if kind == "handoff":
            limits += [
                ("web:handoff", visitor, self.handoffs_per_visitor),
                ("web:handoff", address, self.handoffs_per_address),
            ]
        return await buckets.take(*limits)


def network_address(request: web.Request, trusted_proxies: Iterable[str] = ()) -> str:
    """The address a limit counts: the peer, or the client a trusted proxy names; an IPv6
    address stands for its /64 (one host can hold all of it)."""
    peer = request.remote or "unknown"
    if _within(peer, trusted_proxies):
        hops = [
            h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()
        ]
        peer = hops[-1] if hops else peer
    try:
        parsed = ipaddress.ip_address(peer)
    except ValueError:
        return peer[:64]
    if parsed.version == 6 and parsed.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed.ipv4_mapped or parsed) if parsed.version == 6 else str(parsed)


def _within(peer: str, networks: Iterable[str]) -> bool:
    """Whether `peer` is one of the trusted proxies (addresses or networks)."""
    try:
        address = ipaddress.ip_address(peer)
        return any(address in ipaddress.ip_network(n, strict=False) for n in networks)
    except ValueError:
        return False
