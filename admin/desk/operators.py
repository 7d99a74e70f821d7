"""Who the operators are: finding, registering and linking them to the admin bot."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import select

from admin.desk.errors import DeskError
from admin.desk.lookup import active_operator
from core.db import SessionFactory
from core.models import Operator, OperatorGroup, OperatorRole

__all__ = ["Operators"]

MENTION = re.compile(r"(?<![\w@])@([\w][\w.-]*)")
"""`@Борис`, `@anna.p`: a colleague named in a note (not an e-mail address's @)."""


class Operators:
    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    async def active(self, operator_id: int) -> Operator:
        """The operator, refused with `PermissionError` when unknown or disabled."""
        return await active_operator(self._sessions, operator_id)

    async def register(
        self,
        name: str,
        *,
        groups: Sequence[str] = ("support",),
        capacity: int = 3,
        language: str = "ru",
        telegram_user_id: int | None = None,
        role: OperatorRole = OperatorRole.OPERATOR,
    ) -> Operator:
        """Find an operator by name (or Telegram id), or create one (with no way to sign in
        to the console: that is an account, admin/accounts)."""
        async with self._sessions() as session:
            query = select(Operator).where(
                Operator.telegram_user_id == telegram_user_id
                if telegram_user_id
                else Operator.name == name
            )
            operator = await session.scalar(query)
            if operator is None:
                operator = Operator(
                    name=name,
                    capacity=capacity,
                    language=language,
                    telegram_user_id=telegram_user_id,
                    role=role,
                    groups=[OperatorGroup(group=g) for g in groups],
                )
                session.add(operator)
                await session.commit()
            return operator

    async def by_telegram(self, telegram_user_id: int) -> Operator | None:
        """The active operator behind a Telegram account, or None (a stranger)."""
        async with self._sessions() as session:
            return await session.scalar(
                select(Operator).where(
                    Operator.telegram_user_id == telegram_user_id, Operator.active.is_(True)
                )
            )

    async def link_telegram(self, operator_id: int, telegram_user_id: int) -> Operator:
        """Make `telegram_user_id` the operator's admin bot account (an invite redeemed);
        an account linked to someone else before is moved."""
        async with self._sessions() as session:
            previous = await session.scalar(
                select(Operator).where(
                    Operator.telegram_user_id == telegram_user_id, Operator.id != operator_id
                )
            )
            if previous is not None:
                previous.telegram_user_id = None
                await session.flush()
            operator = await session.get(Operator, operator_id)
            if operator is None or not operator.active:
                raise PermissionError(f"operator {operator_id} is unknown or disabled")
            operator.telegram_user_id = telegram_user_id
            await session.commit()
            return operator

    async def find(self, who: str) -> Operator:
        """An active operator by id or by name (case-insensitive, compared here: SQLite
        lowers only ASCII letters)."""
        wanted = who.strip().lstrip("#")
        async with self._sessions() as session:
            active = await session.scalars(
                select(Operator).where(Operator.active.is_(True)).order_by(Operator.id)
            )
            operator = next(
                (
                    o
                    for o in active
                    if str(o.id) == wanted or o.name.casefold() == wanted.casefold()
                ),
                None,
            )
        if operator is None:
            raise DeskError("desk_operator_unknown", name=who)
        return operator

    async def mentioned(self, text: str, by: int) -> list[Operator]:
        """The active colleagues `text` names with an @: by their sign-in login, their
        first name or their whole name written together (`@Борис`, `@АннаПетрова`); every
        one a first name fits. Case-insensitive, compared here (SQLite lowers only ASCII)."""
        asked = {m.rstrip(".-").casefold() for m in MENTION.findall(text)}
        if not asked:
            return []
        async with self._sessions() as session:
            active = await session.scalars(
                select(Operator)
                .where(Operator.active.is_(True), Operator.id != by)
                .order_by(Operator.name, Operator.id)
            )
            return [o for o in active if asked & _handles(o)]

    async def name(self, operator_id: int | None) -> str:
        """An operator's name for a message ("taken by …"), "?" when there is none."""
        async with self._sessions() as session:
            operator = await session.get(Operator, operator_id) if operator_id else None
        return operator.name if operator else "?"

    async def colleagues(self, operator_id: int) -> list[Operator]:
        """Every active operator but this one, by name."""
        async with self._sessions() as session:
            return list(
                await session.scalars(
                    select(Operator)
                    .where(Operator.active.is_(True), Operator.id != operator_id)
                    .order_by(Operator.name, Operator.id)
                )
            )

    async def known_groups(self) -> set[str]:
        """The groups some active operator serves: the places a transfer can go."""
        async with self._sessions() as session:
            return set(
                await session.scalars(
                    select(OperatorGroup.group)
                    .join(Operator, Operator.id == OperatorGroup.operator_id)
                    .where(Operator.active.is_(True))
                    .distinct()
                )
            )


def _handles(operator: Operator) -> set[str]:
    """What an @ may call an operator by."""
    words = operator.name.split()
    handles = {"".join(words).casefold(), words[0].casefold()} if words else set()
    return handles | ({operator.login.casefold()} if operator.login else set())
