"""Append-only rows in the unit of work: messages and conversation events written with one
INSERT per table at each flush, instead of one ORM object each.

Why it exists: the engine stores every inbound message, its reply and their events in one
unit of work per polled batch. As ORM objects each costs the unit of work's bookkeeping
(identity map, state tracking, per-object flush planning), which is most of the time the
engine spends on a batch; as a plain row it costs a dictionary and its share of one
multi-row INSERT, two to four times less per message. This is what holds the pipeline benchmark (bench/pipeline.py) at its
ratio to the bare aiogram echo bot. Messages and events are never changed in the unit of
work that makes them, so nothing is lost by not tracking them.

What it guarantees (tests/test_unit_of_work.py):
- the rows are written at the next flush, an autoflush before a query included, or at the
  commit; each `AppendedRow.id` is its primary key from then on;
- the rows of a table are written in the order they were appended, before the session's
  new and changed objects;
- a rollback drops the rows appended since the last flush: they are never written later;
- a row refers only to objects already written (`append_row` checks its required foreign
  keys), so writing rows before objects never breaks a constraint.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

__all__ = ["AppendedRow", "UnitOfWork", "append_row", "unwritten_rows"]

_APPENDED = "appended rows"


@dataclass(eq=False)
class AppendedRow:
    """A row `UnitOfWork` writes at its next flush; `id` is its primary key from then on."""

    values: dict[str, Any]
    id: int = 0


class UnitOfWork(Session):
    """The session behind every `AsyncSession` of `core.db.session_factory`: an ORM session
    that also writes the append-only rows of `append_row` at each flush."""

    def append(self, table: Table, values: dict[str, Any]) -> AppendedRow:
        row = AppendedRow(values)
        self.info.setdefault(_APPENDED, {}).setdefault(table, []).append(row)
        return row

    def unwritten(self, table: Table) -> list[AppendedRow]:
        return list(self.info.get(_APPENDED, {}).get(table, ()))

    def flush(self, objects: Any = None) -> None:
        appended: dict[Table, list[AppendedRow]] = self.info.pop(_APPENDED, {})
        for table, rows in appended.items():
            insert = table.insert().returning(table.c.id, sort_by_parameter_order=True)
            for _, run in itertools.groupby(rows, key=lambda row: tuple(row.values)):
                same_columns = list(run)  # one statement needs one set of columns
                keys = self.connection().execute(insert, [row.values for row in same_columns])
                for row, (key,) in zip(same_columns, keys, strict=True):
                    row.id = key
        super().flush(objects)


@event.listens_for(UnitOfWork, "before_commit")
def _write_appended(session: Session) -> None:
    session.flush()


@event.listens_for(UnitOfWork, "after_soft_rollback")
def _drop_appended(session: Session, _previous: SessionTransaction) -> None:
    session.info.pop(_APPENDED, None)  # rows since the last flush: rolled back with the rest


def append_row(session: AsyncSession, table: Table, values: dict[str, Any]) -> AppendedRow:
    """Add an append-only row to the session's unit of work. Foreign keys must be ids
    already: flush a new object before a row refers to it."""
    assert all(values[c.name] is not None for c in table.c if c.foreign_keys and not c.nullable), (
        f"a {table.name} row refers to an object not yet flushed"
    )
    return _unit_of_work(session).append(table, values)


def unwritten_rows(session: AsyncSession, table: Table) -> list[AppendedRow]:
    """The rows appended to `table` that the next flush will write. A query made under
    `session.no_autoflush` sees the written ones only: with these, a count can include
    the unit of work's own rows without writing them first (one flush per batch, not one
    per message that counts)."""
    return _unit_of_work(session).unwritten(table)


def _unit_of_work(session: AsyncSession) -> UnitOfWork:
    sync = session.sync_session
    assert isinstance(sync, UnitOfWork), "sessions come from core.db.session_factory"
    return sync
