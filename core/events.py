"""Conversation events: stored facts for reports, and live notices for operators.

`record` adds a `ConversationEvent` row to the caller's unit of work, so the fact commits
with the change it describes. `DeskFeed` carries live notices (queued, client wrote, taken,
closed, SLA warnings…) to every operator console and admin bot over Redis pub/sub; it is
published after the commit and is only a nudge: consoles re-read the database.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from core import keys
from core.models import Base, Conversation, ConversationEvent, EventKind
from core.unit_of_work import append_row

__all__ = ["DeskFeed", "record"]

log = logging.getLogger(__name__)

EVENTS = Base.metadata.tables[ConversationEvent.__tablename__]


def record(
    session: AsyncSession,
    conversation: Conversation,
    kind: EventKind,
    at: dt.datetime,
    *,
    operator_id: int | None = None,
    **data: Any,
) -> None:
    """An event of a stored conversation, written with the session's next flush as an
    append-only row (`core.unit_of_work`): events are never changed."""
    append_row(
        session,
        EVENTS,
        {
            "conversation_id": conversation.id,
            "kind": kind,
            "at": at,
            "operator_id": operator_id,
            "channel": conversation.last_channel,
            "category": conversation.category,
            "group": conversation.group,
            "data": data,
        },
    )


class DeskFeed:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def publish(self, kind: str, **data: Any) -> None:
        """Best effort: a lost notice never loses data, the database has it."""
        try:
            await self._redis.publish(
                keys.desk_events(), json.dumps({"kind": kind, **data}, default=str)
            )
        except RedisError as exc:
            log.warning("desk notice %s not published: %s", kind, exc)

    async def listen(self) -> AsyncIterator[dict[str, Any]]:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(keys.desk_events())
        try:
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    yield json.loads(message["data"])
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
