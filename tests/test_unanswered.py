"""A conversation whose client never answered the operator is closed after
CLOSE_UNANSWERED_HOURS: the client is told and asked for a rating, the operator's slot is
free. One where the client spoke last waits for its operator, however long."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from stepping_clock import SteppingClock
from web_client import Visitor

from core.models import Conversation, ConversationEvent, ConversationStatus, EventKind
from switchboard.app import Gateway

WAITED = dt.timedelta(hours=48)


async def handed_off(gateway: Gateway, visitor: Visitor, text: str) -> int:
    since = visitor.ws.mark()
    await visitor.say(text)
    await visitor.reply(since=since, containing="очеред")
    async with gateway.sessions() as session:
        found = await session.scalar(
            select(Conversation.id)
            .where(Conversation.status == ConversationStatus.QUEUED)
            .order_by(Conversation.id.desc())
        )
    assert found is not None
    return found


async def test_the_client_who_never_answered_is_told_and_the_operators_slot_freed(
    gateway: Gateway, served: str, clock: SteppingClock
) -> None:
    anna = await gateway.desk.operators.register("Анна", groups=list(gateway.levels.groups))
    async with Visitor(served) as silent, Visitor(served) as talking:
        quiet = await handed_off(gateway, silent, "Почему мой кот боится пылесоса?")
        owed = await handed_off(gateway, talking, "Почему собака лает на луну?")
        for conversation_id in (quiet, owed):
            await gateway.desk.actions.take(anna.id, conversation_id)
            await gateway.desk.actions.reply(anna.id, conversation_id, "Уточните, пожалуйста…")
        since = talking.ws.mark()
        said = await talking.say("Она лает только в полнолуние")  # Anna owes the answer now
        await talking.acked(said, since)

        clock.advance(hours=47)
        assert await gateway.desk.actions.close_unanswered(WAITED) == 0  # not yet
        clock.advance(hours=2)
        since = silent.ws.mark()
        assert await gateway.desk.actions.close_unanswered(WAITED) == 1
        told = await silent.reply(since=since, containing="не получили")
        assert told["text"].startswith("Мы не получили от вас ответа, поэтому закрываем обращение.")
        assert [b["action"] for b in told["buttons"]] == ["rate"] * 5
    assert await gateway.queue.assigned(anna.id) == [owed]
    async with gateway.sessions() as session:
        statuses = {
            c.id: c.status
            for c in await session.scalars(
                select(Conversation).where(Conversation.id.in_([quiet, owed]))
            )
        }
        closing = await session.scalar(
            select(ConversationEvent).where(
                ConversationEvent.conversation_id == quiet,
                ConversationEvent.kind == EventKind.CLOSED,
            )
        )
    assert statuses == {quiet: ConversationStatus.CLOSED, owed: ConversationStatus.ASSIGNED}
    assert closing is not None and closing.data["by"] == "no_reply"
    assert closing.operator_id == anna.id
