"""Alembic environment: migrations always run on a connection handed in by `core.db.upgrade`."""

from __future__ import annotations

from alembic import context

from core.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `switchboard db upgrade`")

context.configure(
    connection=connection, target_metadata=Base.metadata, render_as_batch=True, compare_type=True
)
with context.begin_transaction():
    context.run_migrations()
