"""The retention period against the database and the disk: the words and files of a
conversation closed and untouched past the period are erased, and it stays for the
reports; a recent or open one keeps everything; a file another message names stays."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select

from bot.retention import Retention
from core.contracts import ChannelKind
from core.db import SessionFactory
from core.models import (
    Author,
    Client,
    Conversation,
    ConversationStatus,
    Direction,
    Identity,
    KbMiss,
    Message,
    utcnow,
)

PERIOD = dt.timedelta(days=30)


async def test_conversations_past_the_period_lose_their_words_and_files(
    sessions: SessionFactory, tmp_path: Path
) -> None:
    now = utcnow()
    shared, own = tmp_path / "shared.png", tmp_path / "own.pdf"
    shared.write_bytes(b"picture")
    own.write_bytes(b"statement")
    cases = {  # name: (status, last touched, the file its client sent)
        "old": (ConversationStatus.CLOSED, now - PERIOD - dt.timedelta(days=1), own),
        "old, written to after an erasure": (ConversationStatus.CLOSED, now - 2 * PERIOD, None),
        "old, same picture": (ConversationStatus.CLOSED, now - 2 * PERIOD, shared),
        "recent": (ConversationStatus.CLOSED, now - PERIOD + dt.timedelta(hours=1), shared),
        "open": (ConversationStatus.QUEUED, now - 3 * PERIOD, None),
    }
    ids: dict[str, int] = {}
    async with sessions() as session, session.begin():
        client = Client(display_name="Инна")
        session.add(client)
        await session.flush()
        identity = Identity(client_id=client.id, channel=ChannelKind.TELEGRAM, external_id="77")
        session.add(identity)
        await session.flush()
        for name, (status, touched, file) in cases.items():
            conversation = Conversation(
                client_id=client.id,
                identity_id=identity.id,
                last_identity_id=identity.id,
                last_channel=ChannelKind.TELEGRAM,
                status=status,
                subject=f"тема: {name}",
                created_at=touched,
                updated_at=touched,
                erased_at=touched - PERIOD if "after an erasure" in name else None,
            )
            session.add(conversation)
            await session.flush()
            ids[name] = conversation.id
            attachments = [{"kind": "document", "stored_path": str(file)}] if file else []
            session.add_all(
                [
                    Message(
                        conversation_id=conversation.id,
                        identity_id=identity.id,
                        channel=ChannelKind.TELEGRAM,
                        direction=Direction.IN,
                        author=Author.CLIENT,
                        text=f"мой номер счёта 40817 ({name})",
                        attachments=attachments,
                    ),
                    Message(
                        conversation_id=conversation.id,
                        channel=ChannelKind.TELEGRAM,
                        direction=Direction.OUT,
                        author=Author.OPERATOR,
                        text="Инна, проверили ваш счёт",
                    ),
                    KbMiss(conversation_id=conversation.id, question=f"счёт 40817 ({name})"),
                ]
            )
    retention = Retention(sessions, PERIOD, utcnow)
    assert await retention.erase_expired() == 3
    assert await retention.erase_expired() == 0  # erased once

    async with sessions() as session:
        for name, conversation_id in ids.items():
            kept = await session.get(Conversation, conversation_id)
            assert kept is not None  # it stays, for the reports
            texts = set(
                await session.scalars(
                    select(Message.text).where(Message.conversation_id == conversation_id)
                )
            )
            misses = list(
                await session.scalars(
                    select(KbMiss).where(KbMiss.conversation_id == conversation_id)
                )
            )
            if name.startswith("old"):
                assert texts == {""} and not misses and kept.subject is None, name
                assert kept.erased_at is not None and kept.erased_at > kept.updated_at
            else:
                assert "" not in texts and len(misses) == 1 and kept.subject, name
                assert kept.erased_at is None
    assert not own.exists()
    assert shared.read_bytes() == b"picture"  # the recent conversation still names it
