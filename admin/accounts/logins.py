"""What an operator signs in as: the login is the name's words, case-folded, unless one is
given; a name and a login fit their columns."""

from __future__ import annotations

from admin.accounts.errors import AccountError

__all__ = ["MAX_LOGIN", "MAX_NAME", "name_and_login", "normal_login"]

MAX_NAME = 200  # the columns' sizes
MAX_LOGIN = 100


def normal_login(login: str) -> str:
    return " ".join(login.split()).casefold()


def name_and_login(name: str, login: str | None) -> tuple[str, str]:
    """The name with its spaces tidied and the login it asks for (the name's when none is
    given); `AccountError` when either is empty or too long."""
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME:
        raise AccountError(f"the name must be 1-{MAX_NAME} characters", "name_length")
    wanted = normal_login(login or name)
    if not wanted or len(wanted) > MAX_LOGIN:
        raise AccountError(f"the login must be 1-{MAX_LOGIN} characters", "login_length")
    return name, wanted
