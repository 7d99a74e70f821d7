"""Operator accounts as the CLI and admins administer them: add or update an operator,
disable one or set its password (its sessions end), issue a one-time link. Each change
writes its audit row in the same transaction.

`Accounts` is the one object the rest of the code is given, so it also holds the console
sessions (`console`), the one-time links (`links`), an admin's changes to a teammate
(`team`), signing in and out (`sign_ins`) and the local admin of `make run`
(`local_admin`), which the team page, the sign-in pages and the start checks use."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from admin.accounts import team
from admin.accounts.audit import audit
from admin.accounts.errors import AccountError
from admin.accounts.links import LinkPurpose, OneTimeLinks
from admin.accounts.local_admin import LocalAdmin
from admin.accounts.logins import name_and_login, normal_login
from admin.accounts.passwords import hash_password
from admin.accounts.sessions import ConsoleSessions
from admin.accounts.sign_in import SignIns
from admin.accounts.team import Team
from admin.accounts.throttle import SignInThrottle
from core.db import SessionFactory
from core.models import Operator, OperatorGroup, OperatorRole, utcnow

__all__ = ["Accounts"]

SESSION_TTL = dt.timedelta(hours=12)


class Accounts:
    def __init__(
        self,
        sessions: SessionFactory,
        redis: Redis,
        *,
        session_ttl: dt.timedelta = SESSION_TTL,
        throttle: SignInThrottle | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self.console = ConsoleSessions(sessions, session_ttl, clock)
        self.links = OneTimeLinks(sessions, clock)
        self.throttle = throttle or SignInThrottle(redis)
        self.team = Team(sessions, self.console, clock)
        self.sign_ins = SignIns(sessions, self.console, self.links, self.throttle, clock)
        self.local_admin = LocalAdmin(sessions, self)

    # -- what admins do -------------------------------------------------------------------

    async def save(
        self,
        name: str,
        *,
        login: str | None = None,
        role: OperatorRole | None = None,
        groups: Sequence[str] | None = None,
        capacity: int = 3,
        language: str = "ru",
        telegram_user_id: int | None = None,
        actor_id: int | None = None,
        local_demo: bool = False,
        only_new: bool = False,
    ) -> Operator:
        """Add an operator, or update the one with the same Telegram id or login (with
        `only_new`, an existing login is refused instead)."""
        name, wanted = name_and_login(name, login)
        async with self._sessions() as session:
            query = select(Operator).where(
                Operator.telegram_user_id == telegram_user_id
                if telegram_user_id
                else Operator.login == wanted
            )
            operator = await session.scalar(query)
            if operator is not None and only_new:
                raise AccountError(f"the login {wanted!r} is taken", "login_taken")
            created = operator is None
            if operator is None:
                operator = Operator(
                    name=name, role=role or OperatorRole.OPERATOR, local_demo=local_demo
                )
            taken = await session.scalar(
                select(Operator.id).where(
                    Operator.login == wanted, Operator.id != (operator.id or 0)
                )
            )
            if taken is not None:
                raise AccountError(
                    f"the login {wanted!r} belongs to operator #{taken}", "login_taken"
                )
            operator.name, operator.login = name, wanted
            operator.telegram_user_id = telegram_user_id or operator.telegram_user_id
            operator.capacity, operator.language, operator.active = capacity, language, True
            if role is not None:
                operator.role = role
            if groups is not None or created:
                operator.groups = [OperatorGroup(group=g) for g in (groups or ["support"])]
            session.add(operator)
            try:
                await session.flush()
            except IntegrityError:  # the same login saved at this moment by someone else
                raise AccountError(f"the login {wanted!r} is taken", "login_taken") from None
            audit(
                session,
                "operator_added" if created else "operator_updated",
                operator_id=operator.id,
                actor_id=actor_id,
                at=self._clock(),
                login=wanted,
                role=operator.role.value,
            )
            await session.commit()
            return operator

    async def disable(self, login: str, *, actor_id: int | None = None) -> Operator:
        """The operator can no longer sign in; their open sessions end."""

        def deactivate(operator: Operator) -> None:
            operator.active = False

        return await self._change_signing_out(login, deactivate, "operator_disabled", actor_id)

    async def set_password(
        self, login: str, password: str, *, actor_id: int | None = None
    ) -> Operator:
        """Set a password (policy checked: `PasswordRejected`); every session ends."""
        hashed = await hash_password(password)

        def replace_hash(operator: Operator) -> None:
            operator.password_hash = hashed

        return await self._change_signing_out(login, replace_hash, "password_set", actor_id)

    async def _change_signing_out(
        self, login: str, change: Callable[[Operator], None], action: str, actor_id: int | None
    ) -> Operator:
        """A change to an account that ends its open sessions, audited in the same commit."""
        async with self._sessions() as session:
            operator = await team.by_login(session, login)
            change(operator)
            await self.console.close_all(session, operator.id)
            audit(session, action, operator_id=operator.id, actor_id=actor_id, at=self._clock())
            await session.commit()
            return operator

    async def issue_link(
        self,
        operator_id: int,
        purpose: LinkPurpose,
        *,
        ttl: dt.timedelta | None = None,
        actor_id: int | None = None,
        via: str = "cli",
    ) -> str:
        """A one-time invite or sign-in link token for an active operator."""
        async with self._sessions() as session:
            operator = await session.get(Operator, operator_id)
            if operator is None or not operator.active:
                raise AccountError(
                    f"operator #{operator_id} is unknown or disabled", "unknown_operator"
                )
            if operator.login is None:
                operator.login = normal_login(operator.name)
            token = self.links.issue(session, operator.id, purpose, ttl)
            audit(
                session,
                f"{purpose.value}_issued",
                operator_id=operator.id,
                actor_id=actor_id,
                at=self._clock(),
                via=via,
            )
            await session.commit()
            return token

    async def by_login(self, login: str) -> Operator:
        async with self._sessions() as session:
            return await team.by_login(session, login)
