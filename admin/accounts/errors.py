"""The one error of account requests, kept apart so every accounts module can raise it."""

from __future__ import annotations

__all__ = ["AccountError"]


class AccountError(Exception):
    """A request about an account that cannot be done; the message says why, and `key`
    names the reason for a page's text in the reader's language."""

    def __init__(self, message: str, key: str = "refused") -> None:
        super().__init__(message)
        self.key = key
