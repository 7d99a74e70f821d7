"""The sender step: identities and clients found or made once per run, in real SQLite."""

from __future__ import annotations

from pipeline_parts import NOW, said
from sqlalchemy import func, select

from bot.pipeline.sender import find_senders
from core.contracts import ChannelKind
from core.db import SessionFactory
from core.models import Client, Identity


async def test_first_contact_makes_one_client_and_identity_per_sender(
    sessions: SessionFactory,
) -> None:
    run = [
        said("Привет", visitor="a"),
        said("Ещё вопрос", visitor="a"),
        said("Hello there", visitor="b", display_name="Bob"),
    ]
    async with sessions() as session:
        senders = await find_senders(session, run, NOW, "ru")
        await session.commit()
    async with sessions() as session:
        assert await session.scalar(select(func.count(Client.id))) == 2
        assert await session.scalar(select(func.count(Identity.id))) == 2
        languages = {
            external_id: language
            for external_id, language in await session.execute(
                select(Identity.external_id, Client.language).join(Client)
            )
        }
    assert languages == {"a": "ru", "b": "en"}
    assert senders.of(run[0], NOW).client is senders.of(run[1], NOW).client


async def test_a_known_sender_is_found_and_touched(sessions: SessionFactory) -> None:
    async with sessions() as session:
        await find_senders(session, [said("Добрый день", visitor="c")], NOW, "ru")
        await session.commit()
    later = said("Can you help?", visitor="c", display_name="Carol", chat_id="chat-9")
    async with sessions() as session:
        senders = await find_senders(session, [later], NOW, "ru")
        sender = senders.of(later, NOW)
        await session.commit()
    assert sender.language == "en"  # the message's own language
    assert sender.client.language == "ru"  # the client's stays as first seen
    async with sessions() as session:
        [identity] = await session.scalars(select(Identity))
    assert (identity.display_name, identity.chat_id, identity.channel) == (
        "Carol",
        "chat-9",
        ChannelKind.WEB,
    )


async def test_no_letters_falls_back_to_the_locale_then_the_desk(sessions: SessionFactory) -> None:
    run = [said("123", visitor="d", locale="en-US"), said("👍", visitor="e")]
    async with sessions() as session:
        senders = await find_senders(session, run, NOW, "ru")
        assert [senders.of(m, NOW).language for m in run] == ["en", "ru"]
