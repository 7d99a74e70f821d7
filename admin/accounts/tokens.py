"""Random secrets handed out once (session cookies, one-time links) and the sha256 that is
all the database keeps of them: a stolen database signs nobody in."""

from __future__ import annotations

import hashlib
import secrets

__all__ = ["MAX_TOKEN", "new_token", "token_hash"]

MAX_TOKEN = 128


def new_token() -> tuple[str, str]:
    """A fresh token and its hash."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
