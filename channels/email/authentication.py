"""What the receiving mail server vouches for: DMARC in `Authentication-Results` (RFC 8601).

`From` alone proves nothing; anyone can write any address there. The server that took the
letter in checks SPF, DKIM and DMARC and records the verdict in an `Authentication-Results`
header that starts with its own authserv-id. Only such a header from an authserv-id the
desk trusts counts (a sender can add any header of their own, so untrusted ones are
ignored), and of those only the topmost: the receiving server prepends its own, and one a
sender planted sits below it. The verdict must also be about the `From` domain.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from email.message import Message

from channels.email.headers import header_all

__all__ = ["dmarc_verdict"]

_RESULT = re.compile(r"(?:^|;)\s*dmarc\s*=\s*([a-z]+)([^;]*)", re.IGNORECASE)
_HEADER_FROM = re.compile(r"header\.from\s*=\s*\"?([^\s;\"]+)", re.IGNORECASE)


def dmarc_verdict(message: Message, trusted: Collection[str], from_address: str) -> str:
    """ "pass" when the topmost trusted `Authentication-Results` says DMARC passed for the
    `From` domain; else what it said ("fail", "none"…), or "unchecked" without one."""
    trusted_ids = {t.strip().lower() for t in trusted if t.strip()}
    domain = from_address.rpartition("@")[2].lower()
    for value in header_all(message, "Authentication-Results"):
        authserv_id = value.split(";", 1)[0].split()[0].lower() if value.strip() else ""
        if authserv_id not in trusted_ids:
            continue
        found = _RESULT.search(value.split(";", 1)[1] if ";" in value else "")
        if found is None:
            return "none"
        verdict = found.group(1).lower()
        about = _HEADER_FROM.search(found.group(2))
        if verdict == "pass" and (about is None or about.group(1).lower() != domain):
            return "other-domain"
        return verdict
    return "unchecked"
