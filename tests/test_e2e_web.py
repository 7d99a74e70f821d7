"""The whole flow over the real sockets: a visitor on the web chat, an operator on the console,
the real gateway (sample KB, Redis queue, database) between them."""

from __future__ import annotations

from sqlalchemy import func, select
from web_client import Console, Visitor, signed_in

from core.contracts import ChannelKind
from core.models import Author, Conversation, ConversationStatus, Direction, Message
from switchboard.app import Gateway


async def conversation_of(gateway: Gateway, visitor: Visitor) -> Conversation:
    async with gateway.sessions() as session:
        conversation = await session.scalar(
            select(Conversation)
            .join(Message, Message.conversation_id == Conversation.id)
            .where(
                Message.channel == ChannelKind.WEB,
                Message.channel_message_id.startswith(visitor.visitor_id + ":"),
            )
            .order_by(Conversation.id.desc())
            .limit(1)
        )
    assert conversation is not None
    return conversation


async def test_kb_answer_then_operator_reply_then_close_and_rating(
    gateway: Gateway, served: str
) -> None:
    async with Visitor(served) as visitor:
        since = visitor.ws.mark()
        asked = await visitor.say("Я потерял карту, что делать?")
        await visitor.acked(asked, since)
        answer = await visitor.reply(since=since, author="bot")
        article = gateway.knowledge.index.article("card-lost")
        assert article is not None and answer["text"] == article.answer
        assert any(b["action"] == "handoff" for b in answer["buttons"])

        since = visitor.ws.mark()
        await visitor.say("Почему мой кот боится пылесоса и как его успокоить?")
        told = await visitor.reply(since=since, containing="очеред")
        assert "оператор" in told["text"]
        conversation = await conversation_of(gateway, visitor)
        assert conversation.status is ConversationStatus.QUEUED
        assert [e.conversation_id for e in await gateway.queue.waiting()] == [conversation.id]

        async with Console(served, await signed_in(gateway, "Anna")) as console:
            queue = await console.ws.expect(lambda f: f["type"] == "queue")
            assert len(queue["rows"]) == 1, await gateway.queue.waiting()
            [row] = queue["rows"]
            assert row["conversation_id"] == conversation.id and row["channel"] == "web"
            assert "кот" in row["preview"]

            taken = await console.command("take", "conversation", conversation_id=conversation.id)
            assert taken["conversation"]["status"] == "assigned" and taken["conversation"]["mine"]
            assert [
                m["text"] for m in taken["conversation"]["messages"] if m["author"] == "client"
            ][-1].startswith("Почему мой кот")
            assert await gateway.queue.waiting() == []

            since = visitor.ws.mark()
            answer_text = "Здравствуйте! Попробуйте включать пылесос в другой комнате."
            await console.command(
                "reply", "conversation", conversation_id=conversation.id, text=answer_text
            )
            reply = await visitor.reply(since=since, author="operator")
            assert reply["text"] == answer_text

            # the visitor answers; the operator's open conversation is refreshed live
            since_console = console.ws.mark()
            await visitor.say("Спасибо, попробую")
            refreshed = await console.ws.expect(
                lambda f: (
                    f["type"] == "conversation"
                    and f["conversation"]["messages"][-1]["text"] == "Спасибо, попробую"
                ),
                since=since_console,
            )
            assert refreshed["conversation"]["id"] == conversation.id

            since, since_console = visitor.ws.mark(), console.ws.mark()
            closed = await console.command("close", "conversation", conversation_id=conversation.id)
            assert closed["conversation"]["status"] == "closed"
            rating = await visitor.reply(since=since, author="bot")
            assert [b["payload"] for b in rating["buttons"]] == [
                f"{conversation.id}:{n}" for n in range(1, 6)
            ]
            await console.ws.expect(  # the desk's own notice of the close has been shown
                lambda f: (
                    f["type"] == "conversation"
                    and f.get("live") is True
                    and f["conversation"]["status"] == "closed"
                ),
                since=since_console,
            )
            stored = await conversation_of(gateway, visitor)
            assert stored.status is ConversationStatus.CLOSED and stored.resolved_at is not None
            assert stored.first_response_at is not None

            # the client's rating reaches the console showing the closed conversation
            since, since_console = visitor.ws.mark(), console.ws.mark()
            await visitor.press("rate", f"{conversation.id}:5")
            await visitor.reply(since=since, containing="оценк")
            assert (await conversation_of(gateway, visitor)).rating == 5
            await console.ws.expect(
                lambda f: f["type"] == "conversation" and f["conversation"]["rating"] == 5,
                since=since_console,
            )


async def test_the_same_message_id_twice_is_stored_and_answered_once(
    gateway: Gateway, served: str
) -> None:
    async with Visitor(served) as visitor:
        since = visitor.ws.mark()
        await visitor.say("Я потерял карту, что делать?", message_id="same-id-1")
        await visitor.acked("same-id-1", since)
        await visitor.reply(since=since, author="bot")
        # the page resends after a reconnect: the second copy is acknowledged, not processed
        await visitor.connect()
        since = visitor.ws.mark()
        await visitor.say("Я потерял карту, что делать?", message_id="same-id-1")
        await visitor.acked("same-id-1", since)
        await gateway.outbox.drain()

    async with gateway.sessions() as session:
        incoming = await session.scalar(
            select(func.count(Message.id)).where(
                Message.direction == Direction.IN, Message.channel == ChannelKind.WEB
            )
        )
        answers = await session.scalar(
            select(func.count(Message.id)).where(Message.author == Author.BOT)
        )
    assert (incoming, answers) == (1, 1)
    assert not [f for f in visitor.ws.frames[since:] if f["type"] == "message"]
