"""Operator accounts: who may sign in to the console, how, and as what role.

Everything that changes an account or opens a session goes through here, and each such
step writes its audit row in the same transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from admin.accounts.audit import audit
from admin.accounts.errors import AccountError
from admin.accounts.links import LinkPurpose, OneTimeLinks
from admin.accounts.passwords import hash_password, verify_password
from admin.accounts.sessions import ConsoleSessions
from admin.accounts.team import by_id, keeping_an_admin
from admin.accounts.throttle import SignInThrottle
from core.db import SessionFactory
from core.models import Operator, OperatorGroup, OperatorRole, utcnow

__all__ = ["AccountError", "Accounts", "SignedIn", "normal_login"]

SESSION_TTL = dt.timedelta(hours=12)
LOCAL_ADMIN = "admin"
MAX_NAME = 200  # the columns' sizes
MAX_LOGIN = 100


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The outcome of a sign-in: a session token, or how long to wait (0: just wrong)."""

    operator: Operator | None
    token: str | None = None
    retry_after: int = 0


def normal_login(login: str) -> str:
    return " ".join(login.split()).casefold()


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
        name = " ".join(name.split())
        if not name or len(name) > MAX_NAME:
            raise AccountError(f"the name must be 1-{MAX_NAME} characters", "name_length")
        wanted = normal_login(login or name)
        if not wanted or len(wanted) > MAX_LOGIN:
            raise AccountError(f"the login must be 1-{MAX_LOGIN} characters", "login_length")
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
            operator = await self._by_login(session, login)
            change(operator)
            await self.console.close_all(session, operator.id)
            audit(session, action, operator_id=operator.id, actor_id=actor_id, at=self._clock())
            await session.commit()
            return operator

    async def set_active(self, operator_id: int, active: bool, *, actor_id: int) -> Operator:
        """An admin disables an operator (their sessions end) or lets them back in; never
        themselves, never the last active admin."""
        async with self._sessions() as session:
            operator = await by_id(session, operator_id)
            if operator.active == active:
                return operator
            async with keeping_an_admin(session, operator, actor_id=actor_id):
                operator.active = active
                if not active:
                    await self.console.close_all(session, operator.id)
            audit(
                session,
                "operator_enabled" if active else "operator_disabled",
                operator_id=operator.id,
                actor_id=actor_id,
                at=self._clock(),
            )
            await session.commit()
            return operator

    async def change(
        self,
        operator_id: int,
        *,
        actor_id: int,
        role: OperatorRole | None = None,
        groups: Sequence[str] | None = None,
        capacity: int | None = None,
    ) -> Operator:
        """An admin changes an operator's role, groups or capacity; the audit row says what
        was and what is. An admin never demotes themselves or the last active admin."""
        async with self._sessions() as session:
            operator = await by_id(session, operator_id)
            changed: dict[str, Any] = {}  # field: [before, after]
            if role is not None and role is not operator.role:
                async with keeping_an_admin(session, operator, actor_id=actor_id):
                    changed["role"] = [operator.role.value, role.value]
                    operator.role = role
            if groups is not None and sorted(set(groups)) != operator.group_names:
                changed["groups"] = [operator.group_names, sorted(set(groups))]
                operator.groups = [OperatorGroup(group=g) for g in sorted(set(groups))]
            if capacity is not None and capacity != operator.capacity:
                changed["capacity"] = [operator.capacity, capacity]
                operator.capacity = capacity
            if changed:
                audit(
                    session,
                    "operator_changed",
                    operator_id=operator.id,
                    actor_id=actor_id,
                    at=self._clock(),
                    **changed,
                )
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
            return await self._by_login(session, login)

    # -- signing in and out ---------------------------------------------------------------

    async def sign_in(self, login: str, password: str, address: str) -> SignedIn:
        """Password sign-in with back-off per account and per address."""
        wanted = normal_login(login)[:100]
        wait = await self.throttle.wait(wanted, address)
        if wait:
            return SignedIn(None, retry_after=wait)
        async with self._sessions() as session:
            operator = await session.scalar(select(Operator).where(Operator.login == wanted))
            stored = operator.password_hash if operator is not None and operator.active else None
            if not await verify_password(stored, password) or operator is None:
                audit(
                    session,
                    "sign_in_failed",
                    operator_id=operator.id if operator else None,
                    address=address,
                    at=self._clock(),
                    login=wanted,
                )
                await session.commit()
                return SignedIn(None, retry_after=await self.throttle.failed(wanted, address))
            token = self.console.open(session, operator.id, address)
            audit(
                session,
                "signed_in",
                operator_id=operator.id,
                address=address,
                at=self._clock(),
                via="password",
            )
            await session.commit()
        await self.throttle.succeeded(wanted)
        return SignedIn(operator, token)

    async def sign_in_with_link(self, link: str, address: str) -> SignedIn:
        async with self._sessions() as session:
            operator = await self.links.spend(session, link, LinkPurpose.SIGN_IN)
            if operator is None:
                return SignedIn(None)
            token = self.console.open(session, operator.id, address)
            audit(
                session,
                "signed_in",
                operator_id=operator.id,
                address=address,
                at=self._clock(),
                via="link",
            )
            await session.commit()
            return SignedIn(operator, token)

    async def accept_invite(self, link: str, password: str, address: str) -> SignedIn:
        """Set the invited operator's password (policy checked first, so a rejected one
        leaves the invite usable) and sign them in."""
        hashed = await hash_password(password)
        async with self._sessions() as session:
            operator = await self.links.spend(session, link, LinkPurpose.INVITE)
            if operator is None:
                return SignedIn(None)
            operator.password_hash = hashed
            await self.console.close_all(session, operator.id)
            token = self.console.open(session, operator.id, address)
            audit(
                session,
                "invite_accepted",
                operator_id=operator.id,
                address=address,
                at=self._clock(),
            )
            await session.commit()
            return SignedIn(operator, token)

    async def sign_out(self, token: str, address: str) -> int | None:
        """End a console session; returns whose it was (None when it had ended already)."""
        async with self._sessions() as session:
            operator_id = await self.console.close(session, token)
            if operator_id is not None:
                audit(
                    session,
                    "signed_out",
                    operator_id=operator_id,
                    address=address,
                    at=self._clock(),
                )
            await session.commit()
        return operator_id

    # -- the local admin of `make run` ----------------------------------------------------

    async def local_admin_link(self, groups: Sequence[str]) -> str | None:
        """On a loopback start with no admin but the local one: make that admin if needed
        and return a fresh one-time sign-in token for it (None when a real admin exists).
        The local admin serves `groups`, every group the service levels route to, so each
        hand-off of a try-out reaches the one person trying it."""
        async with self._sessions() as session:
            admins = list(
                await session.scalars(
                    select(Operator).where(
                        Operator.role == OperatorRole.ADMIN, Operator.active.is_(True)
                    )
                )
            )
        if any(not admin.local_demo for admin in admins):
            return None
        if not admins:
            async with self._sessions() as session:
                if await session.scalar(select(Operator.id).where(Operator.login == LOCAL_ADMIN)):
                    raise AccountError(
                        f"an operator signs in as {LOCAL_ADMIN!r} but no admin "
                        "exists: make one with switchboard operators add NAME "
                        "--role admin"
                    )
        if admins:
            admin = admins[0]
            await self._serve_too(admin.id, groups)
        else:
            admin = await self.save(
                "Admin", login=LOCAL_ADMIN, role=OperatorRole.ADMIN, groups=groups, local_demo=True
            )
        return await self.issue_link(admin.id, LinkPurpose.SIGN_IN, via="local start")

    async def _serve_too(self, operator_id: int, groups: Sequence[str]) -> None:
        """Add the groups an operator does not serve yet (a desk's new ones since)."""
        async with self._sessions() as session:
            served = set(
                await session.scalars(
                    select(OperatorGroup.group).where(OperatorGroup.operator_id == operator_id)
                )
            )
            session.add_all(
                OperatorGroup(operator_id=operator_id, group=g) for g in groups if g not in served
            )
            await session.commit()

    async def local_demo_admins(self) -> list[str]:
        """Logins of active local admins: a non-loopback start refuses while there are any."""
        async with self._sessions() as session:
            return list(
                await session.scalars(
                    select(Operator.login).where(
                        Operator.local_demo.is_(True), Operator.active.is_(True)
                    )
                )
            )

    @staticmethod
    async def _by_login(session: AsyncSession, login: str) -> Operator:
        operator = await session.scalar(
            select(Operator).where(Operator.login == normal_login(login))
        )
        if operator is None:
            raise AccountError(
                f"no operator signs in as {normal_login(login)!r}", "unknown_operator"
            )
        return operator
