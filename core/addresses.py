"""Listen addresses and networks as the settings name them (no I/O, no web framework:
the settings read these at start-up and the CLI must stay quick)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

__all__ = ["LOOPBACK_HOSTS", "Network", "is_loopback", "parse_networks"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def is_loopback(host: str) -> bool:
    """Whether a listen address (or host name) reaches only this machine."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """`10.0.0.1`, `10.0.0.0/8`, `::1` → networks (ValueError names a bad one)."""
    return tuple(ipaddress.ip_network(value.strip(), strict=False) for value in values)
