"""The person behind a client number: a merged client's number still names them, by the
client it was merged into (however many merges deep)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Client, Identity

__all__ = ["accounts_of", "current_client", "merged_clients"]


async def current_client(session: AsyncSession, client_id: int) -> Client | None:
    """The client `client_id` is now: itself, or the one it was merged into; None when
    there is no such client."""
    client = await session.get(Client, client_id)
    seen: set[int] = set()
    while client is not None and client.merged_into_id is not None and client.id not in seen:
        seen.add(client.id)
        client = await session.get(Client, client.merged_into_id)
    return client


async def merged_clients(session: AsyncSession, client_id: int) -> list[int]:
    """The clients merged into `client_id`, however deep (their accounts and
    conversations moved to it; their own rows keep what they were told)."""
    found: list[int] = []
    frontier = [client_id]
    while frontier:
        frontier = [
            c
            for c in await session.scalars(
                select(Client.id).where(Client.merged_into_id.in_(frontier))
            )
            if c not in found and c != client_id
        ]
        found += frontier
    return found


async def accounts_of(session: AsyncSession, client_id: int) -> list[Identity]:
    """The client's accounts (a Telegram or VK user, an email address, a browser), oldest
    first."""
    return list(
        await session.scalars(
            select(Identity).where(Identity.client_id == client_id).order_by(Identity.id)
        )
    )
