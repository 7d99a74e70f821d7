"""Saved replies (macros): the desk's, shared by every operator, and each operator's own.
An operator sees both, inserts one into the reply with a click, and saves a reply they
typed as a new one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import or_, select

from admin.desk import DeskError
from core.db import SessionFactory
from core.models import Macro

__all__ = ["MacroView", "Macros"]

MAX_TITLE = 100
MAX_TEXT = 5000
MAX_OWN = 200  # per operator, and as many for the desk: a list, not a second KB


@dataclass(frozen=True, slots=True)
class MacroView:
    id: int
    title: str
    text: str
    shared: bool  # the desk's, not the operator's own


class Macros:
    def __init__(self, sessions: SessionFactory, clock: Callable[[], dt.datetime]) -> None:
        self._sessions = sessions
        self._clock = clock

    async def visible(self, operator_id: int) -> list[MacroView]:
        """The desk's macros, then the operator's own, each by title."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Macro)
                .where(or_(Macro.operator_id.is_(None), Macro.operator_id == operator_id))
                .order_by(Macro.operator_id.is_not(None), Macro.title, Macro.id)
            )
            return [_view(m) for m in rows]

    async def save(self, operator_id: int, title: str, text: str, *, shared: bool) -> MacroView:
        """`shared` saves it for the whole desk (an admin's choice; see the console)."""
        title, text = " ".join(title.split()), text.strip()
        if not title or len(title) > MAX_TITLE or not text or len(text) > MAX_TEXT:
            raise DeskError("desk_macro_invalid", title=MAX_TITLE, text=MAX_TEXT)
        owner = None if shared else operator_id
        async with self._sessions() as session:
            count = len(
                list(
                    await session.scalars(
                        select(Macro.id).where(
                            Macro.operator_id.is_(None)
                            if owner is None
                            else Macro.operator_id == owner
                        )
                    )
                )
            )
            if count >= MAX_OWN:
                raise DeskError("desk_macro_full", limit=MAX_OWN)
            macro = Macro(operator_id=owner, title=title, text=text, created_at=self._clock())
            session.add(macro)
            await session.commit()
            return _view(macro)

    async def remove(self, operator_id: int, macro_id: int, *, admin: bool) -> None:
        """An operator removes their own; the desk's only an admin."""
        async with self._sessions() as session:
            macro = await session.get(Macro, macro_id)
            if (
                macro is None
                or (macro.operator_id is None and not admin)
                or (macro.operator_id is not None and macro.operator_id != operator_id)
            ):
                raise DeskError("desk_macro_not_yours", macro_id=macro_id)
            await session.delete(macro)
            await session.commit()


def _view(macro: Macro) -> MacroView:
    return MacroView(macro.id, macro.title, macro.text, shared=macro.operator_id is None)
