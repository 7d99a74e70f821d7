"""The store step: the client's message stored once, in real SQLite."""

from __future__ import annotations

from pipeline_parts import placed, said
from sqlalchemy import select

from bot.pipeline.store import already_stored
from core.contracts import Action, Attachment, AttachmentKind, ChannelKind
from core.db import SessionFactory
from core.models import Author, Direction, Message


async def test_the_message_is_stored_with_what_it_carried(sessions: SessionFactory) -> None:
    inbound = said(
        "Вот скриншот",
        action=Action.HANDOFF,
        attachments=(Attachment(AttachmentKind.PHOTO, "file-1"),),
    )
    async with sessions() as session:
        turn = await placed(session, inbound, store=True)
        await session.commit()
    async with sessions() as session:
        [message] = await session.scalars(select(Message))
    assert turn.message is not None and message.id == turn.message.id
    assert (message.conversation_id, message.direction, message.author) == (
        turn.placed.id,
        Direction.IN,
        Author.CLIENT,
    )
    assert message.text == "Вот скриншот" and message.action == Action.HANDOFF.value
    assert message.channel_message_id == inbound.platform_message_id
    assert [a["kind"] for a in message.attachments] == ["photo"]


async def test_a_stored_platform_id_is_reported_per_channel(sessions: SessionFactory) -> None:
    first = said("Раз", visitor="a")
    async with sessions() as session:
        await placed(session, first, store=True)
        await session.commit()
    again = said("Раз", visitor="a", platform_id=first.platform_message_id)
    same_id_elsewhere = said(
        "Раз", visitor="a", channel=ChannelKind.VK, platform_id=first.platform_message_id
    )
    fresh = said("Два", visitor="a")
    async with sessions() as session:
        stored = await already_stored(session, [again, same_id_elsewhere, fresh])
    assert stored == {(ChannelKind.WEB, first.external_user_id, first.platform_message_id)}
