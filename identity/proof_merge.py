"""The step every proof ends in: the clients behind two identities become one, the client
is told in the chat, and the queue is made to agree after the engine's commit."""

from __future__ import annotations

from sqlalchemy import select

from core.db import SessionFactory
from core.events import DeskFeed
from core.models import Client, Conversation, Direction, Identity, Message
from core.texts import say
from identity.merge import merge_in, sync_queue
from identity.turn import Turn
from routing.queue import OperatorQueue

__all__ = ["ProofMerge"]


class ProofMerge:
    def __init__(self, *, sessions: SessionFactory, queue: OperatorQueue, feed: DeskFeed) -> None:
        self._sessions = sessions
        self._queue = queue
        self._feed = feed

    async def merge(
        self,
        turn: Turn,
        other_identity: Identity,
        reason: str,
        proof: str,
        done_key: str,
        *,
        notice: str | None = None,
        email: str | None = None,
        phone_field: str | None = None,
        **values: object,
    ) -> list[int]:
        """Merge the client behind `other_identity` with this one (the older client
        survives) and tell the client; the queue is made to agree after the commit."""
        session = turn.session
        other = await session.get(Client, other_identity.client_id)
        assert other is not None
        survivor, merged = sorted((turn.client, other), key=lambda c: (c.created_at, c.id))
        entry = await merge_in(
            session,
            survivor,
            merged,
            reason=reason,
            proof=proof,
            operator_id=None,
            now=turn.now,
            language=turn.desk_language,
        )
        if email:
            survivor.email = email
        if phone_field:
            survivor.phone = phone_field
        message_conversation = await session.scalar(
            select(Message.conversation_id).where(
                Message.channel == turn.inbound.channel,
                Message.direction == Direction.IN,
                Message.identity_id == turn.identity.id,
                Message.channel_message_id == turn.inbound.platform_message_id,
            )
        )
        thread = await session.get(Conversation, message_conversation)
        assert thread is not None
        turn.conversation = thread
        channel = say(f"channel_{other_identity.channel.value}", turn.language)
        ids = [await turn.reply(done_key, channel=channel, **values)]
        if notice:
            here = say(f"channel_{turn.identity.channel.value}", turn.language)
            ids.append(
                await turn.tell(thread, other_identity, say(notice, turn.language, channel=here))
            )
        announced = {
            "record_id": entry.id,
            "survivor_id": entry.survivor_id,
            "merged_id": entry.merged_id,
            "conversation_id": thread.id,
            "absorbed": [u["conversation"] for u in entry.moved["absorbed"]],
            "reason": reason,
        }

        async def after_commit() -> None:
            async with self._sessions() as fresh:
                await sync_queue(self._queue, fresh, entry)
            await self._feed.publish("merged", **announced)

        turn.after_commit.append(after_commit)
        return ids
