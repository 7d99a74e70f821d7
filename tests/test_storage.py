from __future__ import annotations

import datetime as dt

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.contracts import ChannelKind
from core.db import SessionFactory
from core.models import Base, Client, Identity


async def test_migrations_match_models(db_engine: AsyncEngine) -> None:
    async with db_engine.connect() as connection:
        diff = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
        )
    assert diff == []


async def test_times_come_back_aware_utc(sessions: SessionFactory) -> None:
    moment = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=3)))
    async with sessions() as session:
        client = Client(display_name="Анна", created_at=moment)
        session.add(client)
        await session.flush()
        session.add(Identity(client_id=client.id, channel=ChannelKind.WEB, external_id="v1"))
        await session.commit()
    async with sessions() as session:
        stored = await session.scalar(select(Client))
        assert stored is not None
        assert stored.created_at == moment
        assert stored.created_at.tzinfo is not None
