"""Operator passwords: argon2id hashes (argon2-cffi's RFC 9106 defaults), checked off the
event loop because a check costs tens of milliseconds by design."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["MAX_PASSWORD", "MIN_PASSWORD", "PasswordRejected", "hash_password", "verify_password"]

MIN_PASSWORD = 10
MAX_PASSWORD = 256  # argon2 takes any length; a cap keeps a huge body from costing more
_hasher = PasswordHasher()
_UNKNOWN = _hasher.hash("an account that does not exist")


class PasswordRejected(ValueError):
    """The new password breaks the policy; `key` names the rule for the page's text."""

    def __init__(self, key: str) -> None:
        super().__init__(_RULES[key])
        self.key = key


_RULES = {
    "password_short": f"the password must have at least {MIN_PASSWORD} characters",
    "password_long": f"the password must have at most {MAX_PASSWORD} characters",
    "password_weak": "the password must use at least 4 different characters",
}


def check_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise PasswordRejected("password_short")
    if len(password) > MAX_PASSWORD:
        raise PasswordRejected("password_long")
    if len(set(password)) < 4:
        raise PasswordRejected("password_weak")


async def hash_password(password: str) -> str:
    """Hash a new password after checking the policy (raises `PasswordRejected`)."""
    check_policy(password)
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(stored: str | None, password: str) -> bool:
    """Whether `password` matches `stored`. With no stored hash (no such account, or no
    password set) a dummy hash is checked anyway, so timing does not tell accounts apart."""
    if len(password) > MAX_PASSWORD:
        return False
    return await asyncio.to_thread(_verify, stored, password)


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _UNKNOWN, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False
