"""Operators' own accounts: passwords, one-time links, console sessions, sign-in back-off,
the audit log, and the team as admins manage it. Each module does one of these; `Accounts`
is what the rest uses."""

from __future__ import annotations

from admin.accounts.accounts import Accounts, SignedIn, normal_login
from admin.accounts.audit import audit, recent_audit
from admin.accounts.errors import AccountError
from admin.accounts.links import LinkPurpose, link_path
from admin.accounts.passwords import PasswordRejected
from admin.accounts.team import Member, roster

__all__ = [
    "AccountError",
    "Accounts",
    "LinkPurpose",
    "Member",
    "PasswordRejected",
    "SignedIn",
    "audit",
    "link_path",
    "normal_login",
    "recent_audit",
    "roster",
]
