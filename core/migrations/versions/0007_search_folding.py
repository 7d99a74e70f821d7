"""search: folded copies of message texts and client names, filled for existing rows

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.folding import fold

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BATCH = 1000
_SOURCES = (
    ("messages", "text", "folded_text", None),
    ("clients", "display_name", "folded_name", 200),
    ("identities", "display_name", "folded_name", 200),
)


def upgrade() -> None:
    op.add_column("messages", sa.Column("folded_text", sa.Text(), nullable=True))
    op.add_column("clients", sa.Column("folded_name", sa.String(length=200), nullable=True))
    op.add_column("identities", sa.Column("folded_name", sa.String(length=200), nullable=True))
    connection = op.get_bind()
    for table_name, source, target, limit in _SOURCES:
        table = sa.table(
            table_name, sa.column("id", sa.Integer()), sa.column(source), sa.column(target)
        )
        last = 0
        while True:
            rows = connection.execute(
                sa.select(table.c.id, table.c[source])
                .where(table.c.id > last, table.c[source].is_not(None), table.c[source] != "")
                .order_by(table.c.id)
                .limit(BATCH)
            ).all()
            if not rows:
                break
            connection.execute(
                table.update()
                .where(table.c.id == sa.bindparam("row_id"))
                .values({target: sa.bindparam("folded")}),
                [{"row_id": row_id, "folded": fold(value)[:limit]} for row_id, value in rows],
            )
            last = rows[-1][0]


def downgrade() -> None:
    op.drop_column("identities", "folded_name")
    op.drop_column("clients", "folded_name")
    op.drop_column("messages", "folded_text")
