"""Operators' own accounts: passwords, one-time links, console sessions, sign-in back-off,
signing in and out, the audit log, the team as admins manage it, and the local admin of
`make run`. Each module does one of these; `Accounts` is what the rest uses."""

from __future__ import annotations

from admin.accounts.accounts import Accounts
from admin.accounts.audit import audit, recent_audit
from admin.accounts.errors import AccountError
from admin.accounts.links import LinkPurpose, link_path
from admin.accounts.logins import normal_login
from admin.accounts.passwords import PasswordRejected
from admin.accounts.sign_in import SignedIn
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
