"""Operators' own accounts: passwords, one-time links, console sessions, sign-in back-off
and the audit log. Each module does one of these; `Accounts` is what the rest uses."""

from __future__ import annotations

from admin.accounts.accounts import AccountError, Accounts, SignedIn, normal_login
from admin.accounts.audit import audit, recent_audit
from admin.accounts.links import LinkPurpose, link_path
from admin.accounts.passwords import PasswordRejected

__all__ = [
    "AccountError",
    "Accounts",
    "LinkPurpose",
    "PasswordRejected",
    "SignedIn",
    "audit",
    "link_path",
    "normal_login",
    "recent_audit",
]
